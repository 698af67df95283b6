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
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Interrupted, KernelError, NotebookError, UsageError
from .events import Done, Note, Progress, Step, emit
from .verify import (  # noqa: F401 (normalize_* kept importable from run)
    NO_STORED_OUTPUTS,
    CellDiff,
    RaisedCell,
    compare_cells,
    has_stored_outputs,
    normalize_outputs,
    normalize_text,
    raised_cells,
)


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """A notebook run: where the executed copy went, the image, and (with verify) what differed."""

    notebook: Path
    output: Path | None
    image: str
    cells: int
    verified: bool = False
    differences: tuple[CellDiff, ...] = ()
    raised: tuple[RaisedCell, ...] = ()  # cells that ended in an error (--allow-errors, --verify)

    @property
    def reproduced(self) -> bool:
        return not self.differences


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
            raise KernelError(f"{where}the kernel in {image} did not start: {why}", start_hint(why)) from exc
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


def start_hint(why: str) -> str:
    """What to do about a kernel that never started, from what its container printed (``why``)."""
    if "No module named ipykernel" in why or "No module named 'ipykernel" in why:
        return "the image has no ipykernel in /opt/envkit/venv: rebuild it with 'envkit build', which installs it"
    if "exec python failed" in why or ("No such file or directory" in why and "/opt/envkit/venv" in why):
        return "the image has no envkit Python for the kernel: build the notebook's image with 'envkit build'"
    if "Read-only file system" in why:
        return "the kernel could not write a file it needs (see its output above); report this with that output"
    return "the kernel's last output (above, when it printed any) says why; ENVKIT_DEBUG=1 shows all of it"


def run_notebook(path: str | Path, output: str | Path | None = None, *, image: str = "",
                 verify: bool = False, timeout: int = 600, allow_errors: bool = False,
                 base_image: str = "", as_of: str = "", progress: Progress | None = None) -> RunResult:
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
    _python2_check(path, nb, go_on=allow_errors or verify, said=not image, progress=progress)
    if verify and not has_stored_outputs(stored):
        emit(progress, Note(text=NO_STORED_OUTPUTS.format(path=path), level="warning"))
        verify = False
    emit(progress, Step(n=1, total=3, text="image"))
    image = image or _notebook_image(path, base_image=base_image, as_of=as_of, progress=progress)
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
    raised = tuple(raised_cells(nb.cells))
    code_cells = sum(1 for c in nb.cells if c.get("cell_type") == "code")
    if verify:
        emit(progress, Note(text=f"{len(diffs)} of {code_cells} code cells differ",
                            level="warning" if diffs else "info"))
    emit(progress, Done(text=f"executed {code_cells} code cells of {path.name} in {image}"))
    return RunResult(notebook=path, output=Path(output) if output else None, image=image,
                     cells=code_cells, verified=verify, differences=diffs, raised=raised)


def _python2_check(path: Path, nb: Any, *, go_on: bool, said: bool, progress: Progress | None) -> None:
    """Stop before anything runs when cells are Python 2, naming them in one line (``capture.python2``).

    With ``--allow-errors`` or ``--verify`` the run goes on (those cells then fail, and are
    reported as raised); the line is then the build's (capture says it), or here when ``said``
    is False (``--image``: nothing is captured).
    """
    from .capture.python2 import PORT_HINT, notebook_python2, python2_kernel, python2_line

    line = python2_line(str(path), notebook_python2(nb), kernel=python2_kernel(nb.get("metadata") or {}))
    if not line:
        return
    if not go_on:
        raise UsageError(line, f"{PORT_HINT}; or pass --allow-errors to run the other cells anyway")
    if not said:
        emit(progress, Note(text=line, level="warning"))


def _notebook_image(path: Path, *, base_image: str, progress: Progress | None, live: bool = False,
                  as_of: str = "") -> str:
    """The notebook's image, built first if needed: one path for ``envkit run`` and ``%%envkit run``."""
    from .kernels.targets import notebook_image

    return notebook_image(path, base_image=base_image, live=live, as_of=as_of, progress=progress)


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
             timeout: int = 600, live: bool = False, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run ``code`` as one cell in ``notebook``'s image (or ``image``), in the notebook's folder.

    The image comes the way ``run_notebook`` gets it: the notebook's own, built first when it
    does not exist yet (``live``: pinned to the versions this kernel has loaded). Returns the
    cell's nbformat outputs.
    """
    if not image and notebook is None:
        raise UsageError("%%envkit run: the notebook could not be found",
                         "set %config EnvkitMagics.notebook = 'path.ipynb', or pass --image")
    emit(progress, Step(n=1, total=2, text="image"))
    if not image:
        assert notebook is not None
        image = _notebook_image(notebook, base_image=base_image, live=live, progress=progress)
    cwd = notebook.parent if notebook is not None else Path.cwd()
    emit(progress, Step(n=2, total=2, text=f"running the cell in {image}"))
    return _execute_cell(image, code, cwd=cwd, timeout=timeout)
