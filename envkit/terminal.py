"""The terminal front end's rendering: text tables, and a progress bar for long operations.

While a long operation runs in an interactive terminal, pressing ``l`` shows or hides its log
(the lines seen so far, then live); ``ENVKIT_VERBOSE=1`` shows it from the start.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .events import Done, Event, Log, Note, Phase, Progress, Step, Transfer
from .settings import verbose
from .ui import UI


class _KeyWatcher:
    """Calls ``on_key`` for each key pressed while active (only when stdin is a terminal)."""

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self.on_key = on_key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None

    def __enter__(self) -> _KeyWatcher:
        try:
            import termios
            import tty

            if not sys.stdin.isatty():
                return self
            fd = sys.stdin.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except (ImportError, OSError, ValueError):
            self._saved = None
            return self
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        import select

        fd = sys.stdin.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                key = os.read(fd, 1).decode(errors="ignore")
                if key:
                    self.on_key(key)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)


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

        if not sys.stderr.isatty():
            # Logs and pipes get lines, not carriage-return animations.
            with self._plain_progress() as sink:
                yield sink
            return
        bar = tqdm(total=0, desc=title, unit="step", file=sys.stderr, leave=True,
                   bar_format="{desc}: {n}/{total} {bar} {elapsed} {postfix}")
        log: list[str] = []
        label = [""]
        show_log = [verbose()]
        lock = threading.Lock()

        def toggle(key: str) -> None:
            if key.lower() != "l":
                return
            with lock:
                show_log[0] = not show_log[0]
                if show_log[0]:
                    for line in log:
                        bar.write(line, file=sys.stderr)

        def sink(event: Event) -> None:
            with lock:
                if isinstance(event, Step):
                    if event.total and bar.total != event.total:
                        bar.total = event.total
                    bar.n = event.n
                    label[0] = event.text
                    bar.set_postfix_str(event.text[:70], refresh=True)
                elif isinstance(event, Phase):
                    bar.set_postfix_str(f"{label[0]}: {event.text}"[:100], refresh=True)
                elif isinstance(event, Log):
                    log.append(event.line)
                    if show_log[0]:
                        bar.write(event.line, file=sys.stderr)
                elif isinstance(event, Transfer):
                    bar.set_postfix_str(f"{event.id[:12]} {event.status}"[:60], refresh=True)
                elif isinstance(event, Note):
                    bar.write(("warning: " if event.level == "warning" else "") + event.text, file=sys.stderr)
                elif isinstance(event, Done):
                    # The bar says it finished; the command prints the result itself, once.
                    if bar.total:
                        bar.n = bar.total
                    bar.set_postfix_str("done", refresh=True)

        if sys.stdin.isatty() and not show_log[0]:
            bar.write("(press l to show the log)", file=sys.stderr)
        try:
            with _KeyWatcher(toggle):
                yield sink
        finally:
            bar.close()

    @contextmanager
    def _plain_progress(self) -> Iterator[Progress]:
        show_log = verbose()

        def sink(event: Event) -> None:
            if isinstance(event, Step) and (show_log or event.total > 1):
                total = f"/{event.total}" if event.total else ""
                print(f"[{event.n}{total}] {event.text}", file=sys.stderr)
            elif isinstance(event, Phase):
                print(f"    {event.text}", file=sys.stderr)
            elif isinstance(event, Log) and show_log:
                print(event.line, file=sys.stderr)
            elif isinstance(event, Note):
                # Done is not printed: the command prints its result itself, once.
                print(("warning: " if event.level == "warning" else "") + event.text, file=sys.stderr)

        yield sink
