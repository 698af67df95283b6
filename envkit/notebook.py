"""Reading notebooks and writing envkit's metadata back, atomically, keeping everything else.

Only ``metadata.envkit`` is envkit's. A write loads the file's own JSON, replaces that one key,
validates the result with nbformat, and renames a temporary file in the same folder over the
original, so cells, outputs, ids and every other metadata key come back as they were, and a
crash leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NotebookError
from .spec import EnvkitMetadata

METADATA_KEY = "envkit"


@dataclass(frozen=True, kw_only=True)
class Cell:
    """A code cell: ``index`` is 1-based over all cells, as a user counts them."""

    index: int
    source: str


@dataclass(frozen=True, kw_only=True)
class Notebook:
    """A notebook as read from disk: its path, raw JSON, and format version."""

    path: Path
    raw: dict[str, Any]
    nbformat: int

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
    """Read ``path`` as a Jupyter notebook, with a one-line error naming what is wrong."""
    p = Path(path)
    if p.is_dir():
        raise NotebookError(f"{p}: is a folder, not a notebook")
    try:
        data = p.read_bytes()
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
    return Notebook(path=p, raw=raw, nbformat=version)


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
    mode = stat.S_IMODE(p.stat().st_mode) if p.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_envkit(path: str | os.PathLike[str], meta: EnvkitMetadata) -> None:
    """Store ``meta`` at ``metadata.envkit`` in the notebook at ``path``, atomically."""
    import nbformat

    nb = read_notebook(path)
    if nb.nbformat < 4:
        raise NotebookError(f"{nb.path}: nbformat {nb.nbformat} notebooks are read, not written",
                            "convert it first: jupyter nbconvert --to notebook --nbformat 4 --inplace")
    _check_writable(nb.path)
    raw = nb.raw
    raw.setdefault("metadata", {})[METADATA_KEY] = meta.to_json()
    try:
        nbformat.validate(nbformat.from_dict(json.loads(json.dumps(raw))))
    except nbformat.ValidationError as exc:
        raise NotebookError(f"{nb.path}: would not be a valid notebook after writing; nothing was written",
                            f"nbformat says: {str(exc).splitlines()[0]}") from exc
    atomic_write_text(nb.path, dumps_notebook(raw))


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


def update_envkit(path: str | os.PathLike[str], **changes: Any) -> EnvkitMetadata:
    """Read the notebook's envkit metadata, apply ``changes`` (spec/lock/image), write it back."""
    current = read_notebook(path).envkit() or EnvkitMetadata()
    new = current.replace(**changes)
    write_envkit(path, new)
    return new
