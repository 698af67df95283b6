"""Probes of issue 10 that need the real engine: one clear line, the exit code, nothing changed.

The table "probe → test" in docs/faults.md points here, at tests/unit/test_fault_probes.py and at
the other abuse and fault tests.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import tags_on_engine
from support import TEST_RUN
from support import build as support_build
from support.notebooks import notebook_with_record

pytestmark = pytest.mark.docker

env_image = support_build.env_image  # at least one envkit image for 'envkit images' to list


def _run_containers(engine) -> set[str]:
    return {c.id for c in engine.containers.list(all=True, filters={"label": f"dev.envkit.test-run={TEST_RUN}"})}


@pytest.mark.parametrize("command", [("launch",), ("build",), ("run",), ("kernel", "install")])
@pytest.mark.parametrize(("record", "found"), [([1, 2], "a list"), ("x", "a string")])
def test_metadata_envkit_that_is_not_an_object_on_a_live_engine(engine, tmp_path, command, record, found):
    nb = tmp_path / "nb.ipynb"
    before = notebook_with_record(nb, record)
    tags, containers = tags_on_engine(), _run_containers(engine)
    proc = subprocess.run([sys.executable, "-m", "envkit", *command, str(nb)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "ENVKIT_DEBUG": ""})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("envkit: ")]
    assert errors == [f"envkit: {nb}: metadata.envkit: expected an object, found {found}"], proc.stderr
    assert nb.read_bytes() == before
    # Nothing made: no container of this run, no tag for this notebook (envkit/nb-<hash>).
    assert _run_containers(engine) == containers
    assert [t for t in tags_on_engine() if t not in tags and t.startswith("envkit/nb-")] == []


def test_images_into_a_pipe_whose_reader_left(engine, env_image):
    """``envkit images | head -1``: the reader is gone before envkit writes; no traceback, SIGPIPE's status."""
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "images"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "ENVKIT_DEBUG": ""})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 141, err  # 128 + SIGPIPE, as a shell reports `yes | head -1`
    assert err == ""


def test_images_piped_to_head_prints_its_first_line(engine, env_image):
    done = subprocess.run(f"{sys.executable} -m envkit images | head -1", shell=True, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "ENVKIT_DEBUG": ""})
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
