"""Probes of issue 10 that need no engine: each asserts one clear line, the exit code, the notebook unchanged.

The table "probe → test" in docs/faults.md points here and at the integration tests.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.notebooks import notebook_with_record

from envkit.engine import translated
from envkit.errors import EngineGone, EngineUnavailable
from envkit.notebook import atomic_write_text

DEAD_ENGINE = "unix:///nonexistent/envkit-fault-probes.sock"


def _envkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envkit", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ENVKIT_DEBUG": "", "DOCKER_HOST": DEAD_ENGINE})


@pytest.mark.parametrize("command", [("build",), ("run",), ("kernel", "install")])
@pytest.mark.parametrize(("record", "found"), [([1, 2], "a list"), ("x", "a string")])
def test_metadata_envkit_that_is_not_an_object_is_one_line_in_every_command(tmp_path, command, record, found):
    # Refused before the engine is asked anything (DOCKER_HOST names no engine at all).
    nb = tmp_path / "nb.ipynb"
    before = notebook_with_record(nb, record)
    proc = _envkit(*command, str(nb))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("envkit: ")]
    assert errors == [f"envkit: {nb}: metadata.envkit: expected an object, found {found}"], proc.stderr
    assert f"hint: run 'envkit capture --write {nb}'" in proc.stderr
    assert nb.read_bytes() == before


def test_a_connection_broken_mid_answer_is_engine_gone_naming_the_step():
    from urllib3.exceptions import ProtocolError

    broken = ProtocolError("Connection broken: IncompleteRead(0 bytes read)", ConnectionResetError())
    with pytest.raises(EngineGone) as caught, translated("building envkit/x:latest"):
        raise broken
    assert str(caught.value).startswith("the container engine at ")
    assert str(caught.value).endswith(" stopped answering during building envkit/x:latest")
    assert "\n" not in str(caught.value)  # one line, no hint


def test_an_engine_never_reached_is_not_called_gone():
    unreachable = EngineUnavailable("no container engine answered at unix:///x: nothing is listening there")
    with pytest.raises(EngineUnavailable) as caught, translated("listing containers"):
        raise unreachable
    assert caught.value is unreachable


@pytest.mark.parametrize("fault", [KeyboardInterrupt, SystemExit, OSError])
def test_a_write_interrupted_midway_leaves_no_temp_file_and_the_notebook_as_it_was(tmp_path, fault):
    nb = tmp_path / "big.ipynb"
    nb.write_text('{"old": true}\n')
    before = set(tmp_path.iterdir())

    real_write = os.write

    def interrupted_write(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))  # half of it reaches the temp file, then the fault
        raise fault()

    os.write = interrupted_write
    try:
        with pytest.raises(fault):
            atomic_write_text(nb, "x" * 15_000_000)
    finally:
        os.write = real_write
    assert set(tmp_path.iterdir()) == before
    assert nb.read_text() == '{"old": true}\n'


def test_builder_containers_are_noted_until_their_build_ends_or_is_dropped(tmp_path, monkeypatch):
    from envkit import engine
    from envkit.engine import leftovers

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)
    engine.reset()
    url = DEAD_ENGINE
    leftovers.note(url, "a" * 64)
    leftovers.note(url, "b" * 64)
    folder = next((tmp_path / "envkit" / "builds").iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["a" * 64, "b" * 64]
    leftovers.forget(url, ["a" * 64])  # ended while the engine answered: the engine removed it
    leftovers.abandon(url, ["b" * 64])  # dropped: for the next sweep
    assert [p.name for p in folder.iterdir()] == ["b" * 64]
    assert (folder / ("b" * 64)).read_text() == leftovers.ABANDONED
    # The engine is still away: the record stays for the next sweep, and the sweep raises nothing.
    assert leftovers.sweep(url) == []
    assert [p.name for p in folder.iterdir()] == ["b" * 64]
    engine.reset()


def test_a_running_build_of_a_live_process_is_never_swept(tmp_path, monkeypatch):
    from envkit.engine import leftovers

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    leftovers.note(DEAD_ENGINE, "c" * 64)  # this process lives: its build may still run
    assert leftovers.sweep(DEAD_ENGINE) == []
    assert len(list((tmp_path / "envkit" / "builds").rglob("c" * 64))) == 1
