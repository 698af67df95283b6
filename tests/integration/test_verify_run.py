"""``envkit run --verify`` in a real container kernel: environment noise passes, real changes do not."""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from support.kernels import env_image, kernel_containers, kernel_image  # noqa: F401

pytestmark = pytest.mark.docker


def cell(source: str, *outputs: dict) -> nbformat.NotebookNode:
    c = nbformat.v4.new_code_cell(source)
    c.outputs = [nbformat.from_dict(o) for o in outputs]
    c.execution_count = 1
    return c


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def test_figure_sizes_warnings_and_markers(engine, kernel_image, tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        # stored with matplotlib 2 (72 dpi); today's prints the 100-dpi size
        cell("print('<Figure size 640x480 with 1 Axes>')", stream("<Figure size 432x288 with 1 Axes>\n")),
        # a deprecation warning that the stored run did not show
        cell("import warnings\nwarnings.warn('old API', DeprecationWarning)\nprint(1500 * 2)", stream("3000\n")),
        cell("# NBVAL_IGNORE_OUTPUT\nimport random\nprint(random.random())", stream("0.123\n")),
        # a number that changed is a difference, even next to an "x"
        cell("print('1500x1001')", stream("1500x1000\n")),
    ])
    path = tmp_path / "old.ipynb"
    nbformat.write(nb, path)
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(path), "-o", str(tmp_path / "out.ipynb"),
                           "--verify", "--image", kernel_image], capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 of 4 code cells differ" in done.stdout + done.stderr
    assert "cell 4:" in done.stdout and "-1500x1000" in done.stdout and "+1500x1001" in done.stdout
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert any(o.get("name") == "stderr" and "DeprecationWarning" in o["text"] for o in executed.cells[1].outputs)
    assert not kernel_containers(engine)


def test_allow_errors_names_the_cells_that_raised_and_verify_without_outputs_still_runs(engine, kernel_image,
                                                                                         tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("old"), cell("x = 1"),
                                         cell("import pandas\npandas.read_csv('x', error_bad_lines=False)")])
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
    path = tmp_path / "fresh.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(path), "-o", str(out), "--verify",
                           "--allow-errors", "--image", kernel_image], capture_output=True, text=True)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert "no stored outputs to verify against; running it without comparing" in text
    assert "1 cell(s) raised: cell 3: ModuleNotFoundError: No module named 'pandas'" in text
    assert out.exists()
    assert not kernel_containers(engine)
