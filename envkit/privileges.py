"""Who a kernel or JupyterLab container runs as, and the limits it gets when none are asked for.

Least privilege: a container never runs as uid 0 by default. A non-root caller's containers run
as the caller's uid:gid, so the files they write belong to the caller. A root caller's run as
the owner of the notebook's folder when that is not root (``sudo envkit launch`` in someone's
project writes files as that someone), else as the image's own user (``envkit`` in envkit's
images, uid chosen at build time; ``nobody`` when an image's user is root). A root-owned
folder stays root-owned: envkit never chowns the caller's files, it says the folder is
closed to the container's user and what to do (``folder_access``, ``folder_hint``): give the
folder to that uid, or ask for root explicitly (``user="root"``, ``--user root``).

Limits: the engine's default is none at all, so one runaway notebook (a fork bomb, a leak) can
take the whole machine down. Every container gets a process limit (``DEFAULT_PIDS_LIMIT``) and a
memory limit (``DEFAULT_MEMORY_FRACTION`` of the engine's memory); options raise them, and
``0`` (memory) or ``-1`` (processes) lift them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_PIDS_LIMIT = 4096
DEFAULT_MEMORY_FRACTION = 0.75
NOBODY = (65534, 65534)


@dataclass(frozen=True, kw_only=True)
class RunAs:
    """The uid:gid a container runs as, and why (for messages and docs)."""

    uid: int
    gid: int
    why: str

    @property
    def user(self) -> str:
        return f"{self.uid}:{self.gid}"


def _passwd_entry(passwd: str, user: str) -> tuple[int, int] | None:
    """``(uid, gid)`` of ``user`` (a name or a uid) in /etc/passwd text."""
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and (fields[0] == user or fields[2] == user) and fields[2].isdigit() and fields[3].isdigit():
            return int(fields[2]), int(fields[3])
    return None


def resolve_user(config_user: str, passwd: str) -> tuple[int, int]:
    """The non-root ``(uid, gid)`` an image's ``Config.User`` means, given its /etc/passwd."""
    name, _, group = (config_user or "").partition(":")
    found = _passwd_entry(passwd, name) if name else None
    if found is None and name.isdigit():
        found = (int(name), int(group) if group.isdigit() else int(name))
    elif found is not None and group.isdigit():
        found = (found[0], int(group))
    if found is None or found[0] == 0:
        # An image whose user is root (or unknown): its envkit user if it has one, else nobody.
        found = _passwd_entry(passwd, "envkit") or NOBODY
        if found[0] == 0:
            found = NOBODY
    return found


@lru_cache(maxsize=32)
def image_user(image: str) -> tuple[int, int]:
    """The image's own non-root user as ``(uid, gid)``, read from its config and /etc/passwd."""
    from .engine.images import inspect_image, read_file
    from .errors import EngineError

    info = inspect_image(image)
    config_user = info.user if info else ""
    try:
        passwd = read_file(image, "/etc/passwd").decode(errors="replace")
    except EngineError:
        passwd = ""
    return resolve_user(config_user, passwd)


def run_as(image: str, folder: Path | None, *, explicit: str = "", caller_uid: int | None = None,
           caller_gid: int | None = None) -> RunAs:
    """Who a container of ``image`` for a notebook in ``folder`` runs as (see the module's docstring).

    ``explicit`` (``"root"`` or ``"uid[:gid]"``) is the caller's own choice and is taken as given.
    """
    from .settings import run_uid

    if explicit:
        if explicit == "root":
            return RunAs(uid=0, gid=0, why="asked for (user=root)")
        uid_text, _, gid_text = explicit.partition(":")
        return RunAs(uid=int(uid_text), gid=int(gid_text or uid_text), why=f"asked for (user={explicit})")
    uid = run_uid() if caller_uid is None else caller_uid
    gid = (os.getgid() if hasattr(os, "getgid") else uid) if caller_gid is None else caller_gid
    if uid != 0:
        return RunAs(uid=uid, gid=gid, why="the caller's uid")
    if folder is not None:
        try:
            st = folder.stat()
        except OSError:
            st = None
        if st is not None and st.st_uid != 0:
            return RunAs(uid=st.st_uid, gid=st.st_gid, why=f"the owner of {folder}")
    image_uid, image_gid = image_user(image)
    return RunAs(uid=image_uid, gid=image_gid, why="the image's user (the caller is root)")


def _allowed(st: os.stat_result, who: RunAs, bits: tuple[int, int, int]) -> bool:
    """Whether ``who`` has the permission ``bits`` (user, group, other) on a file with ``st``."""
    if who.uid == 0:
        return True  # only when asked for: root with every capability dropped still owns root's files
    if st.st_uid == who.uid:
        return bool(st.st_mode & bits[0])
    if st.st_gid == who.gid:
        return bool(st.st_mode & bits[1])
    return bool(st.st_mode & bits[2])


def folder_access(folder: Path, who: RunAs) -> tuple[bool, bool]:
    """``(enter, write)``: can the container's user use ``folder`` as its working directory, save there."""
    try:
        st = folder.stat()
    except OSError:
        return True, True  # not on this machine (a remote engine): the engine will say
    enter = _allowed(st, who, (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH))
    write = enter and _allowed(st, who, (stat.S_IWUSR, stat.S_IWGRP, stat.S_IWOTH))
    return enter, write


def folder_hint(folder: Path, who: RunAs, option: str) -> str:
    """What to do when ``folder`` is closed to the container's user (``option``: how to ask for root)."""
    return (f"give the container's user the folder ('chown -R {who.uid} {folder}'), or run it as root "
            f"on purpose ({option}; all capabilities stay dropped)")


def folder_warning(folder: Path, who: RunAs, option: str) -> str | None:
    """A warning when the container's user can enter but not write ``folder``, else None."""
    enter, write = folder_access(folder, who)
    if not enter or write:
        return None
    return (f"{folder} is read-only for the container's user (uid {who.uid}, {who.why}): saving there will "
            f"fail; {folder_hint(folder, who, option)}")


@lru_cache(maxsize=4)
def _engine_memory(url: str) -> int:
    from .engine.system import engine_memory

    return engine_memory()


def default_memory_limit() -> int | None:
    """``DEFAULT_MEMORY_FRACTION`` of the engine's memory in bytes (None if it does not say)."""
    from .engine import engine_url

    total = _engine_memory(engine_url())
    return int(total * DEFAULT_MEMORY_FRACTION) if total > 0 else None


def _lifted(value: Any) -> bool:
    return str(value).strip() in ("0", "-1")


def limits(mem_limit: str | int | None = None, pids_limit: int | None = None) -> dict[str, Any]:
    """docker-py ``create_host_config`` limits: the values given, else the defaults."""
    out: dict[str, Any] = {}
    if mem_limit is None:
        memory = default_memory_limit()
        if memory:
            out["mem_limit"] = memory
    elif not _lifted(mem_limit):
        out["mem_limit"] = mem_limit
    if pids_limit is None:
        out["pids_limit"] = DEFAULT_PIDS_LIMIT
    elif not _lifted(pids_limit) and int(pids_limit) > 0:
        out["pids_limit"] = int(pids_limit)
    else:
        out["pids_limit"] = -1
    return out


__all__ = ["DEFAULT_MEMORY_FRACTION", "DEFAULT_PIDS_LIMIT", "RunAs", "default_memory_limit", "folder_access",
           "folder_hint", "folder_warning",
           "image_user", "limits", "resolve_user", "run_as"]
