"""The quick rewrite of plain IPython syntax matches IPython's own transforms."""

from __future__ import annotations

import ast

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from envkit.capture.transform import plain_escapes, transform

CASES = [
    "%matplotlib inline\nimport numpy as np\n",
    "%pip install -q numpy 'pandas>=2'",
    "!pip install x\nimport x",
    "import sys\n!{sys.executable} -m pip install foo",
    "%%time\nimport a\nb = 1",
    "%%writefile helpers.py\nimport x\n    \ndef f():\n    return 1\n",
    "def f():\n    %time g()\n    !ls\n",
    "%timeit -n 1   x",
    "%load_ext autoreload\n%autoreload 2",
]
UNSURE = ["x = !ls", "  %pip install a", "np.array?", "%pip install a \\\n    b", "\n%matplotlib inline",
          "!!ls", "files = %sx ls"]


@pytest.mark.parametrize("source", CASES)
def test_same_tree_as_ipython(source):
    quick = plain_escapes(source)
    assert quick is not None
    assert ast.dump(ast.parse(quick)) == ast.dump(ast.parse(TransformerManager().transform_cell(source)))


@pytest.mark.parametrize("source", UNSURE)
def test_other_forms_go_to_ipython(source):
    assert plain_escapes(source) is None
    assert transform(source) == TransformerManager().transform_cell(source)


def test_a_percent_line_inside_a_string_goes_to_ipython():
    source = 'text = """\n%d items\n"""\nprint(text)\n%time f()'
    assert transform(source) == TransformerManager().transform_cell(source)



@pytest.mark.parametrize("source", ["pd.read_csv(", "print 'python 2'", "x = 1\n  y = 2", "a = b % c\n"])
def test_cells_without_ipython_syntax_skip_ipython_and_match_it(source):
    try:
        expected = TransformerManager().transform_cell(source)
    except Exception:
        expected = source
    assert transform(source).rstrip("\n") == expected.rstrip("\n")
