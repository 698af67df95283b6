"""Capture: what a notebook needs, read from its code and, in a kernel, from what is loaded.

``capture_notebook`` and ``capture_paths`` read cells statically (see ``static``), follow local
modules and ``%run`` scripts (``scan``, ``local``), map imports to distributions (``mapping``)
and return a ``CaptureResult`` holding an ``EnvSpec``. ``live`` and ``merge`` add the versions a
running kernel has loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import NotebookError
from ..events import Note, Progress, Step, emit
from ..notebook import Notebook, read_notebook
from .mapping import Mapper
from .result import CaptureResult, assemble
from .scan import Scan, SkippedCell

__all__ = ["CaptureResult", "SkippedCell", "capture_notebook", "capture_paths", "find_notebooks"]


def capture_notebook(notebook: str | os.PathLike[str] | Notebook, *, mapper: Mapper | None = None,
                     progress: Progress | None = None) -> CaptureResult:
    """What one notebook needs. Raises ``NotebookError`` when the file is not a readable notebook."""
    nb = notebook if isinstance(notebook, Notebook) else read_notebook(notebook)
    scan = Scan(progress=progress)
    scan.notebook(nb)
    return assemble(scan, mapper=mapper)


def find_notebooks(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The notebooks named, and all notebooks below named folders (``.ipynb_checkpoints`` skipped)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            inside = sorted(q for q in p.rglob("*.ipynb")
                            if ".ipynb_checkpoints" not in q.relative_to(p).parts and q.is_file())
            if not inside:
                raise NotebookError(f"{p}: no notebooks in this folder (.ipynb files, checkpoints skipped)",
                                    "name a notebook or a folder that holds some")
            found.extend(inside)
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def capture_paths(paths: Iterable[str | os.PathLike[str]], *, mapper: Mapper | None = None,
                  progress: Progress | None = None) -> CaptureResult:
    """What several notebooks (or every notebook below folders) need together, merged."""
    paths = list(paths)
    notebooks = find_notebooks(paths)
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    root = folders[0] if len(folders) == 1 and len(paths) == 1 else None
    scan = Scan(root=root, progress=progress, many=len(notebooks) > 1)
    failed: list[NotebookError] = []
    for n, path in enumerate(notebooks, start=1):
        emit(progress, Step(n=n, total=len(notebooks), text=f"reading {path}"))
        try:
            scan.notebook(read_notebook(path))
        except NotebookError as exc:
            if len(notebooks) == 1:
                raise
            # One damaged notebook in a project scan is reported, not the end of the scan.
            failed.append(exc)
            scan.skipped.append(SkippedCell(notebook=str(path), cell=None, reason=exc.message))
            emit(progress, Note(text=exc.message, level="warning"))
    if failed and len(failed) == len(notebooks):
        raise NotebookError(f"none of the {len(notebooks)} notebooks could be read; first: {failed[0].message}",
                            failed[0].hint)
    return assemble(scan, mapper=mapper)
