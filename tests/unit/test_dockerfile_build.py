"""Pure logic around builds: the engine's JSON stream, host wheels' platforms, labels of notebooks."""

from __future__ import annotations

from collections import deque

import pytest

from envkit.build import notebook_label
from envkit.build.hostwheels import target_platforms
from envkit.engine.images import _BuildState, _Failure, _handle
from envkit.events import Log, Note, Step, Transfer
from envkit.plan import BuildOptions, has_credentials, redact
from envkit.spec import EnvSpec, Requirement


def spec(*reqs: str) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs))


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
