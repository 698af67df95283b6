"""Python 2 cells named plainly (capture.python2): which cells, and the construct."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from envkit.capture import capture_notebook
from envkit.capture.mapping import Mapper
from envkit.capture.python2 import cell_python2, notebook_python2, python2_kernel, python2_line
from envkit.errors import UsageError
from envkit.run import run_notebook


@pytest.mark.parametrize(("source", "cause"), [
    ('print "hello"', "print statement"),
    ("print x, y", "print statement"),
    ('print >>sys.stderr, "oops"', "print >>file"),
    ("try:\n    pass\nexcept ValueError, e:\n    pass", "except E, e"),
    ("x = `42`", "backticks"),
    ('exec "x = 1"', "exec statement"),
    ("exec code in ns", "exec statement"),
    ("os.chmod(path, 0777)", "octal literal like 0777"),
    ("s = ur'raw'", "ur'' string"),
    ('raise ValueError, "bad"', "raise E, msg"),
    ("if a <> b:\n    pass", "<> operator"),
    ("n = 10L", "long literal like 10L"),
    ("def f((a, b)):\n    pass", "tuple parameter"),
    ("if x:\n\tpass\n        pass", "tabs mixed with spaces"),
    ('%matplotlib inline\nprint "after a magic"', "print statement"),
    ('!ls\nprint "after a shell line"', "print statement"),
])
def test_python_2_constructs_are_recognised(source: str, cause: str) -> None:
    found = cell_python2(source)
    assert found is not None and found.cause == cause


@pytest.mark.parametrize("source", [
    'print("fine")', "%matplotlib inline\nimport numpy", "!pip install six", "x = (", 'a = "`x`" +',
    "print", "x = 0o777", "def f(a, b): pass", "",
])
def test_python_3_and_other_errors_are_not_claimed(source: str) -> None:
    assert cell_python2(source) is None


def _notebook(path: Path, cells: list[str], kernel: str = "python3", version: str = "3.11.4") -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# title"), *[new_code_cell(c) for c in cells]],
                      metadata={"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
                                "language_info": {"name": "python", "version": version}})
    nbformat.write(nb, path)
    return path


def test_one_line_names_the_cells_as_jupyter_numbers_them(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "old.ipynb", ["import os", 'print "x"', "try:\n  f()\nexcept E, e:\n  pass"],
                     kernel="python2", version="2.7.15")
    nb = nbformat.read(path, as_version=4)
    cells = notebook_python2(nb)
    assert [(c.cell, c.cause) for c in cells] == [(3, "print statement"), (4, "except E, e")]
    line = python2_line("old.ipynb", cells, kernel=python2_kernel(nb.metadata))
    assert line == ("old.ipynb: Python 2 code in 2 cells: 3 (print statement), 4 (except E, e) "
                    "(saved with a Python 2 kernel: kernelspec python2); Python 3 cannot run them")
    assert "\n" not in line
    assert python2_line("x", ()) == ""


def test_capture_says_it_once_and_keeps_the_imports(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "old.ipynb", ['import six\nprint "a"', 'print "b"', "x = ("])
    result = capture_notebook(path, mapper=Mapper(installed=False))
    python2 = [n for n in result.notes if "Python 2 code" in n]
    assert len(python2) == 1 and "2 cells: 2 (print statement), 3 (print statement)" in python2[0]
    assert [r.name for r in result.spec.requirements] == ["six"]
    reasons = {s.cell: s.reason for s in result.skipped}
    assert reasons[2].startswith("Python 2 (print statement)") and reasons[4].startswith("not valid Python")


def test_run_stops_before_anything_runs(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "old.ipynb", ["import os", 'print "x"'])
    with pytest.raises(UsageError) as raised:
        run_notebook(path, tmp_path / "out.ipynb")  # no engine is asked: it stops first
    assert "cell 3 (print statement)" in raised.value.message and "--allow-errors" in raised.value.hint
    assert not (tmp_path / "out.ipynb").exists()
