"""The notebook front end's rendering: HTML tables and an ipywidgets progress panel.

Every rich display also carries a plain-text form, so a saved or exported notebook (and a front
end without widgets) still shows what happened. Widgets are used when ipywidgets imports and the
UI was made with ``widgets=True`` (the magics' ``EnvkitMagics.widgets``, whose default is
``settings.widgets()``); otherwise progress is one line of text updated in place.

What a saved notebook keeps is short text: progress is one display (a widget, or a line) that is
replaced, when the operation ends, by its summary ("build x.ipynb: done in 12.3s" and the
notes), never a widget's repr; the command prints its result once after it; host paths are
written relative to the notebook's folder or ``~``. A link with a token (``%envkit launch``) gets
its token in the page only: see ``NotebookUI.link``.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import EnvkitError, InternalError
from .events import Done, Event, Log, Note, Phase, Progress, Step, Transfer
from .ui import UI, describe_event, progress_summary, relative_paths

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


def _bundle(text: str) -> dict[str, str]:
    """A display bundle of ``text``: preformatted HTML and the same plain text."""
    return {"text/html": f'<pre style="margin:0">{html.escape(text)}</pre>', "text/plain": text}


class _Shown:
    """One display that is updated in place (``display_id``), so only its last form is saved."""

    def __init__(self, data: dict[str, Any]) -> None:
        from IPython.display import display

        self.handle = display(data, raw=True, display_id=True)

    def update(self, data: dict[str, Any]) -> None:
        self.handle.update(data, raw=True)


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
        text = ("warning: " if level == "warning" else "") + relative_paths(text)
        _display(_Rich(f'<pre style="color:{color};margin:0">{html.escape(text)}</pre>', text))

    def link(self, label: str, url: str, *, public_url: str) -> None:
        """A clickable link whose target is ``url`` in the page, while the saved output holds ``public_url``.

        Outputs are saved with the notebook, so ``url`` (with its token) never goes into one: a
        script output carries it to the page (``window.envkitLinks``) and is replaced, at once,
        by the link itself (the same display, updated), so only the link is saved. The script ran
        as it was shown; a click handler it installed points the link at ``url``. Where no script
        runs (a saved copy, a front end without JavaScript), the link opens ``public_url``, whose
        server asks for the token.
        """
        key = secrets.token_hex(8)
        script = (
            "(function(){var w=window;w.envkitLinks=w.envkitLinks||{};"
            f"w.envkitLinks[{json.dumps(key)}]={json.dumps(url)};"
            "if(!w.envkitLinkClicks){w.envkitLinkClicks=true;"
            "document.addEventListener('click',function(e){"
            "var a=e.target&&e.target.closest?e.target.closest('a[data-envkit-link]'):null;"
            "var u=a&&w.envkitLinks[a.getAttribute('data-envkit-link')];if(u){a.href=u;}},true);}})();")
        shown = _Shown({"application/javascript": script, "text/plain": ""})
        text = f"{label}: {public_url}"
        shown.update({
            "text/html": (f'<a href="{html.escape(public_url)}" target="_blank" rel="noopener" '
                          f'data-envkit-link="{key}">{html.escape(label)}: {html.escape(public_url)}</a>'),
            "text/plain": text,
        })

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
        box = w.VBox([button, out])
        # Saved notebooks and front ends without widgets show the button's label, not the widget's repr.
        _Shown({**(box._repr_mimebundle_() or {}), "text/plain": f"[{label}]"})
        self.message(hint)

    @contextmanager
    def progress(self, title: str) -> Iterator[Progress]:
        """One display for the whole operation, replaced by its short summary when it ends."""
        panel: _ProgressPanel | _ProgressLine
        panel = _ProgressPanel(title) if widgets_available(self.widgets) else _ProgressLine(title)
        try:
            yield panel.handle
        except BaseException:
            panel.finish(failed=True)  # the error itself is the cell's error output
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


class _ProgressLine:
    """Progress without widgets: one line of text (step, phase, note) updated in place."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.monotonic()
        self.step = ""
        self.notes: list[str] = []
        self.shown = _Shown(_bundle(f"{title}: starting…"))

    def handle(self, event: Event) -> None:
        if isinstance(event, Step):
            total = f"/{event.total}" if event.total else ""
            self.step = f"[{event.n}{total}] {event.text}"
            self.shown.update(_bundle(f"{self.title}: {self.step}"))
        elif isinstance(event, Phase):
            self.shown.update(_bundle(f"{self.title}: {self.step}: {event.text}"))
        elif isinstance(event, Note):
            self.notes.append(relative_paths(("warning: " if event.level == "warning" else "") + event.text))

    def finish(self, failed: bool = False) -> None:
        seconds = time.monotonic() - self.started
        self.shown.update(_bundle(progress_summary(self.title, seconds=seconds, notes=self.notes, failed=failed)))


class _ProgressPanel:
    """Progress bar, current step and phase, and a collapsible log; replaced by a summary at the end.

    The display's plain-text form is always the short summary, never the widget's repr: a
    notebook saved while the operation runs keeps "build x.ipynb: running", and the end
    replaces the widget with the summary (the widget is closed, so no state lingers).
    """

    def __init__(self, title: str) -> None:
        import ipywidgets as w

        self.title = title
        self.started = time.monotonic()
        self.bar = w.IntProgress(value=0, min=0, max=1, description=title[:20],
                                 layout=w.Layout(width="60%"))
        self.step = w.HTML("<i>starting…</i>")
        self.label = ""
        self.log = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%", height="220px"))
        self.accordion = w.Accordion(children=[self.log])
        self.accordion.set_title(0, "Log")
        self.accordion.selected_index = None
        self.result = w.HTML("")
        self.row = w.HBox([self.bar, self.step])
        self.box = w.VBox([self.row, self.accordion, self.result])
        self.lines: list[str] = []
        self.notes: list[str] = []
        view = self.box._repr_mimebundle_() or {}
        self.shown = _Shown({**view, "text/plain": f"{title}: running"})

    def handle(self, event: Event) -> None:
        if isinstance(event, Step):
            if event.total:
                self.bar.max = max(event.total, 1)
            self.bar.value = min(event.n, self.bar.max)
            self.label = describe_event(event)
            self.step.value = html.escape(self.label)
        elif isinstance(event, Phase):
            self.step.value = f"{html.escape(self.label)} — <i>{html.escape(event.text)}</i>"
        elif isinstance(event, Log | Transfer):
            self.lines.append(describe_event(event))
            del self.lines[:-LOG_LINES_KEPT]
            self.log.value = "\n".join(self.lines)
        elif isinstance(event, Note):
            self.notes.append(relative_paths(("warning: " if event.level == "warning" else "") + event.text))
            self.step.value = html.escape(event.text)
        elif isinstance(event, Done):
            self.bar.value = self.bar.max
            self.result.value = f"<b>{html.escape(relative_paths(event.text))}</b>"

    def finish(self, failed: bool = False) -> None:
        seconds = time.monotonic() - self.started
        self.shown.update(_bundle(progress_summary(self.title, seconds=seconds, notes=self.notes, failed=failed)))
        for widget in (self.bar, self.step, self.log, self.accordion, self.result, self.row, self.box):
            widget.close()
