"""A fresh capture merged with the spec stored in the notebook (``merge_stored``): the spec follows the code."""

from __future__ import annotations

from envkit.capture.merge import merge_stored
from envkit.spec import EnvSpec, Requirement, Source


def _imp(cell: int, name: str) -> Source:
    return Source(kind="import", text=f"import {name}", cell=cell)


def _req(name: str, specifier: str = "", *, cell: int = 1, kind: str = "import") -> Requirement:
    sources = (_imp(cell, name),) if kind == "import" else (
        _imp(cell, name), Source(kind=kind, text=f"{name}{specifier}", cell=cell))
    return Requirement(name=name, specifier=specifier, sources=sources)


def _spec(*reqs: Requirement, python: str = "3.11", base: str = "") -> EnvSpec:
    return EnvSpec(python=python, requirements=reqs, base_image=base)


def test_unchanged_gives_the_stored_spec_and_no_message() -> None:
    stored = _spec(_req("requests"), base="envkit-test-base:bookworm")
    out = merge_stored(stored, _spec(_req("requests"), python="3.12"))
    assert out.spec.digest() == stored.digest()  # the stored base image and Python are kept
    assert out.changes == () and out.line() == ""


def test_an_added_import_is_added_and_named_with_its_cell() -> None:
    out = merge_stored(_spec(_req("requests")), _spec(_req("requests"), _req("attrs", cell=7)))
    assert out.spec.requirement("attrs") is not None
    assert out.line() == "the notebook changed: + attrs (cell 7)"


def test_a_removed_import_is_dropped_but_a_manual_one_stays() -> None:
    manual = Requirement(name="tqdm", sources=(Source(kind="manual", text="%pip install tqdm"),))
    out = merge_stored(_spec(_req("requests"), _req("attrs"), manual), _spec(_req("attrs")))
    assert out.spec.requirement("requests") is None and out.spec.requirement("tqdm") is not None
    assert out.changes == ("- requests",)
    # a requirement with no source was not captured: someone put it there, it stays
    by_hand = Requirement(name="idna")
    assert merge_stored(_spec(by_hand), _spec(_req("attrs"))).spec.requirement("idna") == by_hand


def test_an_explicit_pin_survives_a_bare_import() -> None:
    stored = _spec(_req("pandas", ">=2", kind="install"))
    out = merge_stored(stored, _spec(_req("pandas", cell=3)))
    assert out.spec.requirement("pandas").specifier == ">=2"
    assert out.changes == ()
    # a changed install line is the author's new choice
    out = merge_stored(stored, _spec(_req("pandas", ">=3", kind="install")))
    assert out.spec.requirement("pandas").specifier == ">=3"
    assert out.changes == ("~ pandas >=2 → >=3",)


def test_a_live_pin_survives_a_static_capture_it_still_satisfies() -> None:
    stored = _spec(_req("requests", "==2.32.3", kind="live"))
    assert merge_stored(stored, _spec(_req("requests"))).spec.requirement("requests").specifier == "==2.32.3"
    out = merge_stored(stored, _spec(_req("requests", ">=2.30", kind="install")))
    assert out.spec.requirement("requests").specifier == "==2.32.3" and out.changes == ()
    out = merge_stored(stored, _spec(_req("requests", ">=2.33", kind="install")))
    assert out.spec.requirement("requests").specifier == ">=2.33"


def test_a_fresh_live_pin_and_the_kernels_python_win() -> None:
    stored = _spec(_req("requests", "==2.31.0", kind="live"), python="3.11")
    fresh = _spec(_req("requests", "==2.32.3", kind="live"), python="3.12")
    out = merge_stored(stored, fresh, live=True)
    assert out.spec.requirement("requests").specifier == "==2.32.3" and out.spec.python == "3.12"
    assert out.changes == ("~ requests ==2.31.0 → ==2.32.3", "python 3.11 → 3.12")


def test_no_stored_spec_is_the_fresh_capture() -> None:
    fresh = _spec(_req("attrs"))
    assert merge_stored(None, fresh).spec == fresh and merge_stored(None, fresh).changes == ()
