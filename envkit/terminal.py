"""The terminal front end's rendering: text tables, and a progress bar for long operations."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .events import Done, Event, Log, Note, Progress, Step, Transfer
from .ui import UI


class TerminalUI(UI):
    """Text to stdout, progress and warnings to stderr (so ``--json`` output stays clean)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def message(self, text: str, *, level: str = "info") -> None:
        stream = sys.stderr if level in ("warning", "progress") else self.stream
        print(("warning: " if level == "warning" else "") + text, file=stream)

    @contextmanager
    def progress(self, title: str) -> Iterator[Progress]:
        from tqdm import tqdm

        bar = tqdm(total=0, desc=title, unit="step", file=sys.stderr, leave=True,
                   disable=None, bar_format="{desc}: {n}/{total} {bar} {elapsed} {postfix}")
        log: list[str] = []

        def sink(event: Event) -> None:
            if isinstance(event, Step):
                if event.total and bar.total != event.total:
                    bar.total = event.total
                bar.n = event.n
                bar.set_postfix_str(event.text[:60], refresh=True)
            elif isinstance(event, Log):
                log.append(event.line)
            elif isinstance(event, Transfer):
                bar.set_postfix_str(f"{event.id[:12]} {event.status}"[:60], refresh=True)
            elif isinstance(event, Note):
                bar.write(("warning: " if event.level == "warning" else "") + event.text, file=sys.stderr)
            elif isinstance(event, Done):
                if bar.total:
                    bar.n = bar.total
                bar.set_postfix_str("done", refresh=True)

        try:
            yield sink
        finally:
            bar.close()
