"""``envkit capture NOTEBOOK...``: what the notebooks need, where each need was seen."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..ui import UI
from . import add_notebook_argument

HELP = "show what notebooks need (distributions, where seen, python); --write stores it in the notebook"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p, many=True)
    p.add_argument("--write", action="store_true",
                   help="store the spec in the notebook's metadata (a single notebook only)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--no-live", action="store_true",
                   help="in a kernel, do not pin the versions the kernel has loaded")


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..capture import capture_with_live

    paths = [Path(p) for p in args.notebooks]
    if not paths:
        found = ui.default_notebook()
        if found is None:
            raise UsageError("no notebook named, and none could be found",
                             "pass the notebook's path, e.g. 'envkit capture analysis.ipynb'")
        paths = [found]
    live = getattr(ui, "live_kernel", False) and not args.no_live
    if args.json:  # stdout is the JSON document alone
        captured = capture_with_live(paths, live=live, for_write=args.write)
    else:
        with ui.progress("capture") as progress:
            captured = capture_with_live(paths, live=live, for_write=args.write, progress=progress)
    spec = captured.spec

    def write() -> str:
        from ..validate import comment

        path, replaced, where = captured.write()
        into = "the open notebook; save it to keep it" if where == "editor" else comment(path)
        done = f"wrote the spec ({len(spec.requirements)} requirements) into {into}"
        return done if replaced is None else f"{done}, replacing its damaged metadata.envkit ({replaced})"

    if args.json:
        data = captured.to_json()
        if args.write:
            write()
            data["written"] = str(captured.notebook)
        ui.json(data)
        return 0
    _show(ui, captured.result, spec, captured.live)
    if args.write:
        ui.message(write())
    elif captured.notebook is not None:
        ui.offer("Write into the notebook", write,
                 hint=f"store it in the notebook: envkit capture --write {captured.notebook}")
    return 0


def _show(ui: UI, result, spec, live) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for req in spec.requirements:
        spec_text = req.specifier or (f"@ {req.url}" if req.url else "")
        if req.direct:
            spec_text = f"direct: {req.direct}"
        origin = "; ".join(s.describe() for s in req.sources if s.kind != "live")
        rows.append([req.name + (f"[{','.join(req.extras)}]" if req.extras else ""),
                     spec_text or "(any)", ("optional; " if req.optional else "") + _short(origin)])
    title = f"{len(rows)} requirement(s), python {spec.python}"
    if live is not None:
        title += f" (pinned to the versions loaded in this kernel, python {live.python})"
    ui.table(["distribution", "specifier or pin", "where from"], rows, title=title)
    if spec.unresolved:
        ui.table(["module", "why", "where"],
                 [[u.module, u.reason, _short("; ".join(s.describe() for s in u.sources))]
                  for u in spec.unresolved], title="unresolved (not mapped to a distribution)")
    if spec.system_packages:
        ui.message("system packages: " + " ".join(spec.system_packages))
    if result.skipped:
        ui.table(["where", "why skipped"], [[_where(s), s.reason] for s in result.skipped],
                 title="skipped cells")
    if result.local_modules:
        ui.message("local modules (followed, not requirements): " + ", ".join(result.local_modules))
    for note in result.notes:
        ui.message(f"note: {note}")
    if live is not None and live.not_loaded:
        ui.message("not loaded in this kernel (not pinned): " + ", ".join(live.not_loaded))


def _where(skipped) -> str:  # type: ignore[no-untyped-def]
    where = f"{skipped.notebook} cell {skipped.cell}" if skipped.cell is not None else skipped.notebook
    return where + (f" ({skipped.file})" if skipped.file else "")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
