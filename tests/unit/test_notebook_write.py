"""Writing envkit's record into a notebook file: compare-and-swap, refusal in one line, no litter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from envkit import atomic
from envkit.notebook import NotebookChanged, read_notebook, update_envkit
from envkit.spec import EnvSpec, Requirement

ROOT = Path(__file__).resolve().parents[2]
SPEC = EnvSpec(python="3.11", requirements=(Requirement.parse("requests"),))


def notebook(path: Path, *cells: str) -> Path:
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), path)
    return path


def litter(folder: Path) -> list[str]:
    """envkit's temporary and lock files left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if ".envkit-" in p.name)


def users_save(path: Path, source: str) -> bytes:
    """Another program saves the notebook with one more cell (as an editor would)."""
    nb = json.loads(path.read_text())
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "users-save", "metadata": {},
                        "outputs": [], "source": source})
    data = (json.dumps(nb, indent=1) + "\n").encode()
    path.write_bytes(data)
    return data


def test_an_unchanged_file_gets_the_record_and_keeps_its_mode(tmp_path):
    nb = notebook(tmp_path / "a.ipynb", "import requests")
    os.chmod(nb, 0o640)
    update_envkit(nb, spec=SPEC)
    assert read_notebook(nb).envkit().spec == SPEC
    assert [c.source for c in read_notebook(nb).code_cells()] == ["import requests"]
    assert os.stat(nb).st_mode & 0o777 == 0o640
    assert litter(tmp_path) == []


def test_a_save_after_envkits_read_is_kept_and_the_write_refused_in_one_line(tmp_path):
    nb = notebook(tmp_path / "a.ipynb", "import requests")
    read = read_notebook(nb)
    saved = users_save(nb, "import attrs  # saved by the user")
    with pytest.raises(NotebookChanged) as info:
        update_envkit(nb, expected=read, spec=SPEC)
    message = str(info.value)
    assert "\n" not in message
    assert str(nb) in message and "nothing was written" in message and "save the notebook" in message
    assert nb.read_bytes() == saved
    assert litter(tmp_path) == []


def test_cli_capture_write_refuses_when_the_notebook_is_saved_during_the_scan(tmp_path):
    """The real CLI in its own process; the user's save lands while capture reads the cells."""
    nb = notebook(tmp_path / "a.ipynb", "import requests")
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        import envkit.capture as capture
        from envkit.cli import main

        path = Path({str(nb)!r})
        real = capture.capture_paths

        def capture_while_the_user_saves(paths, **kw):
            nb = json.loads(path.read_text())
            nb["cells"].append({{"cell_type": "code", "execution_count": None, "id": "users-save",
                                "metadata": {{}}, "outputs": [], "source": "import attrs"}})
            path.write_text(json.dumps(nb, indent=1) + "\\n")
            return real(paths, **kw)

        capture.capture_paths = capture_while_the_user_saves
        sys.exit(main(["capture", "--write", str(path)]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ENVKIT_DEBUG": ""})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"envkit: {nb}: changed on disk since envkit read it; nothing was written")
    assert "save the notebook, then run the command again" in lines[0]
    after = json.loads(nb.read_text())
    assert ["".join(c["source"]) for c in after["cells"]] == ["import requests", "import attrs"]
    assert "envkit" not in after["metadata"]
    assert litter(tmp_path) == []


def test_a_save_that_lands_between_the_check_and_the_swap_is_put_back(tmp_path, monkeypatch):
    """The last instant: another program renames its save in just before envkit's swap."""
    nb = notebook(tmp_path / "a.ipynb", "import requests")
    read = read_notebook(nb)
    real_exchange = atomic._exchange
    calls = []

    def exchange_after_a_save(a, b):
        if not calls:
            tmp = nb.with_name("editor.tmp")
            tmp.write_bytes(b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
            os.replace(tmp, nb)
        calls.append((a, b))
        return real_exchange(a, b)

    monkeypatch.setattr(atomic, "_exchange", exchange_after_a_save)
    with pytest.raises(NotebookChanged, match="changed on disk while envkit wrote it"):
        update_envkit(nb, expected=read, spec=SPEC)
    if len(calls) == 1:  # this file system cannot exchange: the plain rename path has no such guard
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    assert json.loads(nb.read_text())["cells"] == []
    assert litter(tmp_path) == []


def test_a_temp_file_a_killed_writer_left_is_removed_by_the_next_write(tmp_path):
    nb = notebook(tmp_path / "a.ipynb", "import requests")
    stale = tmp_path / f"{atomic.temp_name(nb)}abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    update_envkit(nb, spec=SPEC)
    assert litter(tmp_path) == []


WRITER = """
import sys
from pathlib import Path
from envkit import atomic
path = Path(sys.argv[1])
data = b"[" + b"0," * (15 * 1024 * 1024 // 2) + b"0]\\n"   # 15 MB
print("writing", flush=True)
while True:
    _, snap = atomic.read_with_snapshot(path)
    atomic.replace_if_unchanged(path, snap, data)
"""


@pytest.mark.parametrize("round_", range(4))
def test_sigterm_during_a_15_mb_write_leaves_no_temp_file(tmp_path, round_):
    nb = tmp_path / "big.ipynb"
    nb.write_bytes(b"[]\n")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(nb)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 60
        # Wait until a temp file exists, so the signal lands during a write.
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.001)
        time.sleep(0.002 * round_)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM  # the signal still ends the process
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert litter(tmp_path) == []
    assert nb.read_bytes() in (b"[]\n", b"[" + b"0," * (15 * 1024 * 1024 // 2) + b"0]\n")


def test_two_envkit_writers_take_turns(tmp_path):
    """The lock: a second writer waits for the first, then compares against the new file."""
    nb = tmp_path / "a.ipynb"
    nb.write_bytes(b"one\n")
    _, snap = atomic.read_with_snapshot(nb)
    with atomic.file_lock(nb):
        with pytest.raises(atomic.Busy):
            with atomic.file_lock(nb, timeout=0.2):
                pass
    atomic.replace_if_unchanged(nb, snap, b"two\n")
    with pytest.raises(atomic.Changed):
        atomic.replace_if_unchanged(nb, snap, b"three\n")
    assert nb.read_bytes() == b"two\n"
    assert litter(tmp_path) == []
