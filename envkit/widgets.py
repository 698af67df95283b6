"""The notebook front end's rendering: HTML tables and an ipywidgets progress panel.

Every rich display also carries a plain-text form, so a saved or exported notebook (and a front
end without widgets) still shows what happened. Widgets are used when ipywidgets imports and the
UI was made with ``widgets=True`` (the magics' ``EnvkitMagics.widgets``, whose default is
``settings.widgets()``); otherwise progress is plain text.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import EnvkitError, InternalError
from .events import Done, Event, Log, Note, Progress, Step, Transfer
from .ui import UI, describe_event

LOG_LINES_KEPT = 400


class _Rich:
    """A display object with an HTML form and a plain-text form."""

    def __init__(self, html_text: str, plain: str) -> None:
        self._html, self._plain = html_text, plain

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._plain


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def widgets_available(enabled: bool = True) -> bool:
    """True when ``enabled`` (the user has not turned widgets off) and ipywidgets imports."""
    if not enabled:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


class NotebookUI(UI):
    """Renders command results inside a running kernel."""

    live_kernel = True
    interactive_notebook = True

    def __init__(self, notebook: Path | None = None, *, widgets: bool | None = None) -> None:
        super().__init__()
        self._notebook = notebook
        if widgets is None:
            from .settings import widgets as widgets_setting

            widgets = widgets_setting()
        self.widgets = widgets

    def default_notebook(self) -> Path | None:
        return self._notebook

    def message(self, text: str, *, level: str = "info") -> None:
        color = {"warning": "#b35900", "error": "#b00020"}.get(level, "inherit")
        prefix = "warning: " if level == "warning" else ""
        _display(_Rich(f'<pre style="color:{color};margin:0">{html.escape(prefix + text)}</pre>',
                       prefix + text))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> None:
        head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in rows)
        caption = f"<caption style='text-align:left'><b>{html.escape(title)}</b></caption>" if title else ""
        plain = _PlainCapture()
        UI(plain).table(columns, rows, title=title)
        _display(_Rich(f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
                       plain.text()))

    def json(self, data: Any) -> None:
        from IPython.display import JSON

        _display(JSON(data))

    def text_block(self, text: str) -> None:
        _display(_Rich(f"<pre>{html.escape(text)}</pre>", text))

    def offer(self, label: str, action: Callable[[], str], *, hint: str) -> None:
        if not widgets_available(self.widgets):
            self.message(hint)
            return
        import ipywidgets as w

        button = w.Button(description=label, button_style="primary", layout=w.Layout(width="auto"))
        out = w.Output()

        def click(_: Any) -> None:
            with out:
                try:
                    print(action())
                except EnvkitError as exc:  # shown in the widget: a button has no cell to fail
                    print(f"envkit: {exc}")
                except Exception as exc:  # a bug: one line too, as the magics show it
                    from .settings import debug

                    if debug():
                        raise
                    print(f"envkit: {InternalError.wrap(exc)}")
            button.disabled = True

        button.on_click(click)
        _display(w.VBox([button, out]))
        self.message(hint)

    @contextmanager
    def progress(self, title: str) -> Iterator[Progress]:
        if not widgets_available(self.widgets):
            with super().progress(title) as sink:
                yield sink
            return
        panel = _ProgressPanel(title)
        _display(panel.box)
        try:
            yield panel.handle
        except BaseException as exc:
            panel.finish(failed=f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise
        else:
            panel.finish()


class _PlainCapture:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> None:
        self.parts.append(s)

    def text(self) -> str:
        return "".join(self.parts).rstrip("\n")


class _ProgressPanel:
    """Progress bar, current step, a collapsible log, and the result line."""

    def __init__(self, title: str) -> None:
        import ipywidgets as w

        self.title = title
        self.started = time.monotonic()
        self.bar = w.IntProgress(value=0, min=0, max=1, description=title[:20],
                                 layout=w.Layout(width="60%"))
        self.step = w.HTML("<i>starting…</i>")
        self.log = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%", height="220px"))
        self.accordion = w.Accordion(children=[self.log])
        self.accordion.set_title(0, "Log")
        self.accordion.selected_index = None
        self.result = w.HTML("")
        self.box = w.VBox([w.HBox([self.bar, self.step]), self.accordion, self.result])
        self.lines: list[str] = []
        self.notes: list[str] = []

    def handle(self, event: Event) -> None:
        if isinstance(event, Step):
            if event.total:
                self.bar.max = max(event.total, 1)
            self.bar.value = min(event.n, self.bar.max)
            self.step.value = html.escape(describe_event(event))
        elif isinstance(event, Log | Transfer):
            self.lines.append(describe_event(event))
            del self.lines[:-LOG_LINES_KEPT]
            self.log.value = "\n".join(self.lines)
        elif isinstance(event, Note):
            self.notes.append(event.text)
            self.step.value = html.escape(event.text)
        elif isinstance(event, Done):
            self.bar.value = self.bar.max
            self.result.value = f"<b>{html.escape(event.text)}</b>"
            self.notes.append(event.text)

    def finish(self, failed: str = "") -> None:
        seconds = time.monotonic() - self.started
        if failed:
            self.bar.bar_style = "danger"
            self.step.value = f"<b>failed</b> after {seconds:.1f}s"
            self.accordion.selected_index = 0
        else:
            self.bar.bar_style = "success"
            self.bar.value = self.bar.max
            self.step.value = f"done in {seconds:.1f}s"
        # A static summary: saved notebooks and front ends without widgets show this text.
        summary = "\n".join([f"{self.title}: {'failed' if failed else 'done'} in {seconds:.1f}s", *self.notes])
        print(summary)
