"""A notebook without an envkit record is built as of its era and runs its removed-API code.

``pd.read_csv(error_bad_lines=...)`` is gone from pandas 2; the notebook's run times say 2021,
the image's Python is 3.11 (the test base image), so pandas moves forward to the first release
with wheels for it and the notebook runs to the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support.build import run_notebook
from support.kernels import kernel_containers

from envkit.era_build import base_python, uv_command
from envkit.notebook import read_notebook

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(uv_command() is None, reason="uv is not installed (pip install uv)")]


def test_an_old_notebook_is_resolved_as_of_its_era_and_runs(engine, base_image, tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n3,4,5\n6,7\n")
    cell = nbformat.v4.new_code_cell("import pandas as pd\ndf = pd.read_csv('x.csv', error_bad_lines=False)\n"
                                     "print(pd.__version__, len(df))")
    cell.metadata["execution"] = {"iopub.execute_input": "2021-06-01T10:00:00.000Z"}
    path, out, text = _run(cell, "3.11.2", "old", base_image, tmp_path)
    assert "resolved as of 2021-06-01: run times stored in the notebook; moved forward: pandas " in text, text
    outputs = nbformat.read(out, as_version=4).cells[0].outputs
    version, rows = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout").split()
    assert version.startswith("1.") and rows == "2"  # pandas 1.x, the bad line skipped
    assert any("error_bad_lines" in o.get("text", "") for o in outputs if o.get("name") == "stderr")  # deprecated
    spec = read_notebook(path).envkit().spec
    assert spec.as_of == "2021-06-01" and spec.as_of_reason == "run times stored in the notebook"
    assert not kernel_containers(engine)


def test_a_fresh_copy_of_an_old_notebook_is_dated_by_the_python_it_ran_on(engine, base_image, tmp_path):
    # No run times, no printed versions, no git, and the file was written just now (a download):
    # only language_info's 3.9.2 says when it ran. np.float is gone from numpy 1.24 (Dec 2022).
    # The era resolves for the base image's Python (3.11), not the notebook's 3.9: wheels for 3.9
    # would make the build compile numpy's sources.
    assert base_python(base_image) == "3.11" and base_python("envkit-no-such-image:x") is None
    cell = nbformat.v4.new_code_cell("import numpy as np\nprint(np.__version__, np.float(1.5))")
    path, out, text = _run(cell, "3.9.2", "copied", base_image, tmp_path)
    assert "resolved as of 2021-04-06: the Python it ran on: 3.9.2, the newest 3.9 about then" in text, text
    printed = "".join(o.get("text", "") for o in nbformat.read(out, as_version=4).cells[0].outputs
                      if o.get("name") == "stdout").split()
    assert printed[0].startswith("1.2") and printed[1] == "1.5"  # numpy 1.2x: the first with Python 3.11 wheels
    assert read_notebook(path).envkit().spec.as_of == "2021-04-06"
    assert not kernel_containers(engine)


def test_an_old_notebook_plots_inline_with_its_eras_matplotlib(engine, base_image, tmp_path):
    # matplotlib of the era (3.5/3.6 on Python 3.11) and the kernel's current packages: the
    # inline backend must be one that speaks to that matplotlib.
    cell = nbformat.v4.new_code_cell("%matplotlib inline\nimport matplotlib\nimport matplotlib.pyplot as plt\n"
                                     "plt.plot([1, 2, 3])\nplt.show()\nprint(matplotlib.__version__)")
    path, out, text = _run(cell, "3.8.5", "plots", base_image, tmp_path)
    assert "resolved as of 2020-10-14: the Python it ran on: 3.8.5" in text, text
    outputs = nbformat.read(out, as_version=4).cells[0].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs
    version = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout").strip()
    assert version.split(".")[0] == "3" and int(version.split(".")[1]) < 7, version  # the era's, moved forward
    assert not kernel_containers(engine)


def _run(cell, python: str, name: str, base_image: str, tmp_path: Path) -> tuple[Path, Path, str]:
    """``envkit run`` a one-cell notebook saved with ``python``; its path, the output path and what envkit said."""
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["language_info"] = {"name": "python", "version": python}
    path = tmp_path / run_notebook(name)
    nbformat.write(nb, path)
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(path), "-o", str(out),
                           "--base-image", base_image], capture_output=True, text=True)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    return path, out, text
