"""Live capture: versions from installed metadata for loaded modules, PEP 610 flagged, merge rule."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from envkit.capture.live import live_versions
from envkit.capture.merge import merge_live
from envkit.spec import EnvSpec, Requirement, Source


def _spec() -> EnvSpec:
    src = Source(kind="import", text="import x", cell=1)
    return EnvSpec(python="3.9", requirements=(
        Requirement(name="packaging", specifier=">=20", sources=(src,)),
        Requirement(name="requests", sources=(src,)),
        Requirement(name="envkit", sources=(src,)),
        Requirement(name="static-guess", sources=(src,)),
    ))


def test_pins_only_loaded_modules_with_metadata_versions() -> None:
    loaded = {"packaging": object(), "envkit": object(), "tomllib": object()}
    live = live_versions(_spec(), loaded, imports={"static-guess": ("packaging",)})
    assert live.python == platform.python_version()
    pin = live.pin_for("packaging")
    assert pin is not None and pin.version == metadata.version("packaging")
    assert "requests" in live.not_loaded  # installed, but the kernel has not imported it
    # the kernel loaded the guessed module from another distribution: that one stands in
    assert live.pin_for("static-guess").name == "packaging"


def test_direct_url_installs_are_flagged_not_pinned() -> None:
    live = live_versions(_spec(), {"envkit": object()})
    pin = live.pin_for("envkit")
    # this checkout is installed editable (PEP 610 dir_info), which an index cannot reproduce
    assert pin is not None and pin.editable and pin.direct.startswith("file://")
    merged = merge_live(_spec(), live)
    envkit = merged.requirement("envkit")
    assert envkit.direct == pin.direct and envkit.specifier == ""


def test_merge_rule_live_pins_explicit_and_keeps_the_rest() -> None:
    spec = _spec()
    live = live_versions(spec, {"packaging": object()})
    merged = merge_live(spec, live)
    packaging = merged.requirement("packaging")
    assert packaging.specifier == f"=={metadata.version('packaging')}"  # live beats ">=20"
    assert packaging.sources[-1].kind == "live"
    assert merged.requirement("requests").specifier == ""  # not loaded: static stays
    assert merged.python == ".".join(platform.python_version().split(".")[:2])


def test_live_in_a_real_capture(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from envkit.capture import capture_notebook

    nbformat.write(new_notebook(cells=[new_code_cell("%pip install 'packaging>=1'\nimport packaging.version")]),
                   tmp_path / "a.ipynb")
    result = capture_notebook(tmp_path / "a.ipynb")
    assert result.module_map()["packaging"] == ("packaging",)
    live = live_versions(result.spec, imports=result.module_map())  # this process has packaging loaded
    merged = merge_live(result.spec, live)
    assert merged.requirement("packaging").specifier == f"=={metadata.version('packaging')}"


def test_live_versions_as_a_lock() -> None:
    spec = _spec()
    live = live_versions(spec, {"packaging": object(), "envkit": object()})
    lock = live.to_lock(merge_live(spec, live))
    assert lock.source == "kernel" and lock.python == platform.python_version()
    assert lock.pin("packaging").version == metadata.version("packaging")
    assert lock.pin("envkit").url.startswith("file://")  # a direct install is not an index pin
