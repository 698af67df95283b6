"""The kernel's side of envkit's JupyterLab / Notebook 7 front end (``labextension/``).

``connect(shell)`` (run by ``%load_ext envkit``) opens a comm to target ``envkit``. When the
notebook is open in JupyterLab 4 or Notebook 7 with envkit's extension, the front end answers
``hello`` and from then on sends the notebook as the editor holds it (unsaved cells included, no
outputs) just before each execute request: a kernel runs one shell message at a time, so that
document has arrived when the cell that needs it runs. ``document(path)`` returns it.
``write_record(path, record)`` sends envkit's record to the front end, which sets
``metadata.envkit`` in the open model: the user's own save persists it, and the file is never
changed behind the editor. Comm messages from the kernel reach the front end while the kernel is
busy, so a magic can write while it runs. The protocol is in docs/frontend.md.

Nothing here imports more than ``comm`` (and only in ``connect``): ``envkit.notebook`` asks this
module on every read and write, in the CLI too, where no comm is ever open.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

TARGET = "envkit"
PROTOCOL = 1


@dataclass(frozen=True, kw_only=True)
class Document:
    """The notebook as one front end's editor held it just before the current execution."""

    path: str  # as the front end names it: relative to its server's root
    server_root: str
    session: str  # the front end's session id (the header of every message it sends)
    seq: int
    dirty: bool  # the editor held changes not yet saved
    raw: dict[str, Any]  # nbformat 4 shaped: metadata and cells (sources, no outputs)

    def matches(self, path: Path) -> bool:
        """True when this document is the notebook at ``path`` (on this machine)."""
        target = path.resolve()
        if self.server_root:
            return (Path(self.server_root).expanduser() / self.path).resolve() == target
        # No root known (another front end): the relative path must end the absolute one.
        parts = PurePosixPath(self.path).parts
        return bool(parts) and target.parts[-len(parts):] == parts


@dataclass
class _Link:
    comm: Any
    documents: dict[str, Document] = field(default_factory=dict)
    hellos: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    unsupported: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


_link: _Link | None = None
_kernel: Any = None


def connect(shell: Any = None) -> bool:
    """Open the comm to envkit's front end, once per kernel; False outside a Jupyter kernel."""
    global _link, _kernel
    if _link is not None and not _link.closed:
        return True
    kernel = getattr(shell, "kernel", None)
    if kernel is None:  # plain IPython (a terminal): no front end to talk to
        return False
    from comm import create_comm

    from .version import __version__

    comm = create_comm(target_name=TARGET, data={"protocol": PROTOCOL, "envkit": __version__})
    link = _Link(comm=comm)
    comm.on_msg(lambda msg: _on_msg(link, msg))
    comm.on_close(lambda _msg: _on_close(link))
    _link, _kernel = link, kernel
    return True


def _on_close(link: _Link) -> None:
    # A front end without envkit's extension (or nbclient) answers the open with a close.
    link.closed = True
    link.documents.clear()


def _on_msg(link: _Link, msg: dict[str, Any]) -> None:
    data = msg.get("content", {}).get("data") or {}
    session = str(msg.get("header", {}).get("session", ""))
    kind = data.get("type")
    if kind == "unsupported":
        link.unsupported.append(data)
        return
    if data.get("protocol") != PROTOCOL:
        return  # another protocol version: ignored, never guessed at
    if kind == "hello":
        link.hellos[session] = data
    elif kind == "document":
        doc = _document_from(data, session)
        if doc is not None:
            link.documents[session] = doc
    elif kind == "applied" and data.get("request"):
        link.applied[str(data["request"])] = data


def _document_from(data: dict[str, Any], session: str) -> Document | None:
    cells, metadata = data.get("cells"), data.get("metadata")
    if not isinstance(cells, list) or not isinstance(metadata, dict) or not isinstance(data.get("path"), str):
        return None
    raw = {"cells": cells, "metadata": metadata, "nbformat": int(data.get("nbformat") or 4),
           "nbformat_minor": int(data.get("nbformat_minor") or 5)}
    return Document(path=data["path"], server_root=str(data.get("server_root") or ""), session=session,
                    seq=int(data.get("seq") or 0), dirty=bool(data.get("dirty")), raw=raw)


def _parent_session() -> str | None:
    """The session of the front end whose request the kernel is handling now."""
    if _kernel is None:
        return None
    try:
        parent = _kernel.get_parent("shell")
    except (AttributeError, TypeError):  # ipykernel < 6
        parent = getattr(_kernel, "_parent_header", None)
    header = (parent or {}).get("header") or {}
    session = header.get("session")
    return str(session) if session else None


def document(path: Path | str | None = None) -> Document | None:
    """The open notebook as the editor of the current request holds it, or None.

    None when no envkit front end answered, when the current request came from another client
    (a console, nbclient), or when that editor's document is not the notebook at ``path``.
    """
    if _link is None or _link.closed:
        return None
    session = _parent_session()
    doc = _link.documents.get(session) if session else None
    if doc is None or (path is not None and not doc.matches(Path(path))):
        return None
    return doc


def active() -> bool:
    """True when the current request comes from an editor running envkit's front end."""
    return document() is not None


def write_record(path: Path | str, record: dict[str, Any] | None) -> bool:
    """Set ``metadata.envkit`` to ``record`` in the open notebook at ``path``, through its editor.

    Returns False (nothing sent) when no envkit front end holds that notebook for the current
    request; the caller then writes the file. The document this module holds is updated too, so
    a later read in the same execution sees the record.
    """
    doc = document(path)
    if doc is None or _link is None:
        return False
    request = uuid.uuid4().hex
    _link.comm.send({"type": "record", "protocol": PROTOCOL, "request": request, "path": doc.path,
                     "record": record})
    raw = copy.deepcopy(doc.raw)
    if record is None:
        raw["metadata"].pop("envkit", None)
    else:
        raw["metadata"]["envkit"] = copy.deepcopy(record)
    _link.documents[doc.session] = Document(path=doc.path, server_root=doc.server_root, session=doc.session,
                                            seq=doc.seq, dirty=True, raw=raw)
    return True


def notebook_path() -> Path | None:
    """The notebook's absolute path, when the current request's editor said where its root is."""
    doc = document()
    if doc is None or not doc.server_root:
        return None
    return (Path(doc.server_root).expanduser() / doc.path).resolve()


def disconnect() -> None:
    """Close the comm (``%unload_ext envkit``); reads and writes go to the file again."""
    global _link, _kernel
    if _link is not None and not _link.closed:
        _link.comm.close()
        _link.closed = True
    _link, _kernel = None, None
