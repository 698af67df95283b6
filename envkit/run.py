"""Executing notebooks and cells in a notebook's image, and checking that outputs reproduce.

``run_notebook`` runs every cell with nbclient through a KernelManager whose kernel lives in a
container (``envkit.kernels``), writes the executed copy, and with ``verify`` compares the new
outputs with the stored ones cell by cell after normalising noise (execution counts, timings,
memory addresses, dates, widget model ids). ``execute_cell`` runs one cell's code the same way
for the ``%%envkit run`` cell magic.
"""

from __future__ import annotations

import atexit
import copy
import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import KernelError, NotebookError
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


def _execute(nb: Any, image: str, cwd: Path, *, timeout: int, allow_errors: bool) -> None:
    """Execute ``nb`` in place in a container kernel of ``image``; the kernel is always shut down.

    nbclient leaves a KernelManager it did not create running, so the shutdown is ours. Works
    inside a running event loop too (the ``%%envkit run`` magic runs inside ipykernel).
    """
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    from .kernels.kernelspec import kernel_manager
    from .kernels.options import KernelOptions

    km = kernel_manager(KernelOptions(image=image), asynchronous=True)
    client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd)}})

    async def go() -> None:
        try:
            await client.async_execute()
        except RuntimeError as exc:
            # jupyter_client's "Kernel died before replying to kernel_info": say why.
            from .kernels.container import exit_report

            why = exit_report(km.kernel_id or "") or str(exc)
            raise KernelError(f"the kernel in {image} did not start: {why}",
                              "check that the image has ipykernel in /opt/envkit/venv "
                              "(images built by 'envkit build' do)") from exc
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
            # nbclient leaves its exit hook registered when the kernel fails to start.
            atexit.unregister(client._cleanup_kernel)

    run_sync(go)()


def run_notebook(path: str | Path, output: str | Path | None = None, *, image: str = "",
                 verify: bool = False, timeout: int = 600, allow_errors: bool = False,
                 base_image: str = "", progress: Progress | None = None) -> RunResult:
    """Execute ``path`` in its image (built first if needed) and write the executed copy to ``output``.

    With ``verify``, every cell runs even after an error and the result lists the code cells
    whose outputs differ from the stored ones.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    from .kernels.targets import notebook_image

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
    image = image or notebook_image(path, base_image=base_image, progress=progress)
    emit(progress, Step(n=2, total=3, text=f"executing {path.name} in {image}"))
    failed: CellExecutionError | None = None
    try:
        _execute(nb, image, path.resolve().parent, timeout=timeout, allow_errors=allow_errors or verify)
    except CellExecutionError as exc:
        failed = exc
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


def execute_cell(image: str, code: str, *, cwd: Path, progress: Progress | None = None,
                 timeout: int = 600) -> list[dict[str, Any]]:
    """Run one cell's ``code`` in a fresh container kernel of ``image``; its nbformat outputs."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    emit(progress, Step(n=1, total=1, text=f"running the cell in {image}"))
    _execute(nb, image, Path(cwd), timeout=timeout, allow_errors=True)
    return json.loads(json.dumps(nb.cells[0].outputs))
