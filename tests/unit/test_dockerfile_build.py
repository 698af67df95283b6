"""Pure logic around builds: tags, the package a failure blames (the engine's stream: test_engine_stream)."""

from __future__ import annotations

import pytest

from envkit.build import BuildOptions, image_tags, package_at_fault
from envkit.dockerfile import build_key, has_credentials, options_key
from envkit.hostwheels import _redact, target_platforms
from envkit.spec import EnvSpec, Requirement


def spec(*reqs: str) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs))


def test_tags_readable_and_content():
    s = spec("six")
    assert image_tags(s, "/x/My Analysis (v2).ipynb", BuildOptions()) == (
        "envkit/my-analysis-v2:latest", f"envkit/my-analysis-v2:{s.digest()[7:19]}")
    assert image_tags(s, "a.ipynb", BuildOptions(tag="team/env:v1")) == ("team/env:v1", f"team/env:{s.digest()[7:19]}")
    assert image_tags(s, "a.ipynb", BuildOptions(tag="registry:5000/env")) == (
        "registry:5000/env:latest", f"registry:5000/env:{s.digest()[7:19]}")


def test_build_key_covers_options_but_not_the_notebook():
    s = spec("six")
    assert build_key(s, BuildOptions()) == build_key(s, BuildOptions(tag="other", use_lock=False))
    assert build_key(s, BuildOptions()) != build_key(s, BuildOptions(uid=1001))
    assert build_key(s, BuildOptions()) != build_key(s, BuildOptions(base_image="ubuntu:24.04"))
    assert build_key(s, BuildOptions()) != build_key(spec("six", "idna"), BuildOptions())
    assert options_key(s, BuildOptions()) == options_key(spec("six", "idna"), BuildOptions())


@pytest.mark.parametrize(("lines", "expected"), [
    (["  cause: Because nosuchpkg-x was not found in the package registry and you require nosuchpkg-x, we can"],
     "nosuchpkg-x"),
    (["Because there is no version of six==99.0 and you require six==99.0, we can conclude ..."], "six"),
    (["ERROR: No matching distribution found for Idna==0.1"], "idna"),
    (["  × Failed to build `pyyaml==5.3`", "  ╰─▶ gcc failed"], "pyyaml"),
    (["something unrelated failed"], None),
])
def test_package_at_fault(lines, expected):
    assert package_at_fault(lines, spec("six", "idna", "pyyaml", "nosuchpkg-x")) == expected


def test_package_at_fault_prefers_the_spec_over_dependencies():
    lines = ["Because only urllib3<1 is available and requests==2.0 depends on urllib3>=2, requests==2.0 cannot be used."]
    assert package_at_fault(lines, spec("requests==2.0")) == "requests"


def test_credentials_detected_and_redacted():
    assert has_credentials("https://u:p@host/simple") and has_credentials("https://token@host/simple")
    assert not has_credentials("https://host/simple")
    assert _redact("Looking in indexes: https://u:secret@host/simple") == "Looking in indexes: https://***@host/simple"


def test_target_platforms_follow_the_option():
    assert "manylinux2014_aarch64" in target_platforms(BuildOptions(platform="linux/arm64"))
    assert all(t.endswith("x86_64") for t in target_platforms(BuildOptions(platform="linux/amd64")))


def test_notebook_label_hides_the_home_folder(tmp_path, monkeypatch):
    from envkit.build import notebook_label

    home = tmp_path / "home" / "alice"
    (home / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert notebook_label(home / "proj" / "a.ipynb") == "~/proj/a.ipynb"
    assert notebook_label(tmp_path / "b.ipynb") == (tmp_path / "b.ipynb").resolve().as_posix()
