"""Kernels start with any ipykernel >= 6: 6.20 writes its connection file back, 7 does not."""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import subprocess
import sys

import pytest
from support.build import run_tag, tiny_notebook, tiny_spec
from support.kernels import kernel_containers

pytestmark = pytest.mark.docker


def test_a_kernel_with_ipykernel_6_20_starts_and_runs_the_notebook(engine, base_image, tmp_path):
    from envkit.build import BuildOptions, build_spec

    spec = tiny_spec("six", "ipykernel==6.20.*")
    notebook = tiny_notebook(tmp_path / "old.ipynb", spec=spec,
                             cells=("import ipykernel\nprint('ipykernel', ipykernel.__version__)",))
    result = build_spec(spec, options=BuildOptions(base_image=base_image, tag=run_tag("ipykernel620")),
                        notebook=str(notebook))
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(notebook), "-o", str(out),
                           "--image", result.image.tag or result.image.id], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ipykernel 6.20." in out.read_text()
    assert not kernel_containers(engine)
