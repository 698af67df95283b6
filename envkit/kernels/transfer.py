"""Files to and from a kernel whose engine does not see the client's files.

A remote engine (tcp://, ssh://, a Docker context naming one, or a daemon in a mount namespace
of its own) cannot bind-mount client paths. The kernel's connection file and the notebook's
folder then go into the created container as one tar (``pack``, sent with ``put_archive``
before it starts), at the same paths a bind mount would give; when the kernel ends, the
folder comes back as a tar (``get_archive``) and ``unpack`` writes only the files the kernel
created or changed. A file changed on both sides keeps the client's version (a notebook
saved in JupyterLab meanwhile is never reverted); the container's version is written next to
it under a name of its own (``beside_name``: ``answer.from-kernel.ipynb`` for kernels and
``envkit run``, ``answer.from-lab.ipynb`` for ``envkit launch``) and ``conflict_notes`` names
both. Nothing is deleted on the client.

A launch can be stopped by a process that did not start it (``envkit launch --stop``), which
has no snapshot in memory: ``snapshot_archive`` stores it in the container at ``SNAPSHOT_PATH``
and ``read_snapshot`` reads it back. Pure logic: no engine here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import KernelError

# Folders that are tooling, not the notebook's data: never sent (and so never come back).
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__",
                          ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"})
MAX_FILES = 5000
MAX_BYTES = 512 * 1024 * 1024
# The tags of a container's version written beside a client file changed meanwhile.
BESIDE_KERNEL = "from-kernel"  # kernels and envkit run: answer.from-kernel.ipynb
BESIDE_LAB = "from-lab"  # envkit launch: answer.from-lab.ipynb
# Where a launch container keeps its snapshot, for whichever process stops it. Outside the
# folder (so it never comes back) and root's (JupyterLab never runs as root by default and
# has no capabilities, so it cannot rewrite which files count as changed).
SNAPSHOT_PATH = "/var/lib/envkit/copy-back.json"


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What was sent: the folder and each file's digest, by path relative to the folder."""

    folder: Path
    sent: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Returned:
    """What ``unpack`` did: files written to the client folder, and files it left alone."""

    written: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()  # changed in the kernel and on the client: the client's kept
    beside: tuple[str, ...] = ()  # where each conflict's container version was written (``beside``), in order


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(name: str, *, uid: int, gid: int, mode: int, size: int = 0, mtime: float = 0,
           kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.uid, info.gid, info.mode, info.size, info.mtime = kind, uid, gid, mode, size, int(mtime)
    return info


def _walk(folder: Path) -> Iterable[tuple[Path, os.stat_result]]:
    """(path, stat) of the folder's directories and regular files, tooling folders skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not os.path.islink(os.path.join(root, d)))
        for name in [*dirs, *sorted(files)]:
            path = Path(root, name)
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                yield path, st


def pack(folder: Path | None, connection_file: str, connection: bytes, *, uid: int, gid: int) -> tuple[bytes, Snapshot]:
    """One tar to unpack at ``/`` in the container: the connection file and ``folder`` at their paths.

    Entries belong to the kernel's ``uid:gid`` (it writes there, as in its own folder); the
    connection file is readable by it only (none with ``connection_file`` empty). Raises
    ``KernelError`` for a folder too large to copy.
    """
    buf = io.BytesIO()
    snapshot = Snapshot(folder=folder or Path("/"))
    with tarfile.open(fileobj=buf, mode="w") as tar:
        if connection_file:
            conn = PurePosixPath(connection_file)
            tar.addfile(_entry(str(conn.parent).lstrip("/"), uid=uid, gid=gid, mode=0o700, kind=tarfile.DIRTYPE))
            tar.addfile(_entry(str(conn).lstrip("/"), uid=uid, gid=gid, mode=0o600, size=len(connection)),
                        io.BytesIO(connection))
        if folder is None:
            return buf.getvalue(), snapshot
        base = folder.as_posix().lstrip("/")
        st = folder.stat()
        tar.addfile(_entry(base, uid=uid, gid=gid, mode=stat.S_IMODE(st.st_mode) | 0o700, mtime=st.st_mtime,
                           kind=tarfile.DIRTYPE))
        total = count = 0
        for path, st in _walk(folder):
            rel = path.relative_to(folder).as_posix()
            name = f"{base}/{rel}"
            mode = stat.S_IMODE(st.st_mode) | 0o700 if stat.S_ISDIR(st.st_mode) else stat.S_IMODE(st.st_mode) | 0o600
            if stat.S_ISDIR(st.st_mode):
                tar.addfile(_entry(name, uid=uid, gid=gid, mode=mode, mtime=st.st_mtime, kind=tarfile.DIRTYPE))
                continue
            count, total = count + 1, total + st.st_size
            if count > MAX_FILES or total > MAX_BYTES:
                raise KernelError(
                    f"the notebook's folder {folder} is too large to copy to a remote engine "
                    f"(over {MAX_FILES} files or {MAX_BYTES // 2**20} MiB)",
                    "start the kernel from the notebook's own folder, or use an engine on this machine")
            try:
                data = path.read_bytes()
            except OSError:
                continue  # unreadable by the caller: a bind mount would not have shown it to the kernel either
            snapshot.sent[rel] = _digest(data)
            tar.addfile(_entry(name, uid=uid, gid=gid, mode=mode, size=len(data), mtime=st.st_mtime),
                        io.BytesIO(data))
    return buf.getvalue(), snapshot


def beside_name(target: Path, tag: str) -> Path:
    """A free name next to ``target`` for another version of it: ``answer.<tag>.ipynb`` (then ``.<tag>-2``, ...)."""
    stem, suffix = (target.stem, target.suffix) if target.stem else (target.name, "")
    for n in range(1, 1000):
        candidate = target.with_name(f"{stem}.{tag}{'' if n == 1 else f'-{n}'}{suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OSError(f"no free name next to {target} for its {tag} version")


def conflict_notes(done: Returned, folder: Path, during: str) -> list[str]:
    """One line per file changed on both sides: the client's copy kept, where the container's went."""
    return [f"{rel} changed in {folder} while {during} ran: kept yours, the container's version is in {other}"
            for rel, other in zip(done.conflicts, done.beside, strict=False)]


def snapshot_archive(snapshot: Snapshot) -> bytes:
    """A tar to unpack at ``/`` that stores ``snapshot`` at ``SNAPSHOT_PATH``, root's, readable by all.

    A file rather than a label: labels are in every container listing and inspect, and a
    snapshot of 5000 files is some 400 KB of digests; the file costs nothing until a stop reads it.
    """
    data = json.dumps({"folder": snapshot.folder.as_posix(), "sent": snapshot.sent}).encode()
    path = PurePosixPath(SNAPSHOT_PATH)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        # Its own folder only: the engine makes missing parents, and an entry for /var would reset its mode.
        tar.addfile(_entry(str(path.parent).lstrip("/"), uid=0, gid=0, mode=0o755, kind=tarfile.DIRTYPE))
        tar.addfile(_entry(str(path).lstrip("/"), uid=0, gid=0, mode=0o644, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def read_snapshot(chunks: Iterable[bytes]) -> Snapshot:
    """The snapshot in ``get_archive``'s tar of ``SNAPSHOT_PATH``; ValueError if it is not one."""
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r") as tar:
        member = next((m for m in tar if m.isreg()), None)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise ValueError(f"no snapshot file at {SNAPSHOT_PATH}")
        found = json.loads(handle.read())
    if not isinstance(found, dict) or not isinstance(found.get("folder"), str) or \
            not isinstance(found.get("sent"), dict) or not PurePosixPath(found["folder"]).is_absolute():
        raise ValueError(f"{SNAPSHOT_PATH} is not an envkit snapshot")
    return Snapshot(folder=Path(found["folder"]), sent={str(k): str(v) for k, v in found["sent"].items()})


def unpack(chunks: Iterable[bytes], snapshot: Snapshot, *, beside: str = "") -> Returned:
    """Write what the kernel created or changed in its folder (``get_archive``'s tar) to the client.

    The archive's names start with the folder's own name. Only regular files below the folder
    are written; links, devices and names leaving the folder are ignored. A client file that
    changed since ``pack`` read it is never overwritten: with ``beside`` (a tag) the container's
    version goes next to it (``beside_name``), else it is only reported.
    """
    folder = snapshot.folder
    written: list[str] = []
    conflicts: list[str] = []
    besides: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r") as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if not member.isreg() or len(parts) < 2 or ".." in parts or member.name.startswith("/"):
                continue
            rel = PurePosixPath(*parts[1:]).as_posix()
            if any(p in SKIPPED_DIRS for p in parts[1:-1]):
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            sent = snapshot.sent.get(rel)
            if sent == _digest(data):
                continue  # unchanged in the kernel
            target = folder / rel
            try:
                current = target.read_bytes() if target.is_file() else None
            except OSError:
                current = None
            if not target.resolve().is_relative_to(folder.resolve()):
                continue  # a client symlink pointing out of the folder
            if current is not None and _digest(current) != sent:
                if _digest(current) != _digest(data):
                    conflicts.append(rel)
                    if beside:
                        other = beside_name(target, beside)
                        other.write_bytes(data)
                        os.chmod(other, member.mode & 0o777)
                        besides.append(other.relative_to(folder).as_posix())
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, member.mode & 0o777)
            written.append(rel)
    return Returned(written=tuple(written), conflicts=tuple(conflicts), beside=tuple(besides))


__all__ = ["BESIDE_KERNEL", "BESIDE_LAB", "MAX_BYTES", "MAX_FILES", "SKIPPED_DIRS", "SNAPSHOT_PATH", "Returned",
           "Snapshot", "beside_name", "conflict_notes", "pack", "read_snapshot", "snapshot_archive", "unpack"]
