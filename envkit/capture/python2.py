"""Python 2 cells, named plainly: which cells Python 3 cannot run, and why.

A notebook from 2015 often holds ``print "x"`` or ``except ValueError, e:``; run on Python 3,
such cells fail one by one, each with a ``SyntaxError`` that does not say "this is Python 2".
A cell counts as Python 2 when it does not parse as Python 3 after IPython's own transforms
(``transform``: magics and ``!`` lines become calls) and the parser's error, or the line it
points at, is a Python 2 construct. A cell that fails for any other reason is not claimed.
``print >>f, x`` parses under Python 3 (as a tuple) and fails only when run: it is recognised
in the syntax tree. Pure: no I/O.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .transform import transform

# The parser's own message → the construct (CPython 3.10+ words these explicitly).
_MESSAGES = (
    ("call to 'print'", "print statement"),
    ("call to 'exec'", "exec statement"),
    ("multiple exception types must be parenthesized", "except E, e"),
    ("leading zeros in decimal integer literals", "octal literal like 0777"),
    ("parameters cannot be parenthesized", "tuple parameter"),
)
# A plain "invalid syntax" (or "invalid decimal literal"): the line it points at says which.
_LINES = (
    (re.compile(r"(?<![\w'\"])[uU][rR]['\"]"), "ur'' string"),
    (re.compile(r"^\s*raise\s+[\w.]+\s*,"), "raise E, msg"),
    (re.compile(r"<>"), "<> operator"),
    (re.compile(r"(?<![\w.])\d+[lL]\b"), "long literal like 10L"),
    (re.compile(r"^\s*exec\s+\S"), "exec statement"),
    (re.compile(r"^\s*print\s+[^\s(=]"), "print statement"),
)


@dataclass(frozen=True, kw_only=True)
class Python2Cell:
    """A code cell (1-based over all cells, as Jupyter shows them) that is Python 2, and the construct."""

    cell: int
    cause: str
    line: int = 0


def python2_cause(code: str, error: SyntaxError) -> str | None:
    """The Python 2 construct behind ``error`` raised parsing ``code``, or None when it is not one."""
    if isinstance(error, TabError):
        return "tabs mixed with spaces"  # Python 2 allowed it; Python 3 refuses
    message = error.msg or ""
    for words, cause in _MESSAGES:
        if words in message:
            return cause
    lines = code.splitlines()
    text = error.text or (lines[error.lineno - 1] if error.lineno and 0 < error.lineno <= len(lines) else "")
    offset = (error.offset or 0) - 1
    if 0 <= offset < len(text) and text[offset] == "`":  # at the backtick itself: not one inside a string
        return "backticks"
    for pattern, cause in _LINES:
        if pattern.search(text):
            return cause
    return None


def _print_chevron(tree: ast.Module) -> int:
    """The line of a ``print >>f, x`` statement (valid Python 3, a tuple; fails when run), else 0."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr):
            value = node.value.elts[0] if isinstance(node.value, ast.Tuple) and node.value.elts else node.value
            if (isinstance(value, ast.BinOp) and isinstance(value.op, ast.RShift)
                    and isinstance(value.left, ast.Name) and value.left.id == "print"):
                return node.lineno
    return 0


def cell_python2(source: str) -> Python2Cell | None:
    """``source`` (one cell) as a Python 2 finding (cell number 0), or None when Python 3 can run it."""
    code = source
    try:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            code = transform(source)
            tree = ast.parse(code)
    except SyntaxError as exc:
        cause = python2_cause(code, exc)
        return Python2Cell(cell=0, cause=cause, line=exc.lineno or 0) if cause else None
    except (ValueError, RecursionError, MemoryError):
        return None
    if "print" in code and (line := _print_chevron(tree)):
        return Python2Cell(cell=0, cause="print >>file", line=line)
    return None


def python2_cells(cells: Iterable[tuple[int, str]]) -> tuple[Python2Cell, ...]:
    """The Python 2 cells among ``(cell number, source)`` pairs."""
    out = []
    for index, source in cells:
        found = cell_python2(source)
        if found is not None:
            out.append(Python2Cell(cell=index, cause=found.cause, line=found.line))
    return tuple(out)


def python2_kernel(metadata: Mapping[str, Any]) -> str:
    """What says the notebook was saved with a Python 2 kernel (``kernelspec python2``), else ``""``."""
    spec = metadata.get("kernelspec") or {}
    if str(spec.get("name") or "").lower() in {"python2", "python27"}:
        return f"kernelspec {spec.get('name')}"
    info = metadata.get("language_info") or {}
    if str(info.get("name") or "python").startswith("python") and str(info.get("version") or "").startswith("2."):
        return f"language_info {info.get('version')}"
    return ""


def notebook_python2(nb: Mapping[str, Any]) -> tuple[Python2Cell, ...]:
    """The Python 2 code cells of a notebook's JSON (nbformat 4; cells numbered as Jupyter shows them)."""
    cells = []
    for index, cell in enumerate(nb.get("cells") or [], start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append((index, "".join(source) if isinstance(source, list) else str(source)))
    return python2_cells(cells)


MAX_NAMED = 8  # cells named in the line; the rest counted


def python2_line(label: str, cells: tuple[Python2Cell, ...], *, kernel: str = "") -> str:
    """One line naming the Python 2 cells and why: ``nb.ipynb: Python 2 code in 2 cells: 3 (print
    statement), 5 (except E, e); Python 3 cannot run them``. ``""`` when there are none."""
    if not cells:
        return ""
    named = ", ".join(f"{c.cell} ({c.cause})" for c in cells[:MAX_NAMED])
    more = f" and {len(cells) - MAX_NAMED} more" if len(cells) > MAX_NAMED else ""
    saved = f" (saved with a Python 2 kernel: {kernel})" if kernel else ""
    where = f"cell {named}" if len(cells) == 1 else f"{len(cells)} cells: {named}{more}"
    return f"{label}: Python 2 code in {where}{saved}; Python 3 cannot run {'it' if len(cells) == 1 else 'them'}"


PORT_HINT = "port them to Python 3 ('2to3 -w' works on a notebook exported with 'jupyter nbconvert --to script')"

__all__ = ["PORT_HINT", "Python2Cell", "cell_python2", "notebook_python2", "python2_cause", "python2_cells",
           "python2_kernel", "python2_line"]
