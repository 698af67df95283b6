"""envkit containers nobody owns any more, and removing them (the container half of ``envkit gc``).

Every kernel, JupyterLab and run container carries ``dev.envkit.owner`` (``host:pid``) and dies
with that owner through its dead-man switch. What can still be left: containers of an envkit
without the switch, containers stopped while the engine was down, a probe or build container
whose process was killed. A container is *stale* when

* its owner process on this host is gone (running or not); or
* it is not running (exited, dead, or created and never started), is older than ``min_age``,
  and no live owner on this host will clean it up itself (no owner label, or another host's).

A running container whose owner lives, or that belongs to another host, is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from .engine import containers, engine_url, leftovers
from .errors import EngineError
from .events import Done, Note, Progress, emit
from .labels import LABEL, LABEL_KIND, LABEL_OWNER
from .ownership import owner_state


@dataclass(frozen=True, kw_only=True)
class StaleContainer:
    """A container ``gc`` removes (or would remove), and why."""

    id: str
    name: str
    kind: str
    status: str
    reason: str


def find_stale_containers(*, min_age: float = 60.0, labels: Mapping[str, str] | None = None) -> list[StaleContainer]:
    """envkit's stale containers (see the module's docstring), narrowed by ``labels``."""
    found = containers.find({LABEL: None, **(labels or {})})
    now = time.time()
    stale = []
    for c in found:
        owner = c.labels.get(LABEL_OWNER, "")
        state = owner_state(owner) if owner else "unknown"
        if state == "gone":
            reason = f"its owner (process {owner.rpartition(':')[2]}) is gone"
        elif state == "unknown" and not c.running and now - (c.created or now) >= min_age:
            reason = f"{c.status or 'stopped'}, and no live owner will remove it"
        else:
            continue
        stale.append(StaleContainer(id=c.id, name=c.name, kind=c.labels.get(LABEL_KIND, ""), status=c.status,
                                    reason=reason))
    return stale


def remove_stale_containers(*, dry_run: bool = False, min_age: float = 60.0,
                            labels: Mapping[str, str] | None = None,
                            progress: Progress | None = None) -> list[StaleContainer]:
    """Remove the stale containers (none when ``dry_run``); returns what was (or would be) removed."""
    found = find_stale_containers(min_age=min_age, labels=labels)
    removed = []
    if not dry_run:  # builder containers of builds the engine dropped (they carry no label of ours)
        removed += [StaleContainer(id=cid, name=cid[:12], kind="build", status="exited",
                                   reason="its build was dropped when the engine went away")
                    for cid in leftovers.sweep(engine_url())]
    for item in found:
        if not dry_run:
            try:
                containers.remove(item.id)
            except EngineError as exc:  # one container the engine refuses must not stop the rest
                emit(progress, Note(text=f"kept container {item.name}: {exc}", level="warning"))
                continue
        removed.append(item)
    emit(progress, Done(text=f"{'would remove' if dry_run else 'removed'} {len(removed)} container(s)"))
    return removed


__all__ = ["StaleContainer", "find_stale_containers", "remove_stale_containers"]
