"""The container sees the notebook's project: a package two folders up and ../data, at the same paths."""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from support.kernels import env_image, kernel_containers, kernel_image  # noqa: F401

pytestmark = pytest.mark.docker


def test_a_notebook_in_a_sub_folder_imports_a_package_two_folders_up_and_reads_parent_data(engine, kernel_image,
                                                                                           tmp_path):
    project = tmp_path / "proj"
    (project / "mypkg").mkdir(parents=True)
    (project / "mypkg" / "__init__.py").write_text("VALUE = 42\n")
    (project / "a" / "data").mkdir(parents=True)
    (project / "a" / "data" / "x.csv").write_text("a,b\n1,2\n")
    (project / "a" / "b").mkdir()
    path = project / "a" / "b" / "analysis.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, sys\nsys.path.append('../..')\nimport mypkg\n"
        "print(mypkg.VALUE, open('../data/x.csv').read().splitlines()[1], os.getcwd())")]), path)
    for p in [project, *project.rglob("*")]:  # the kernel runs as the folder's owner (uid 1000 here)
        import os

        st = tmp_path.stat()
        os.chown(p, st.st_uid, st.st_gid)
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(path), "-o", str(out), "--image", kernel_image],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = "".join(o.get("text", "") for o in nbformat.read(out, as_version=4).cells[0].outputs)
    assert printed.split() == ["42", "1,2", str(path.parent.resolve())]
    assert not kernel_containers(engine)
