"""Replacing a file without losing anyone's write: compare-and-swap under a lock, no stray temp files.

``replace_if_unchanged(path, expected, data)`` writes ``data`` only if the file still holds what
was read (``expected``, a content hash): under an exclusive ``flock`` on a sidecar lock file it
re-reads the file, writes a temporary file beside it (fsynced), and swaps the two with Linux's
``renameat2(RENAME_EXCHANGE)``. The swap is atomic and keeps both files, so a save another program
makes at any moment is never destroyed: when the file that came out of the swap is not the one
compared (a save by rename landed in between) or no longer holds the compared bytes (a save in
place landed in between), it is swapped back and ``Changed`` is raised. Where the exchange is not
available (not Linux, or a file system without it) a plain rename follows the check.

Temporary files are ``.<name>.envkit-*.tmp`` beside the target. They are removed on every path
Python controls, SIGTERM and SIGHUP included (turned into an exception for the write's duration,
then delivered again), and the next write under the lock removes any a SIGKILL left.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOCK_TIMEOUT = 30.0


class Changed(Exception):
    """The file is not what was read; nothing was written. ``kept`` names a file set aside."""

    def __init__(self, message: str, kept: Path | None = None) -> None:
        super().__init__(message)
        self.kept = kept


class Busy(Exception):
    """Another writer held the lock for longer than ``LOCK_TIMEOUT``."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived during a write (delivered again once the temp file is gone)."""


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What a read saw: the bytes' SHA-256 and size, and the file's identity and mtime."""

    sha256: str
    size: int
    mtime_ns: int
    inode: int
    device: int

    def same_content(self, other: Snapshot) -> bool:
        return self.size == other.size and self.sha256 == other.sha256


def _snapshot_fd(fd: int) -> tuple[bytes, Snapshot]:
    st = os.fstat(fd)
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    data = b"".join(chunks)
    return data, Snapshot(sha256=hashlib.sha256(data).hexdigest(), size=len(data), mtime_ns=st.st_mtime_ns,
                          inode=st.st_ino, device=st.st_dev)


def read_with_snapshot(path: Path) -> tuple[bytes, Snapshot]:
    """The file's bytes and the snapshot ``replace_if_unchanged`` compares against."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return _snapshot_fd(fd)
    finally:
        os.close(fd)


_raising = False


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """During the block, SIGTERM/SIGHUP raise ``Terminated`` so ``finally`` clauses run.

    Python's default for SIGTERM ends the process without running them (a 15 MB temp file stayed
    beside a notebook that way). Afterwards the signal is delivered again to the previous
    handler, so the process still ends as the sender meant. Only the main thread can do this.
    """
    global _raising
    if _raising or threading.current_thread() is not threading.main_thread():
        yield  # an outer block already raises (its finally delivers the signal), or cannot
        return
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    _raising = True
    try:
        yield
    finally:
        _raising = False
        for s, h in previous.items():
            signal.signal(s, h)
        if received:
            os.kill(os.getpid(), received[0])


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGHUP wait (blocked, not lost) until the block ends; main thread, POSIX only."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def temp_name(path: Path) -> str:
    """The prefix of envkit's temporary files beside ``path``."""
    return f".{path.name}.envkit-"


@contextlib.contextmanager
def temp_beside(path: Path) -> Iterator[Path]:
    """A new empty temporary file in ``path``'s folder, removed at exit if it is still there."""
    tmp: Path | None = None
    with _signals_raise():
        try:
            # Held between creating the file and knowing its name: a SIGTERM landing there would
            # leave a file no finally knows of. It is delivered once the name is known.
            with _signals_held():
                fd, name = tempfile.mkstemp(prefix=temp_name(path), suffix=".tmp", dir=path.parent)
                tmp = Path(name)
            os.close(fd)
            yield tmp
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def _write(tmp: Path, data: bytes, mode: int) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder; the rename stands
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no comparison)."""
    mode = _mode_of(path)
    with temp_beside(path) as tmp:
        _write(tmp, data, mode)
        os.replace(tmp, path)
    _fsync_dir(path.parent)


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o644


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2: object = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the system cannot."""
    global _renameat2
    if _renameat2 is None:
        try:
            _renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", False)
        except OSError:
            _renameat2 = False
    if not _renameat2:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:  # type: ignore[operator]
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive ``flock`` on ``.<name>.envkit-lock`` beside ``path``, removed on release.

    A waiter may lock a file its holder has just removed; it then sees the path no longer names
    the file it holds and starts again, so two writers never both hold "the" lock.
    """
    lock = path.with_name(f".{path.name}.envkit-lock")
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Busy(f"{path}: another envkit process has been writing it for {timeout:.0f}s") from None
                    time.sleep(0.01)
            held = os.fstat(fd)
            try:
                now = os.stat(lock)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _sweep(path: Path) -> None:
    """Remove temp files a killed writer left (only called under the lock, so none is live)."""
    prefix = temp_name(path)
    for stale in path.parent.glob(f"{glob_escape(prefix)}*.tmp"):
        stale.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def replace_if_unchanged(path: Path, expected: Snapshot, data: bytes) -> None:
    """Write ``data`` to ``path`` if it still holds the bytes ``expected`` describes; else ``Changed``."""
    with _signals_raise(), file_lock(path):
        _sweep(path)
        mode = _mode_of(path)
        with temp_beside(path) as tmp:
            _write(tmp, data, mode)
            ours = os.stat(tmp)
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                raise Changed(f"{path}: was removed since envkit read it") from None
            try:
                _, before = _snapshot_fd(fd)
                if not before.same_content(expected):
                    raise Changed(f"{path}: changed on disk since envkit read it")
                if not _exchange(tmp, path):
                    os.replace(tmp, path)
                else:
                    _check_exchanged(path, tmp, fd, expected, ours)
            finally:
                os.close(fd)
    _fsync_dir(path.parent)


def _check_exchanged(path: Path, tmp: Path, fd: int, expected: Snapshot, ours: os.stat_result) -> None:
    """After the swap ``tmp`` names the file that was at ``path``: make sure it was the one compared."""
    out = os.stat(tmp)
    held = os.fstat(fd)
    _, after = _snapshot_fd(fd)
    if (out.st_ino, out.st_dev) == (held.st_ino, held.st_dev) and after.same_content(expected):
        return  # the compared file, still unchanged: ours is in place; the old one goes with tmp
    _exchange(tmp, path)  # someone saved in between: their file goes back in place
    back = os.stat(tmp)
    kept = None
    if (back.st_ino, back.st_dev) != (ours.st_ino, ours.st_dev):
        # Yet another save replaced ours in the instant between the two swaps: the newest goes
        # back in place, the one before it is kept beside it. Nothing is deleted.
        _exchange(tmp, path)
        kept = path.with_name(f"{path.stem}.envkit-conflict-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        os.replace(tmp, kept)
    raise Changed(f"{path}: changed on disk while envkit wrote it", kept=kept)
