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
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import KernelError, NotebookError
from .events import Done, Note, Progress, Step, emit
from .verify import CellDiff, compare_cells, normalize_outputs, normalize_text  # noqa: F401 (kept importable from run)


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
