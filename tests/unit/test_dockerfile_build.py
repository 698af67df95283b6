"""Pure logic around builds: tags, the package a failure blames, the engine's JSON stream."""

from __future__ import annotations

from collections import deque

import pytest

from envkit.build import BuildOptions, image_tags, package_at_fault
from envkit.dockerfile import build_key, has_credentials, options_key
from envkit.engine.images import _BuildState, _Failure, _handle
from envkit.events import Log, Note, Step, Transfer
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


def test_stream_becomes_events():
    events: list = []
    state = _BuildState(tail=deque(maxlen=20))
    for chunk in [
        {"status": "Pulling fs layer", "id": "abc", "progressDetail": {"current": 5, "total": 10}},
        {"stream": "Step 1/3 : FROM base\n"},
        {"stream": " ---> 1234abcd\n"},
        {"stream": "Step 2/3 : RUN echo hi\n"},
        {"stream": " ---> Using cache\n"},
        {"stream": "Step 3/3 : RUN make\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "\x1b[91mcompiling\n\x1b[0m"},
        {"aux": {"ID": "sha256:feed"}},
    ]:
        _handle(chunk, state, events.append)
    assert [e.n for e in events if isinstance(e, Step)] == [1, 2, 3]
    assert events[0] == Transfer(id="abc", status="Pulling fs layer", current=5, total=10)
    assert Log(line="compiling") in events
    assert state.container == "0123456789ab" and state.image_id == "sha256:feed"
    assert state.cached == ["2"]
    assert list(state.tail) == ["compiling"]  # the current step's own output, no builder noise
    assert not [e for e in events if isinstance(e, Note)]


def test_a_line_sent_in_pieces_is_one_log_event():
    from envkit.engine.images import _flush

    events: list = []
    state = _BuildState(tail=deque(maxlen=20))
    for piece in [" + ", "idna", "==", "3.10\n + six==1.16", ".0"]:
        _handle({"stream": piece}, state, events.append)
    _flush(state, events.append)
    assert [e.line for e in events if isinstance(e, Log)] == [" + idna==3.10", " + six==1.16.0"]


def test_in_band_error_raises():
    state = _BuildState(tail=deque(maxlen=20))
    with pytest.raises(_Failure, match="returned a non-zero code"):
        _handle({"errorDetail": {"message": "x"}, "error": "The command returned a non-zero code: 1"}, state, None)


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
