"""Executing notebooks and cells in a notebook's image, and checking that outputs reproduce.

``run_notebook`` runs every cell with nbclient through a KernelManager whose kernel lives in a
container (``envkit.kernels``), writes the executed copy, and with ``verify`` compares the new
outputs with the stored ones cell by cell after normalising noise (execution counts, timings,
memory addresses, dates, widget model ids). ``execute_cell`` runs one cell's code the same way
for the ``%%envkit run`` cell magic.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Interrupted, KernelError, NotebookError, UsageError
from .events import Done, Note, Progress, Step, emit

# (pattern, replacement) applied to every text output before comparing.
NOISE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^.*per loop \(mean ± std\. dev\. of .*\)$", re.M), "<timeit>"),
    (re.compile(r"0x[0-9a-fA-F]{4,}"), "0x…"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<datetime>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d+\b"),
     "<date>"),
    (re.compile(r"\[[\d:]+<[\d:?]+"), "[<elapsed>"),  # tqdm's [elapsed<remaining, rate]
    (re.compile(r"\d+(\.\d+)?\s?(it/s|s/it)"), "<rate>"),
    (re.compile(r"\b\d+(\.\d+)?(e-?\d+)?\s?(ns|µs|us|ms|s|sec|secs|seconds|min)\b"), "<duration>"),
    (re.compile(r"[ \t]+$", re.M), ""),
)
TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json",
              "application/javascript", "image/svg+xml")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True, kw_only=True)
class CellDiff:
    """A code cell whose outputs did not reproduce: 1-based index over all cells, and a diff."""

    cell: int
    diff: str


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """A notebook run: where the executed copy went, the image, and (with verify) what differed."""

    notebook: Path
    output: Path | None
    image: str
    cells: int
    verified: bool = False
    differences: tuple[CellDiff, ...] = ()

    @property
    def reproduced(self) -> bool:
        return not self.differences


def normalize_text(text: str) -> str:
    """``text`` with run-to-run noise replaced by placeholders."""
    for pattern, repl in NOISE:
        text = pattern.sub(repl, text)
    return text


def _join(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalize_outputs(outputs: list[dict[str, Any]]) -> list[str]:
    """One comparable text per output: streams merged by name, data by MIME type, errors by name."""
    out: list[str] = []
    last_stream = None
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream":
            # ipykernel may split one print across messages differently on each run.
            text = _join(o.get("text", ""))
            if last_stream == o.get("name"):
                out[-1] += text
            else:
                out.append(text)
                last_stream = o.get("name")
            continue
        last_stream = None
        if kind == "error":
            out.append(f"error {o.get('ename')}: {o.get('evalue')}")
        elif kind in ("execute_result", "display_data"):
            parts = []
            for mime, value in sorted((o.get("data") or {}).items()):
                if mime == WIDGET_VIEW:
                    parts.append(f"{mime}: <widget>")
                elif mime in TEXT_TYPES or mime.startswith("text/"):
                    text = value if isinstance(value, str | list) else json.dumps(value, sort_keys=True)
                    parts.append(f"{mime}: {_join(text)}")
                else:
                    # Binary renderings (PNG plots) embed encoder versions and timestamps.
                    parts.append(f"{mime}: <binary>")
            out.append(f"{kind}\n" + "\n".join(parts))
    stream_prefixed = [normalize_text(t) for t in out]
    return stream_prefixed


def compare_cells(stored: list[dict[str, Any]], executed: list[dict[str, Any]]) -> list[CellDiff]:
    """Cell-by-cell differences between two cell lists of the same notebook (code cells only)."""
    diffs = []
    for index, (old, new) in enumerate(zip(stored, executed, strict=True), start=1):
        if old.get("cell_type") != "code":
            continue
        a = normalize_outputs(old.get("outputs", []))
        b = normalize_outputs(new.get("outputs", []))
        if a != b:
            lines = difflib.unified_diff("\n".join(a).splitlines(), "\n".join(b).splitlines(),
                                         "stored", "new", lineterm="", n=1)
            diffs.append(CellDiff(cell=index, diff="\n".join(list(lines)[:40])))
    return diffs


class _Tracker:
    """Which cell nbclient is running, so a failure can name it (1-based over all cells)."""

    def __init__(self) -> None:
        self.cell: int | None = None

    def on_cell_start(self, cell: Any, cell_index: int) -> None:
        self.cell = cell_index + 1


def _execute(nb: Any, image: str, cwd: Path, *, timeout: int, allow_errors: bool,
             label: str = "", tracker: _Tracker | None = None) -> None:
    """Execute ``nb`` in place in a container kernel of ``image``; the kernel is always shut down.

    nbclient leaves a KernelManager it did not create running, so the shutdown is ours. Works
    inside a running event loop too (the ``%%envkit run`` magic runs inside ipykernel).
    A cell that outruns ``timeout`` and an interrupt are ``KernelError``/``Interrupted`` naming
    the cell; ``label`` (the notebook's path) starts their message; ``tracker`` learns which
    cell ran last.
    """
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    from .engine.faults import gone
    from .kernels.kernelspec import kernel_manager
    from .kernels.options import KernelOptions
    from .kernels.provisioner import engine_lost

    km = kernel_manager(KernelOptions(image=image), asynchronous=True)
    tracker = tracker or _Tracker()
    client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd)}}, on_cell_start=tracker.on_cell_start)
    where = f"{label}: " if label else ""

    def interrupted() -> Interrupted:
        step = f"while cell {tracker.cell} ran" if tracker.cell else "while the kernel started"
        return Interrupted(f"{where}interrupted {step}; the kernel was stopped")

    async def go() -> None:
        try:
            await client.async_execute()
        except Exception as exc:
            if _signalled(client):
                raise interrupted() from None
            if isinstance(exc, CellTimeoutError):
                raise KernelError(f"{where}cell {tracker.cell} did not finish within the timeout of {timeout} s; "
                                  "the kernel was stopped", "raise the limit with --timeout SECONDS") from None
            lost = engine_lost(km.kernel_id or "")
            if lost:  # nbclient saw a dead kernel: its engine stopped answering (one line)
                what = f"cell {tracker.cell}" if tracker.cell else "the kernel's start"
                raise gone(lost, f"{what} of {label}" if label else what) from None
            if not isinstance(exc, RuntimeError):
                raise
            # jupyter_client's "Kernel died before replying to kernel_info", nbclient's
            # DeadKernelError: say why, and whether it ever started.
            from .kernels.container import exit_report

            why = exit_report(km.kernel_id or "") or str(exc)
            if tracker.cell is not None:
                raise KernelError(f"{where}the kernel in {image} died while running cell {tracker.cell}: {why}",
                                  "the cell may have crashed it or run out of memory") from exc
            raise KernelError(f"{where}the kernel in {image} did not start: {why}",
                              "check that the image has ipykernel in /opt/envkit/venv "
                              "(images built by 'envkit build' do)") from exc
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
            # nbclient leaves its exit hook registered when the kernel fails to start.
            atexit.unregister(client._cleanup_kernel)
        if _signalled(client):
            raise interrupted()

    try:
        run_sync(go)()
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C before nbclient's own signal handler was in place, or after it was removed.
        _shut_down(km)
        raise interrupted() from None


def _signalled(client: Any) -> bool:
    """True when SIGINT or SIGTERM reached nbclient's handler during the run.

    nbclient handles both itself (``async_setup_kernel``): it shuts the kernel down, and the
    run then fails as if the kernel had died or never started. Its handler leaves this future.
    """
    return getattr(client, "_async_cleanup_kernel_future", None) is not None


def _shut_down(km: Any) -> None:
    """Stop ``km``'s kernel after an interrupt left ``_execute``'s own cleanup unfinished."""
    from jupyter_core.utils import run_sync

    async def stop() -> None:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)

    try:
        run_sync(stop)()
    except Exception:  # noqa: BLE001 - best effort; the container's owner watch removes it anyway
        pass


def run_notebook(path: str | Path, output: str | Path | None = None, *, image: str = "",
                 verify: bool = False, timeout: int = 600, allow_errors: bool = False,
                 base_image: str = "", progress: Progress | None = None) -> RunResult:
    """Execute ``path`` in its image (built first if needed) and write the executed copy to ``output``.

    With ``verify``, every cell runs even after an error and the result lists the code cells
    whose outputs differ from the stored ones.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise NotebookError(f"{path}: cannot read the notebook ({exc})") from exc
    stored = copy.deepcopy(nb.cells)
    if verify and not any(c.get("outputs") for c in stored if c.get("cell_type") == "code"):
        raise NotebookError(f"{path}: no stored outputs to verify against",
                            "run the notebook and save it with its outputs first")
    emit(progress, Step(n=1, total=3, text="image"))
    image = image or _notebook_image(path, base_image=base_image, progress=progress)
    emit(progress, Step(n=2, total=3, text=f"executing {path.name} in {image}"))
    failed: CellExecutionError | None = None
    tracker = _Tracker()
    try:
        _execute(nb, image, path.resolve().parent, timeout=timeout, allow_errors=allow_errors or verify,
                 label=str(path), tracker=tracker)
    except CellExecutionError as exc:
        failed = exc
    except (KernelError, Interrupted) as exc:
        # A timeout or an interrupt after some cells ran: keep what ran so far, and say where.
        if output is not None and tracker.cell is not None:
            nbformat.write(nb, str(output))
            exc.message += f"; the partly executed copy is in {output}"
        raise
    if output is not None:
        nbformat.write(nb, str(output))
    if failed is not None:
        where = f"; the partly executed copy is in {output}" if output else ""
        raise KernelError(f"{path}: a cell failed in the container{where}\n{str(failed).strip()[-2000:]}",
                          "fix the cell, or pass --allow-errors to run on") from failed
    emit(progress, Step(n=3, total=3, text="comparing outputs" if verify else "done"))
    diffs = tuple(compare_cells(stored, nb.cells)) if verify else ()
    code_cells = sum(1 for c in nb.cells if c.get("cell_type") == "code")
    if verify:
        emit(progress, Note(text=f"{len(diffs)} of {code_cells} code cells differ",
                            level="warning" if diffs else "info"))
    emit(progress, Done(text=f"executed {code_cells} code cells of {path.name} in {image}"))
    return RunResult(notebook=path, output=Path(output) if output else None, image=image,
                     cells=code_cells, verified=verify, differences=diffs)


def _notebook_image(path: Path, *, base_image: str, progress: Progress | None) -> str:
    """The notebook's image, built first if needed: one path for ``envkit run`` and ``%%envkit run``."""
    from .kernels.targets import notebook_image

    return notebook_image(path, base_image=base_image, progress=progress)


def execute_cell(image: str, code: str, *, cwd: Path, progress: Progress | None = None,
                 timeout: int = 600) -> list[dict[str, Any]]:
    """Run one cell's ``code`` in a fresh container kernel of ``image``; its nbformat outputs."""
    emit(progress, Step(n=1, total=1, text=f"running the cell in {image}"))
    return _execute_cell(image, code, cwd=Path(cwd), timeout=timeout)


def _execute_cell(image: str, code: str, *, cwd: Path, timeout: int) -> list[dict[str, Any]]:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    _execute(nb, image, cwd, timeout=timeout, allow_errors=True)
    return json.loads(json.dumps(nb.cells[0].outputs))


def run_cell(code: str, *, notebook: Path | None, image: str = "", base_image: str = "",
             timeout: int = 600, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run ``code`` as one cell in ``notebook``'s image (or ``image``), in the notebook's folder.

    The image comes the way ``run_notebook`` gets it: the notebook's own, built first when it
    does not exist yet. Returns the cell's nbformat outputs.
    """
    if not image and notebook is None:
        raise UsageError("%%envkit run: the notebook could not be found",
                         "set %config EnvkitMagics.notebook = 'path.ipynb', or pass --image")
    emit(progress, Step(n=1, total=2, text="image"))
    if not image:
        assert notebook is not None
        image = _notebook_image(notebook, base_image=base_image, progress=progress)
    cwd = notebook.parent if notebook is not None else Path.cwd()
    emit(progress, Step(n=2, total=2, text=f"running the cell in {image}"))
    return _execute_cell(image, code, cwd=cwd, timeout=timeout)
