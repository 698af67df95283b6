"""Builder containers of builds the engine dropped, remembered until the engine is back to remove them.

``rm=True, forcerm=True`` make the engine remove a build's containers, but an engine that dies
mid-build cannot, and after its restart the classic builder's container of the interrupted
``RUN`` step is still there, stopped. It carries none of envkit's labels (the builder adds the
build's labels to the image's last step only), so it is found by what the build's own log said:
each `` ---> Running in <id>`` line is noted here as a file ``<cache>/envkit/builds/<engine>/<id>``
holding its owner (``host:pid``), and forgotten when the build ends while the engine answers.
``sweep`` (before every build, and in ``envkit gc``) removes the noted containers whose build
is over: its owner process is gone, or it gave the build up when the engine went away.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import EngineError, EngineUnavailable
from ..ownership import owner, owner_state

ABANDONED = "abandoned"


def _folder(url: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "envkit" / "builds" / hashlib.sha256(url.encode()).hexdigest()[:16]


def note(url: str, container_id: str) -> None:
    """Remember that a build of this process runs ``container_id`` on the engine at ``url``."""
    folder = _folder(url)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / container_id).write_text(owner())
    except OSError:  # no writable cache: the sweep of gc's stale containers is the fallback
        pass


def forget(url: str, container_ids: Iterable[str]) -> None:
    """The build is over and the engine removed its containers itself."""
    for cid in container_ids:
        (_folder(url) / cid).unlink(missing_ok=True)


def abandon(url: str, container_ids: Iterable[str]) -> None:
    """The engine went away during the build: its containers are for the next sweep to remove."""
    for cid in container_ids:
        path = _folder(url) / cid
        if path.exists():
            path.write_text(ABANDONED)


def sweep(url: str) -> list[str]:
    """Remove the noted containers of finished or abandoned builds on the engine at ``url``; their ids.

    A container of a build still running (its owner lives and did not abandon it) is kept.
    """
    from . import containers

    folder = _folder(url)
    removed: list[str] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        try:
            who = path.read_text().strip()
        except OSError:
            continue
        if who != ABANDONED and owner_state(who) != "gone":
            continue
        try:
            containers.remove(path.name)
        except (EngineError, EngineUnavailable):  # the engine is not back yet: try next time
            continue
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


__all__ = ["abandon", "forget", "note", "sweep"]
