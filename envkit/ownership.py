"""Whose a container is: the ``dev.envkit.owner`` label (``host:pid``) and whether that owner lives.

Kernel, JupyterLab and run containers carry their owner; the dead-man switch removes them when
the owner dies, and ``sweep``/``envkit gc`` remove what an older envkit, or a crash of the
engine itself, left behind: a container whose owner on this host is gone.
"""

from __future__ import annotations

import os
import socket


def owner() -> str:
    """This process as a container owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_state(label: str) -> str:
    """``"alive"``, ``"gone"`` (its process on this host ended) or ``"unknown"`` (another host, no label).

    A bare pid (labels written by envkit 0.1's launch) means this host.
    """
    host, _, pid = label.rpartition(":")
    if not pid.isdigit() or (host and host != socket.gethostname()):
        return "unknown"
    return "alive" if alive(int(pid)) else "gone"


__all__ = ["alive", "owner", "owner_state"]
