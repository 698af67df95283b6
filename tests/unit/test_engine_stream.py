"""The engine's streamed JSON (build, push, pull, load), read by one parser; a build's events."""

from __future__ import annotations

import pytest

from envkit.engine import stream
from envkit.engine.images import _BuildState, _follow, image_info, split_reference
from envkit.events import Log, Note, Step, Transfer


def read_all(chunks: list[dict]) -> tuple[list, list]:
    events: list = []
    return list(stream.read(chunks, events.append)), events


def test_lines_sent_in_pieces_come_out_whole_and_clean():
    messages, events = read_all([{"stream": p} for p in [" + ", "idna", "==", "3.10\n + six==1.16", ".0\n"]]
                                + [{"stream": "\x1b[91mcompiling\n\x1b[0m"}, {"stream": "\n  \n"}])
    assert messages == [stream.Output(" + idna==3.10"), stream.Output(" + six==1.16.0"), stream.Output("compiling")]
    assert events == []  # output lines are the caller's to render


def test_status_with_an_id_is_a_transfer_without_one_a_log_and_aux_is_passed_on():
    messages, events = read_all([
        {"status": "Pushing", "id": "abc", "progressDetail": {"current": 5, "total": 10}},
        {"status": "latest: digest: sha256:1 size: 2"},
        {"progressDetail": {}, "aux": {"Tag": "latest", "Digest": "sha256:1"}},
    ])
    assert events == [Transfer(id="abc", status="Pushing", current=5, total=10),
                      Log(line="latest: digest: sha256:1 size: 2")]
    assert messages == [stream.Status(id="abc", text="Pushing"), stream.Status(id="", text="latest: digest: sha256:1 size: 2"),
                        stream.Aux({"Tag": "latest", "Digest": "sha256:1"})]


def test_a_last_line_without_a_newline_still_comes_out():
    assert list(stream.read([{"stream": "Loaded image: a:v1"}])) == [stream.Output("Loaded image: a:v1")]


def test_an_in_band_error_comes_after_the_output_before_it():
    seen = []
    with pytest.raises(stream.InBandError, match="returned a non-zero code: 1"):
        for message in stream.read([{"stream": "ERROR: no such package"},
                                    {"errorDetail": {"message": "x"}, "error": "The command returned a non-zero code: 1"}]):
            seen.append(message)
    assert seen == [stream.Output("ERROR: no such package")]
    with pytest.raises(stream.InBandError, match="only the detail"):
        list(stream.read([{"errorDetail": {"message": "only the detail"}}]))


def test_a_build_stream_becomes_steps_logs_and_state():
    events: list = []
    state = _BuildState()
    _follow([
        {"status": "Pulling fs layer", "id": "abc", "progressDetail": {"current": 5, "total": 10}},
        {"stream": "Step 1/3 : FROM base\n"},
        {"stream": " ---> 1234abcd\n"},
        {"stream": "Step 2/3 : RUN echo hi\n"},
        {"stream": " ---> Using cache\n"},
        {"stream": "Step 3/3 : RUN make\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "\x1b[91mcompiling\n\x1b[0m"},
        {"aux": {"ID": "sha256:feed"}},
    ], state, events.append)
    assert [e.n for e in events if isinstance(e, Step)] == [1, 2, 3]
    assert events[0] == Transfer(id="abc", status="Pulling fs layer", current=5, total=10)
    assert Log(line="compiling") in events
    assert state.container == "0123456789ab" and state.image_id == "sha256:feed"
    assert state.cached == ["2"]
    assert list(state.tail) == ["compiling"]  # the current step's own output, no builder noise
    assert not [e for e in events if isinstance(e, Note)]


def test_a_failed_build_keeps_the_failing_steps_tail():
    state = _BuildState()
    with pytest.raises(stream.InBandError):
        _follow([{"stream": "Step 1/1 : RUN pip install nosuch\n"}, {"stream": "ERROR: No matching distribution"},
                 {"error": "The command returned a non-zero code: 1"}], state, None)
    assert state.step == "Step 1/1 : RUN pip install nosuch"
    assert list(state.tail) == ["ERROR: No matching distribution"]


def test_one_image_info_from_a_listing_and_from_inspect():
    listed = image_info({"Id": "sha256:a", "RepoTags": ["<none>:<none>"], "RepoDigests": ["r/a@sha256:b"],
                         "Labels": {"dev.envkit": "1"}, "Size": 7, "Created": 1700000000})
    assert (listed.tags, listed.repo_digests, listed.labels, listed.size, listed.created) == (
        (), ("r/a@sha256:b",), {"dev.envkit": "1"}, 7, 1700000000.0)
    inspected = image_info({"Id": "sha256:a", "RepoTags": ["r/a:v1"], "Size": 7,
                            "Created": "2023-11-14T22:13:20.123456789Z",
                            "Config": {"Labels": {"x": "y"}, "User": "envkit", "Env": ["PYTHON_VERSION=3.11.2", "A"]}})
    assert inspected.tags == ("r/a:v1",) and inspected.labels == {"x": "y"}
    assert inspected.user == "envkit" and inspected.env == {"PYTHON_VERSION": "3.11.2"}
    assert int(inspected.created) == 1700000000


def test_references_split_into_repository_tag_and_digest():
    assert split_reference("localhost:5000/a") == ("localhost:5000/a", None, None)
    assert split_reference("a:v1@sha256:" + "0" * 64) == ("a", "v1", "sha256:" + "0" * 64)
