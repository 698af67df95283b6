"""EnvSpec, Lock and their canonical JSON and digests."""

from __future__ import annotations

import pytest

from envkit.errors import NotebookError, PackageError
from envkit.spec import EnvkitMetadata, EnvSpec, Lock, Pin, Requirement, Source, Unresolved


def spec(*reqs: str, **kw) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs), **kw)


def test_requirement_names_are_normalised_and_round_trip():
    r = Requirement.parse("Scikit_Learn[plot,Alldeps]>=1.2; python_version >= '3.9'")
    assert r.name == "scikit-learn"
    assert r.pep508() == 'scikit-learn[alldeps,plot]>=1.2; python_version >= "3.9"'
    assert Requirement.parse(r.pep508()).identity() == r.identity()
    assert Requirement.from_json(r.to_json()) == r


def test_url_requirements_keep_their_url():
    r = Requirement.parse("pkg @ https://example.invalid/pkg-1.0.tar.gz")
    assert r.url.endswith("pkg-1.0.tar.gz") and r.pep508() == "pkg @ https://example.invalid/pkg-1.0.tar.gz"


def test_invalid_requirement_names_the_text():
    with pytest.raises(PackageError, match="pandas>>2"):
        Requirement.parse("pandas>>2")


def test_digest_ignores_where_a_need_was_seen_and_order():
    a = EnvSpec(python="3.11", requirements=(
        Requirement.parse("numpy", sources=(Source(kind="import", text="import numpy", cell=1),)),
        Requirement.parse("pandas>=2"),
    ))
    b = EnvSpec(python="3.11", requirements=(
        Requirement.parse("pandas>=2", sources=(Source(kind="install", text="%pip install pandas>=2", cell=9),)),
        Requirement.parse("numpy"),
    ), unresolved=(Unresolved(module="foo", reason="unknown"),))
    assert a.digest() == b.digest()


@pytest.mark.parametrize("change", [
    {"python": "3.12"},
    {"requirements": (Requirement.parse("numpy<2"),)},
    {"system_packages": ("graphviz",)},
    {"base_image": "python:3.11-slim"},
])
def test_digest_changes_with_what_changes_the_image(change):
    base = spec("numpy")
    assert base.with_changes(**change).digest() != base.digest()


def test_spec_json_round_trip_is_canonical():
    s = spec("pandas>=2", "numpy", system_packages=("libgl1", "graphviz", "libgl1"))
    assert s.system_packages == ("graphviz", "libgl1")
    assert EnvSpec.from_json(s.to_json()) == s
    assert [r.name for r in s.requirements] == ["numpy", "pandas"]


def test_lock_requirements_txt_uses_hashes_only_when_all_pins_have_them():
    hashed = Pin(name="six", version="1.16.0", hashes=("sha256:" + "a" * 64,))
    plain = Pin(name="idna", version="3.7")
    assert "--hash=sha256:" in Lock(spec_digest="x", python="3.11.7", packages=(hashed,)).requirements_txt()
    mixed = Lock(spec_digest="x", python="3.11.7", packages=(hashed, plain)).requirements_txt()
    assert "--hash" not in mixed and mixed.splitlines() == ["idna==3.7", "six==1.16.0"]


def test_metadata_round_trip_keeps_unknown_keys_and_checks_schema():
    meta = EnvkitMetadata(spec=spec("numpy"), lock=Lock(spec_digest=spec("numpy").digest(), python="3.11.7",
                                                        packages=(Pin(name="numpy", version="2.0.0"),)),
                          extra={"future_key": 1})
    data = meta.to_json()
    assert data["schema"] == 1 and data["spec_digest"] == meta.spec.digest()
    assert EnvkitMetadata.from_json(data) == meta
    with pytest.raises(NotebookError, match="schema"):
        EnvkitMetadata.from_json({**data, "schema": 99})
