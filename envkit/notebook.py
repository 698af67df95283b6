"""Reading notebooks and writing envkit's metadata back, never behind an editor's back.

The open document is the truth. In a kernel whose notebook is open in JupyterLab 4 / Notebook 7
with envkit's extension, ``read_notebook`` returns the notebook as the editor holds it (unsaved
cells included) and ``write_envkit`` sets ``metadata.envkit`` in the open document through the
front end (``envkit.frontend``): the user's own save persists it.

Otherwise (the CLI, VS Code, nbclient, JupyterLab without the extension) the file is written, and
only if it still holds the bytes envkit read (``envkit.atomic``: compare-and-swap under a lock,
an atomic swap, no stray temp file); else nothing is written and one line says to save and
retry. Only ``metadata.envkit`` is envkit's: a write loads the file's own JSON, replaces that one
key and validates the result against nbformat's schema (``envkit.notebook_schema``), so cells,
outputs, ids and every other metadata key come back as they were.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic, frontend
from .errors import NotebookError
from .notebook_schema import schema_error
from .spec import EnvkitMetadata

METADATA_KEY = "envkit"


@dataclass(frozen=True, kw_only=True)
class Cell:
    """A code cell: ``index`` is 1-based over all cells, as a user counts them."""

    index: int
    source: str


@dataclass(frozen=True, kw_only=True)
class Notebook:
    """A notebook as read: its path, raw JSON, format version, and where it came from.

    ``source`` is ``"file"`` (``snapshot`` then says what was read, for compare-and-swap) or
    ``"editor"`` (the open document a front end sent; no outputs).
    """

    path: Path
    raw: dict[str, Any]
    nbformat: int
    source: str = "file"
    snapshot: atomic.Snapshot | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return self.raw.get("metadata") or {}

    def code_cells(self) -> list[Cell]:
        """The code cells with their sources joined (nbformat stores lines as a list)."""
        cells = self.raw.get("cells")
        if cells is None:  # nbformat 3 keeps cells inside worksheets
            cells = [c for ws in self.raw.get("worksheets", []) for c in ws.get("cells", [])]
        out = []
        for i, cell in enumerate(cells, start=1):
            if cell.get("cell_type") != "code":
                continue
            src = cell.get("source", cell.get("input", ""))
            out.append(Cell(index=i, source="".join(src) if isinstance(src, list) else str(src)))
        return out

    def envkit(self) -> EnvkitMetadata | None:
        """The envkit metadata stored in this notebook, or None.

        Every value is checked against its grammar (``envkit.validate``) before anything uses
        it: a damaged or hand-edited record is one line naming the notebook and the field.
        """
        from .validate import Invalid, comment, shown

        where = comment(self.path)  # a file name with a newline stays on its line
        hint = f"run 'envkit capture --write {shlex.quote(where)}' to replace it with a fresh capture"
        metadata = self.raw.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise NotebookError(f"{where}: metadata: expected an object", hint)
        data = (metadata or {}).get(METADATA_KEY)
        if data is None or data == {}:
            return None
        try:
            return EnvkitMetadata.from_json(data, f"metadata.{METADATA_KEY}")
        except Invalid as exc:
            raise NotebookError(f"{where}: {exc.message}", hint) from None
        except NotebookError as exc:  # a schema this envkit does not read: name the file
            raise NotebookError(f"{where}: {exc.message}", exc.hint) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise NotebookError(f"{where}: metadata.envkit is damaged ({shown(exc, 200)})",
                                hint) from exc

    def kernel_language(self) -> str:
        info = self.metadata.get("language_info") or {}
        spec = self.metadata.get("kernelspec") or {}
        return str(info.get("name") or spec.get("language") or "python").lower()

    def python_version(self) -> str | None:
        """``X.Y`` from the notebook's language_info, when it recorded one."""
        info = self.metadata.get("language_info") or {}
        version = str(info.get("version") or "")
        parts = version.split(".")
        if info.get("name", "python") == "python" and len(parts) >= 2 and re.fullmatch(r"[0-9]+", parts[0]) \
                and re.fullmatch(r"[0-9]+", parts[1]):
            return f"{parts[0]}.{parts[1]}"
        return None


def read_notebook(path: str | os.PathLike[str]) -> Notebook:
    """The notebook at ``path``: as its editor holds it when a front end answers, else the file."""
    p = Path(path)
    doc = frontend.document(p)
    if doc is not None:
        return Notebook(path=p, raw=copy.deepcopy(doc.raw), nbformat=int(doc.raw.get("nbformat", 4)),
                        source="editor")
    return read_notebook_file(p)


def read_notebook_file(path: str | os.PathLike[str]) -> Notebook:
    """Read the file at ``path`` as a Jupyter notebook, with a one-line error naming what is wrong."""
    p = Path(path)
    if p.is_dir():
        raise NotebookError(f"{p}: is a folder, not a notebook")
    try:
        data, snapshot = atomic.read_with_snapshot(p)
    except FileNotFoundError:
        raise NotebookError(f"{p}: no such file") from None
    except OSError as exc:
        raise NotebookError(f"{p}: cannot read it ({exc.strerror})") from exc
    if not data.strip():
        raise NotebookError(f"{p}: the file is empty, not a notebook",
                            "open it in Jupyter and save it, or pass another file")
    try:
        raw = json.loads(data)
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{p}: not a notebook (not UTF-8 text)") from exc
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                            "the file is damaged; restore it from a checkpoint or version control") from exc
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise NotebookError(f"{p}: JSON, but not a Jupyter notebook (no 'nbformat' field)")
    version = raw.get("nbformat")
    if not isinstance(version, int) or version < 3:
        raise NotebookError(f"{p}: nbformat {version!r} is not supported",
                            "convert it: jupyter nbconvert --to notebook --nbformat 4")
    if version == 3 and not isinstance(raw.get("worksheets", []), list):
        raise NotebookError(f"{p}: nbformat 3 notebook without a worksheets list")
    if version >= 4 and not isinstance(raw.get("cells"), list):
        raise NotebookError(f"{p}: notebook has no 'cells' list")
    return Notebook(path=p, raw=raw, nbformat=version, snapshot=snapshot)


def _check_writable(p: Path) -> None:
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise NotebookError(f"{p}: cannot write it ({exc.strerror})") from exc
    # As root os.access() says yes to read-only files: honour the mode bits as a user would.
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(p, os.W_OK):
        raise NotebookError(f"{p}: the file is read-only; nothing was written",
                            "make it writable (chmod u+w) or copy it, then run again")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise NotebookError(f"{p}: its folder is not writable; nothing was written")


def check_writable_notebook(path: str | os.PathLike[str]) -> Notebook:
    """The notebook at ``path``, checked to be one envkit can write its metadata into.

    Front ends call this before long work whose result goes into the notebook (``capture
    --write``), so that a read-only file fails at once.
    """
    nb = read_notebook(path)
    if nb.nbformat < 4:
        raise NotebookError(f"{nb.path}: nbformat {nb.nbformat} notebooks are read, not written",
                            "convert it first: jupyter nbconvert --to notebook --nbformat 4 --inplace")
    _check_writable(nb.path)
    return nb


def dumps_notebook(raw: dict[str, Any]) -> str:
    """Serialise as Jupyter does (nbformat.writes: indent 1, sorted keys, trailing newline)."""
    return json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_text(p: Path, text: str) -> None:
    """Write ``text`` to ``p`` through a temporary file in the same folder and a rename."""
    atomic.write_atomic(p, text.encode("utf-8"))


def write_envkit(path: str | os.PathLike[str], meta: EnvkitMetadata, *, expected: Notebook | None = None) -> str:
    """Store ``meta`` at ``metadata.envkit`` in the notebook at ``path``; returns where it went.

    ``"editor"``: set in the open document through envkit's front end (the user's save keeps
    it). ``"file"``: written to the file, which must still hold what ``expected`` read (default:
    a read made now); when it does not, nothing is written and ``NotebookChanged`` says to save
    and retry.
    """
    p = Path(path)
    if frontend.write_record(p, meta.to_json()):
        return "editor"
    nb = expected if expected is not None and expected.snapshot is not None else read_notebook_file(p)
    if nb.nbformat < 4:
        raise NotebookError(f"{nb.path}: nbformat {nb.nbformat} notebooks are read, not written",
                            "convert it first: jupyter nbconvert --to notebook --nbformat 4 --inplace")
    _check_writable(nb.path)
    raw = copy.deepcopy(nb.raw)
    raw.setdefault("metadata", {})[METADATA_KEY] = meta.to_json()
    invalid = schema_error(raw)
    if invalid is not None:
        raise NotebookError(f"{nb.path}: would not be a valid notebook after writing; nothing was written",
                            f"nbformat says: {invalid}")
    assert nb.snapshot is not None  # a file read always has one
    try:
        atomic.replace_if_unchanged(nb.path, nb.snapshot, dumps_notebook(raw).encode("utf-8"))
    except atomic.Changed as exc:
        kept = f" (an earlier save is kept as {exc.kept.name})" if exc.kept else ""
        raise NotebookChanged(f"{exc}; nothing was written{kept}: save the notebook, then run the command again") \
            from None
    except atomic.Busy as exc:
        raise NotebookError(str(exc), "wait for it to finish, then run the command again") from None
    except OSError as exc:
        raise NotebookError(f"{nb.path}: cannot write it ({exc.strerror}); nothing was written") from exc
    return "file"


def damaged_record(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with the notebook's envkit record, or None when it is sound or absent."""
    from .validate import comment

    nb = read_notebook(path)
    if not isinstance(nb.raw.get("metadata", {}), dict):
        return None  # not a notebook nbformat accepts: a write says so
    try:
        nb.envkit()
    except NotebookError as exc:
        return exc.message.removeprefix(f"{comment(nb.path)}: ")
    return None


class NotebookChanged(NotebookError):
    """The file changed after envkit read it: nothing was written (one line; no hint)."""


def update_envkit(path: str | os.PathLike[str], *, expected: Notebook | None = None,
                  **changes: Any) -> EnvkitMetadata:
    """Apply ``changes`` (spec/lock/image) to the notebook's envkit metadata and store it.

    The current metadata comes from ``expected`` when it is a file read (the read a command's
    result is based on, so the file is written only if it has not changed since), else from a
    read now (the editor's document is always current).
    """
    nb = expected if expected is not None and expected.source == "file" else read_notebook(path)
    current = nb.envkit() or EnvkitMetadata()
    new = current.replace(**changes)
    write_envkit(path, new, expected=nb if nb.source == "file" else None)
    return new
