"""Capture: what a notebook needs, read from its code and, in a kernel, from what is loaded.

``capture_notebook`` and ``capture_paths`` read cells statically (see ``static``), follow local
modules and ``%run`` scripts (``scan``, ``local``), map imports to distributions (``mapping``)
and return a ``CaptureResult`` holding an ``EnvSpec``. ``live`` and ``merge`` add the versions a
running kernel has loaded; ``capture_with_live`` does both for the CLI and ``%envkit capture``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NotebookError, UsageError
from ..events import Note, Progress, Step, emit
from ..notebook import (
    Notebook,
    check_writable_notebook,
    damaged_record,
    read_notebook,
    update_envkit,
    write_envkit,
)
from ..spec import EnvkitMetadata, EnvSpec
from .live import LiveVersions
from .mapping import Mapper
from .merge import Refreshed, merge_live, merge_stored
from .result import CaptureResult, assemble
from .scan import Scan, SkippedCell

__all__ = ["CaptureResult", "LiveCapture", "Refreshed", "SkippedCell", "capture_current", "capture_notebook",
           "capture_paths",
           "capture_with_live", "find_notebooks"]


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


@dataclass(frozen=True, kw_only=True)
class LiveCapture:
    """Static capture with, in a kernel, the loaded versions merged in (``merge.merge_live``).

    ``spec`` is what ``--write`` stores: ``result.spec`` itself when there was no live merge.
    """

    result: CaptureResult
    spec: EnvSpec
    live: LiveVersions | None = None
    notebook: Path | None = None  # the single notebook named, when one was
    base: Notebook | None = None  # the read of that notebook the capture is based on (compare-and-swap)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: the static result with the merged requirements and python."""
        data = self.result.to_json()
        data["requirements"] = [r.to_json() for r in self.spec.requirements]
        data["python"] = self.spec.python
        data["spec_digest"] = self.spec.digest()
        if self.live is not None:
            data["live"] = self.live.to_json()
        return data

    def write(self) -> tuple[Path, str | None, str]:
        """Store ``spec`` in the single notebook's metadata: through the editor when one holds the
        notebook, else in the file if it is unchanged since the capture read it (``base``).

        A damaged record is the repair's case: it is replaced by a fresh one holding only the
        spec. Returns the notebook's path, what was wrong with the old record (None when it was
        sound and was updated) and where the record went (``"editor"`` or ``"file"``).
        """
        if self.notebook is None:
            raise UsageError("--write stores the spec in one notebook; several notebooks or a folder were named",
                             "run 'envkit capture --write NOTEBOOK' for each notebook")
        damaged = damaged_record(self.notebook)
        if damaged is None:
            update_envkit(self.notebook, spec=self.spec, expected=self.base)
            where = "editor" if self.base is not None and self.base.source == "editor" else "file"
        else:
            where = write_envkit(self.notebook, EnvkitMetadata(spec=self.spec), expected=self.base)
        return self.notebook, damaged, where


def capture_with_live(paths: Iterable[str | os.PathLike[str]], *, live: bool = False, for_write: bool = False,
                      mapper: Mapper | None = None, progress: Progress | None = None) -> LiveCapture:
    """What the notebooks at ``paths`` need; with ``live``, pinned to what this interpreter has loaded.

    ``live`` belongs to a kernel running the notebook (``%envkit capture``). With ``for_write``
    the single notebook is checked to be writable before the scan, so a read-only file fails
    at once rather than after a long scan.
    """
    paths = [Path(p) for p in paths]
    single = paths[0] if len(paths) == 1 and not paths[0].is_dir() else None
    if for_write and single is None:
        raise UsageError("--write stores the spec in one notebook; several notebooks or a folder were named",
                         "run 'envkit capture --write NOTEBOOK' for each notebook")
    # The read a later write is based on: the file is written only if unchanged since (checked
    # writable now when --write asks, so a read-only file fails before a long scan).
    base = None
    if single is not None and single.suffix == ".ipynb":
        base = check_writable_notebook(single) if for_write else read_notebook(single)
    result = capture_paths(paths, mapper=mapper, progress=progress)
    if not live:
        return LiveCapture(result=result, spec=result.spec, notebook=single, base=base)
    spec, pins = _pinned(result)
    return LiveCapture(result=result, spec=spec, live=pins, notebook=single, base=base)


def capture_current(notebook: Notebook, *, stored: EnvSpec | None, live: bool = False,
                    progress: Progress | None = None) -> Refreshed:
    """What ``notebook`` needs now, merged with its ``stored`` spec (``merge.merge_stored``).

    With ``live`` (in the kernel running the notebook) requirements are pinned to the loaded
    versions by the same rule ``%envkit capture`` shows, so what it shows is what a build
    installs. Every build, run, kernel and launch goes through here: the spec follows the code.
    """
    result = capture_notebook(notebook, progress=progress)  # cells skipped (Python 2 ones in one line) are said
    fresh = _pinned(result)[0] if live else result.spec
    return merge_stored(stored, fresh, live=live)


def _pinned(result: CaptureResult) -> tuple[EnvSpec, LiveVersions]:
    from .live import live_versions

    pins = live_versions(result.spec, imports=result.module_map())
    return merge_live(result.spec, pins), pins
