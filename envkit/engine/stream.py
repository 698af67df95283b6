"""Docker's streamed JSON responses (build, push, pull, load), read one way for all four.

The engine answers these with HTTP 200 and then reports progress, output and failures as a
stream of JSON objects; docker-py passes an in-band ``{"error": …, "errorDetail": …}`` through
as an ordinary chunk (docker-py #3161). ``read`` turns the stream into complete output lines
and ``aux`` data, emits layer progress as events, and raises ``InBandError`` on an error, which
each caller turns into its own envkit error (a failed build, a refusing registry).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..events import Log, Progress, Transfer, emit

# The classic builder wraps a RUN's stderr in colour codes (ESC[91m ... ESC[0m).
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Output:
    """One complete, non-blank line of the stream's ``stream`` text, colour codes removed."""

    line: str


@dataclass(frozen=True)
class Status:
    """A ``status`` message (already emitted as a ``Transfer`` or ``Log`` event)."""

    id: str
    text: str


@dataclass(frozen=True)
class Aux:
    """An ``aux`` object: the built image's ``ID``, a pushed image's ``Digest``."""

    data: Mapping[str, Any]


class InBandError(Exception):
    """An error the engine reported inside a stream it had answered with success."""


def _lines(text: str) -> Iterator[Output]:
    for line in ANSI.sub("", text).splitlines():
        if line.strip():
            yield Output(line.rstrip())


def read(chunks: Iterable[Mapping[str, Any]], progress: Progress | None = None) -> Iterator[Output | Status | Aux]:
    """The stream's messages in order; raises ``InBandError`` at an in-band error.

    The engine forwards output as the writing process wrote it, so one line can arrive in
    several chunks (uv writes ``+ idna==3.10`` piecewise): only complete lines are yielded,
    and the output before an error is yielded before the error is raised.
    """
    pending = ""
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            yield from _lines(pending)
            detail = chunk.get("errorDetail") or {}
            raise InBandError(str(chunk.get("error") or detail.get("message") or "no reason given"))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping):
            yield Aux(aux)
        status = chunk.get("status")
        if status:
            ident = str(chunk.get("id") or "")
            if ident:
                detail = chunk.get("progressDetail") or {}
                emit(progress, Transfer(id=ident, status=str(status), current=int(detail.get("current") or 0),
                                        total=int(detail.get("total") or 0)))
            else:
                emit(progress, Log(line=str(status).rstrip()))
            yield Status(id=ident, text=str(status))
            continue
        text = chunk.get("stream")
        if isinstance(text, str):
            *complete, pending = (pending + text).split("\n")
            for line in complete:
                yield from _lines(line)
    yield from _lines(pending)


__all__ = ["ANSI", "Aux", "InBandError", "Output", "Status", "read"]
