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

from .events import Done, Event, Log, Note, Phase, Progress, Step, Transfer


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

    def link(self, label: str, url: str, *, public_url: str) -> None:
        """A link to open: ``url`` may carry a secret (a token) that ``public_url`` lacks.

        A terminal shows ``url`` (nothing is saved); a notebook keeps the secret out of its outputs.
        """
        self.message(f"{label}: {url}")

    @contextmanager
    def progress(self, title: str) -> Iterator[Progress]:
        """A progress sink for one long operation; the plain UI prints steps, phases and notes.

        ``Done`` is not printed: the command prints its result itself, once.
        """

        def sink(event: Event) -> None:
            if isinstance(event, Step):
                total = f"/{event.total}" if event.total else ""
                self.message(f"[{event.n}{total}] {event.text}")
            elif isinstance(event, Phase):
                self.message(f"    {event.text}")
            elif isinstance(event, Note):
                self.message(event.text, level=event.level)

        yield sink

    def default_notebook(self) -> Path | None:
        """The notebook a command applies to when none is named (the magics know theirs)."""
        return None


def describe_event(event: Event) -> str:
    """One line of text for any event (used by every renderer's log view)."""
    if isinstance(event, Step):
        return f"Step {event.n}/{event.total}: {event.text}" if event.total else event.text
    if isinstance(event, Phase):
        return event.text
    if isinstance(event, Log):
        return event.line
    if isinstance(event, Transfer):
        size = f" {event.current}/{event.total}" if event.total else ""
        return f"{event.id}: {event.status}{size}"
    if isinstance(event, Note | Done):
        return event.text
    return str(event)


def relative_paths(text: str, *, cwd: Path | None = None, home: Path | None = None) -> str:
    """``text`` with host paths shortened: relative to ``cwd`` (a kernel's is its notebook's folder), else ``~``.

    Notebook outputs are saved and shared; the user's folders and name need not travel with them.
    """
    cwd = Path.cwd() if cwd is None else cwd
    home = Path.home() if home is None else home
    for base, short in ((cwd, ""), (home, "~/")):
        prefix = str(base).rstrip("/") + "/"
        if prefix != "/":
            text = text.replace(prefix, short)
    return text


def progress_summary(title: str, *, seconds: float, notes: Sequence[str] = (), failed: bool = False) -> str:
    """The short text a finished operation leaves (a saved notebook's output): never the result itself.

    The command prints its result once; this says that the operation finished, how long it
    took, and what the user should know about it (the notes).
    """
    head = f"{title}: failed after {seconds:.1f}s" if failed else f"{title}: done in {seconds:.1f}s"
    return "\n".join([head, *dict.fromkeys(notes)])
