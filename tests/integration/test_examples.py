"""The notebooks in examples/ build from their stored lock and reproduce their stored outputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TEST_RUN

EXAMPLES = sorted((ROOT / "examples").glob("*/*.ipynb"))


@pytest.mark.docker
@pytest.mark.parametrize("notebook", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_reproduces_in_its_image(notebook: Path, tmp_path, base_image):
    folder = tmp_path / notebook.parent.name
    shutil.copytree(notebook.parent, folder)
    # A name of this run's own: the image goes to envkit/<stem>-<run>, never to the user's
    # envkit/<stem> (their own build of the example keeps its tags).
    copy = folder / f"{notebook.stem}-{TEST_RUN}.ipynb"
    (folder / notebook.name).rename(copy)
    result = subprocess.run(
        [sys.executable, "-m", "envkit", "run", str(copy), "--verify", "--base-image", base_image],
        capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reproduced" in (result.stdout + result.stderr).lower()
