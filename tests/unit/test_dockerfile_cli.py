"""``envkit dockerfile`` renders from the notebook alone: no engine asked, the same bytes each time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.build import tiny_notebook, tiny_spec


def _dockerfile(nb: Path, dead: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": f"unix://{dead}"}  # nothing listens there
    return subprocess.run([sys.executable, "-m", "envkit", "dockerfile", str(nb), "--base-image", "envkit-base:1"],
                          capture_output=True, env=env, timeout=120, check=False)


def test_dockerfile_needs_no_engine_and_is_byte_identical(tmp_path):
    dead = tmp_path / "no-engine.sock"
    nb = tiny_notebook(tmp_path / "analysis.ipynb", spec=tiny_spec("six", "idna"))
    before = nb.read_bytes()
    first, second = _dockerfile(nb, dead), _dockerfile(nb, dead)
    assert first.returncode == 0, first.stderr.decode()
    assert first.stdout == second.stdout
    text = first.stdout.decode()
    assert "FROM envkit-base:1" in text and "no container engine" not in first.stderr.decode()
    assert 'dev.envkit.notebook="' in text and "analysis.ipynb" in text
    assert nb.read_bytes() == before  # rendering writes nothing back


def test_dockerfile_of_a_notebook_without_a_spec_captures_it_first(tmp_path):
    dead = tmp_path / "no-engine.sock"
    nb = tiny_notebook(tmp_path / "raw.ipynb")  # imports six; no metadata.envkit
    first, second = _dockerfile(nb, dead), _dockerfile(nb, dead)
    assert first.returncode == 0, first.stderr.decode()
    assert first.stdout == second.stdout
    # captured: six, on the base image named (stored with the spec: a base is chosen once)
    assert f"# spec digest: {tiny_spec('six').with_changes(base_image='envkit-base:1').digest()}" in first.stdout.decode()
