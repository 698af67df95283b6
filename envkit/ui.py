"""The seam between command modules and the two front ends (terminal and notebook).

A command module (``envkit/commands/<name>.py``) parses nothing and prints nothing: it receives
parsed arguments and a ``UI``, calls core functions, and hands results to the UI. The terminal
renders them as text and a progress bar; the notebook as HTML tables and ipywidgets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .events import Done, Event, Log, Note, Progress, Step, Transfer


class UI:
    """Base front end: plain text to a stream. The terminal UI adds a progress bar."""

    interactive_notebook = False

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def message(self, text: str, *, level: str = "info") -> None:
        """A line for the user; warnings are prefixed so they stand out in logs."""
        prefix = "warning: " if level == "warning" else ""
        print(prefix + text, file=self.stream)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> None:
        """A table with aligned columns."""
        if title:
            print(title, file=self.stream)
        if not rows:
            return
        cells = [[str(c) for c in columns]] + [[str(c) for c in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        for n, row in enumerate(cells):
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=self.stream)
            if n == 0:
                print("  ".join("-" * w for w in widths), file=self.stream)

    def json(self, data: Any) -> None:
        print(json.dumps(data, indent=2, sort_keys=True), file=self.stream)

    def text_block(self, text: str) -> None:
        """Verbatim text such as a Dockerfile."""
        self.stream.write(text if text.endswith("\n") else text + "\n")

    def offer(self, label: str, action: Callable[[], str], *, hint: str) -> None:
        """Offer a follow-up action: a button in a notebook, ``hint`` in a terminal."""
        self.message(hint)

    @contextmanager
    def progress(self, title: str) -> Iterator[Progress]:
        """A progress sink for one long operation; the plain UI prints steps and notes."""

        def sink(event: Event) -> None:
            if isinstance(event, Step):
                total = f"/{event.total}" if event.total else ""
                self.message(f"[{event.n}{total}] {event.text}")
            elif isinstance(event, Note):
                self.message(event.text, level=event.level)
            elif isinstance(event, Done):
                self.message(event.text)

        yield sink

    def default_notebook(self) -> Path | None:
        """The notebook a command applies to when none is named (the magics know theirs)."""
        return None


def describe_event(event: Event) -> str:
    """One line of text for any event (used by every renderer's log view)."""
    if isinstance(event, Step):
        return f"Step {event.n}/{event.total}: {event.text}" if event.total else event.text
    if isinstance(event, Log):
        return event.line
    if isinstance(event, Transfer):
        size = f" {event.current}/{event.total}" if event.total else ""
        return f"{event.id}: {event.status}{size}"
    if isinstance(event, Note | Done):
        return event.text
    return str(event)
