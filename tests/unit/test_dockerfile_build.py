"""Pure logic around builds: host wheels' platforms, labels of notebooks (the engine's stream: test_engine_stream)."""

from __future__ import annotations

from envkit.build import notebook_label
from envkit.build.hostwheels import target_platforms
from envkit.plan import BuildOptions, has_credentials, redact
from envkit.spec import EnvSpec, Requirement


def spec(*reqs: str) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs))


def test_credentials_detected_and_redacted():
    assert has_credentials("https://u:p@host/simple") and has_credentials("https://token@host/simple")
    assert not has_credentials("https://host/simple")
    assert redact("Looking in indexes: https://u:secret@host/simple") == "Looking in indexes: https://***@host/simple"


def test_target_platforms_follow_the_option_else_the_engine():
    assert "manylinux2014_aarch64" in target_platforms(BuildOptions(platform="linux/arm64"))
    assert all(t.endswith("x86_64") for t in target_platforms(BuildOptions(platform="linux/amd64"), "aarch64"))
    # No --platform: the engine's machine (an Apple Silicon Mac's engine runs aarch64), not the host's.
    assert all(t.endswith("aarch64") for t in target_platforms(BuildOptions(), "aarch64"))
    assert target_platforms(BuildOptions(), "aarch64")[0] == "manylinux_2_36_aarch64"


def test_notebook_label_hides_the_home_folder(tmp_path, monkeypatch):
    home = tmp_path / "home" / "alice"
    (home / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert notebook_label(home / "proj" / "a.ipynb") == "~/proj/a.ipynb"
    assert notebook_label(tmp_path / "b.ipynb") == (tmp_path / "b.ipynb").resolve().as_posix()
