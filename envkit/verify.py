"""Comparing a notebook's new outputs with its stored ones: what counts as the same.

``envkit run --verify`` normalises run-to-run noise (execution counts, timings, memory addresses,
dates, widget model ids, binary images) and, by default, two things that change with the
environment rather than the code: matplotlib's ``<Figure size 640x480 with 1 Axes>`` text
(its default DPI went from 72 to 100, which scales the size) and stderr streams made only of
warnings (deprecations come and go with versions). Cells tune it with nbval's markers, as a
comment in the source or a cell tag:

- ``# NBVAL_IGNORE_OUTPUT`` / tag ``nbval-ignore-output``: run the cell, do not compare it;
- ``# NBVAL_SKIP`` / tag ``nbval-skip``: do not compare it (``skipped_cells`` lists them for
  the runner, which may leave them out of execution as nbval does);
- ``# NBVAL_CHECK_OUTPUT`` / tag ``nbval-check-output``: compare strictly (figure sizes and
  warnings count).

Numbers are compared exactly: only real hexadecimal addresses (``0x7f3a...``) are masked, so
``1500x1000`` stays ``1500x1000``.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

# (pattern, replacement) applied to every text output before comparing.
NOISE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^.*per loop \(mean ± std\. dev\. of .*\)$", re.M), "<timeit>"),
    # an address, not any digits before an "x": "1500x1000" is a size
    (re.compile(r"(?<![0-9A-Za-z_])0x[0-9a-fA-F]{4,}\b"), "0x…"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<datetime>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d+\b"),
     "<date>"),
    (re.compile(r"\[[\d:]+<[\d:?]+"), "[<elapsed>"),  # tqdm's [elapsed<remaining, rate]
    (re.compile(r"\d+(\.\d+)?\s?(it/s|s/it)"), "<rate>"),
    # IPython's %time prints "sys: 1e+03 ns" when the value rounds to a power of ten, and its
    # microseconds with the micro sign (U+00B5) or the Greek mu (U+03BC) depending on the version
    (re.compile(r"\b\d+(\.\d+)?(e[-+]?\d+)?\s?(ns|\u00b5s|\u03bcs|us|ms|s|sec|secs|seconds|min)\b"), "<duration>"),
    (re.compile(r"[ \t]+$", re.M), ""),
)
# matplotlib's repr of a figure: its size in pixels depends on the default DPI of the version.
FIGURE_SIZE = re.compile(r"<Figure size \d+(?:\.\d+)?x\d+(?:\.\d+)? with (\d+) Axes>")
# "path/to/file.py:12: DeprecationWarning: text" and the indented source line warnings adds.
_WARNING_HEADER = re.compile(r"^\S.*:\d+: \w*Warning: ")
TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json",
              "application/javascript", "image/svg+xml")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MARKERS = {"NBVAL_IGNORE_OUTPUT": "ignore", "NBVAL_SKIP": "skip", "NBVAL_CHECK_OUTPUT": "check"}
TAGS = {"nbval-ignore-output": "ignore", "nbval-skip": "skip", "nbval-check-output": "check"}
NO_STORED_OUTPUTS = "{path}: no stored outputs to verify against; running it without comparing"


@dataclass(frozen=True, kw_only=True)
class CellDiff:
    """A code cell whose outputs did not reproduce: 1-based index over all cells, and a diff."""

    cell: int
    diff: str


@dataclass(frozen=True, kw_only=True)
class RaisedCell:
    """A code cell that ended in an error (1-based index over all cells)."""

    cell: int
    ename: str
    evalue: str

    def describe(self) -> str:
        value = self.evalue.strip().splitlines()[0][:120] if self.evalue.strip() else ""
        return f"cell {self.cell}: {self.ename}" + (f": {value}" if value else "")


def normalize_text(text: str, *, strict: bool = False) -> str:
    """``text`` with run-to-run noise replaced by placeholders (and figure sizes, unless ``strict``)."""
    for pattern, repl in NOISE:
        text = pattern.sub(repl, text)
    if not strict:
        text = FIGURE_SIZE.sub(r"<Figure with \1 Axes>", text)
    return text


def is_warning_only(text: str) -> bool:
    """True for stderr text made only of Python warnings.

    ``warnings`` prints ``file:line: Category: message`` (the message may run over several
    lines, as pandas' SettingWithCopyWarning does) and then the indented source line; after
    that source line only a new warning may follow.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not _WARNING_HEADER.match(lines[0]):
        return False
    closed = False  # the current warning's source line has been printed
    for line in lines:
        if _WARNING_HEADER.match(line):
            closed = False
        elif line[:1] in {" ", "\t"}:
            closed = True
        elif closed:
            return False
    return True


def _join(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalize_outputs(outputs: list[dict[str, Any]], *, strict: bool = False) -> list[str]:
    """One comparable text per output: streams merged by name, data by MIME type, errors by name.

    Unless ``strict``, stderr streams made only of warnings are left out.
    """
    out: list[str] = []
    last_stream = None
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream":
            # ipykernel may split one print across messages differently on each run.
            text = _join(o.get("text", ""))
            if last_stream == o.get("name"):
                out[-1] += text
            else:
                out.append(text)
                last_stream = o.get("name")
            if not strict and last_stream == "stderr" and is_warning_only(out[-1]):
                out[-1] = ""
            continue
        last_stream = None
        if kind == "error":
            out.append(f"error {o.get('ename')}: {o.get('evalue')}")
        elif kind in ("execute_result", "display_data"):
            parts = []
            for mime, value in sorted((o.get("data") or {}).items()):
                if mime == WIDGET_VIEW:
                    parts.append(f"{mime}: <widget>")
                elif mime in TEXT_TYPES or mime.startswith("text/"):
                    text = value if isinstance(value, str | list) else json.dumps(value, sort_keys=True)
                    parts.append(f"{mime}: {_join(text)}")
                else:
                    # Binary renderings (PNG plots) embed encoder versions and timestamps.
                    parts.append(f"{mime}: <binary>")
            out.append(f"{kind}\n" + "\n".join(parts))
    return [normalize_text(t, strict=strict) for t in out if t != ""]


def cell_marker(cell: dict[str, Any]) -> str | None:
    """``ignore``, ``skip``, ``check`` or None from a cell's nbval comment or tag."""
    tags = (cell.get("metadata") or {}).get("tags") or []
    for tag in tags:
        if tag in TAGS:
            return TAGS[tag]
    source = _join(cell.get("source", ""))
    for line in source.splitlines():
        text = line.strip()
        if text.startswith("#"):
            word = text.lstrip("#").strip().split(" ")[0]
            if word in MARKERS:
                return MARKERS[word]
    return None


def skipped_cells(cells: list[dict[str, Any]]) -> list[int]:
    """0-based positions of the code cells marked ``NBVAL_SKIP`` / ``nbval-skip``."""
    return [i for i, c in enumerate(cells) if c.get("cell_type") == "code" and cell_marker(c) == "skip"]


def compare_cells(stored: list[dict[str, Any]], executed: list[dict[str, Any]]) -> list[CellDiff]:
    """Cell-by-cell differences between two cell lists of the same notebook (code cells only)."""
    diffs = []
    for index, (old, new) in enumerate(zip(stored, executed, strict=True), start=1):
        if old.get("cell_type") != "code":
            continue
        marker = cell_marker(old)
        if marker in {"ignore", "skip"}:
            continue
        strict = marker == "check"
        a = normalize_outputs(old.get("outputs", []), strict=strict)
        b = normalize_outputs(new.get("outputs", []), strict=strict)
        if a != b:
            lines = difflib.unified_diff("\n".join(a).splitlines(), "\n".join(b).splitlines(),
                                         "stored", "new", lineterm="", n=1)
            diffs.append(CellDiff(cell=index, diff="\n".join(list(lines)[:40])))
    return diffs


def has_stored_outputs(cells: list[dict[str, Any]]) -> bool:
    """True when any code cell has stored outputs to verify against."""
    return any(c.get("outputs") for c in cells if c.get("cell_type") == "code")


def raised_cells(cells: list[dict[str, Any]]) -> list[RaisedCell]:
    """The code cells of an executed notebook whose outputs hold an error (for ``--allow-errors``)."""
    raised = []
    for index, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or []:
            if output.get("output_type") == "error":
                raised.append(RaisedCell(cell=index, ename=str(output.get("ename", "")),
                                         evalue=str(output.get("evalue", ""))))
                break
    return raised
