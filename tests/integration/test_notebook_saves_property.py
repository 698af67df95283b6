"""Property: a notebook saved by another process at random moments while envkit writes it never
loses that save.

A real editor stand-in (tests/support/saver.py, its own process) saves the notebook at moments
hypothesis draws, in the ways editors save (jupyter_server's own atomic_writing, in place, by
rename), each save adding a cell to the editor's model. Meanwhile this process writes envkit's
record again and again, as a command would (read, then write by compare-and-swap; a refusal is
retried). Afterwards the file holds every cell the editor saved, envkit's record is either in it
or was refused, and no temporary or lock file is left.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from envkit.errors import NotebookError
from envkit.notebook import NotebookChanged, read_notebook, update_envkit
from envkit.spec import EnvSpec, Requirement

SAVER = Path(__file__).resolve().parents[1] / "support" / "saver.py"
SPEC = EnvSpec(python="3.11", requirements=(Requirement.parse("requests"),))

saves = st.lists(st.tuples(st.floats(min_value=0, max_value=4), st.sampled_from(["jupyter", "inplace", "rename"])),
                 min_size=1, max_size=12)


@pytest.fixture(scope="module")
def saver():
    proc = subprocess.Popen([sys.executable, str(SAVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    try:
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("saves")


def _cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=saves, pause=st.floats(min_value=0, max_value=2))
def test_no_save_is_ever_lost(saver, folder, plan, pause):
    path = folder / "analysis.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import requests")]), path)
    for stray in folder.iterdir():
        if stray != path:
            stray.unlink()
    saver.stdin.write(json.dumps({"path": str(path), "saves": plan}) + "\n")
    written = refused = 0
    done = ""
    while not done:
        try:
            nb = read_notebook(path)
            time.sleep(pause / 1000)  # envkit works between its read and its write
            update_envkit(path, expected=nb, spec=SPEC)
            written += 1
        except NotebookChanged:
            refused += 1
        except NotebookError:
            pass  # read while an in-place save was half written: not a notebook yet; read again
        if select.select([saver.stdout], [], [], 0)[0]:
            done = saver.stdout.readline()
    total = int(done.split()[1])
    expected_saves = [f"# save {n}" for n in range(total - len(plan) + 1, total + 1)]
    assert _cells(path) == ["import requests", *expected_saves]
    assert written + refused > 0
    assert sorted(p.name for p in folder.iterdir() if p.name != path.name) == []
