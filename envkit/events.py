"""Progress events: core functions report through a callback; each front end renders them.

A core function takes ``progress: Progress | None`` and calls it with these events. It never
prints. The terminal bar, the ipywidgets panel and a static text summary all consume the same
events, so no front end parses an engine's raw log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Step:
    """A new step begins: ``n`` of ``total`` (0 when unknown), with a short description."""

    n: int
    total: int
    text: str


@dataclass(frozen=True, kw_only=True)
class Phase:
    """Finer progress inside the current step, in words (e.g. "downloading 32 packages")."""

    text: str


@dataclass(frozen=True, kw_only=True)
class Log:
    """One line of an underlying tool's output (build log, installer, server)."""

    line: str


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """Layer download/upload progress (pull, push, load); ``total`` 0 when unknown."""

    id: str
    status: str
    current: int = 0
    total: int = 0


@dataclass(frozen=True, kw_only=True)
class Note:
    """Something the user should know that is not an error (reuse, a warning)."""

    text: str
    level: str = "info"


@dataclass(frozen=True, kw_only=True)
class Done:
    """The operation finished; ``text`` is a one-line summary."""

    text: str


Event = Step | Phase | Log | Transfer | Note | Done
Progress = Callable[[Event], None]


def emit(progress: Progress | None, event: Event) -> None:
    """Send ``event`` to ``progress`` if there is a listener."""
    if progress is not None:
        progress(event)
