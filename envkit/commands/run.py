"""``envkit run NB -o OUT [--verify]``: execute a whole notebook in its image."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..ui import UI
from . import add_as_of_argument, add_notebook_argument, notebook_path

HELP = "execute a notebook in its image (built first if needed); --verify checks its outputs reproduce"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    p.add_argument("-o", "--output", help="where to write the executed copy "
                                          "(default: NAME.executed.ipynb; with --verify: none)")
    p.add_argument("--verify", action="store_true",
                   help="compare new outputs with the stored ones; exit 1 when any cell differs")
    _image_arguments(p)
    p.add_argument("--allow-errors", action="store_true", help="keep going after a cell raises")
    add_as_of_argument(p)


def _image_arguments(p: argparse.ArgumentParser) -> None:
    """Where the code runs and for how long: shared by ``envkit run`` and ``%%envkit run``."""
    p.add_argument("--image", default="", help="run in this image instead of the notebook's")
    p.add_argument("--base-image", default="", help="base image of the notebook's image, stored in its spec (see 'envkit build')")
    p.add_argument("--timeout", type=int, default=600, help="seconds one cell may run (default 600)")


def cell_parser() -> argparse.ArgumentParser:
    """The arguments of the ``%%envkit run`` cell magic (the cell is the code; no notebook argument)."""
    from . import _Parser

    p = _Parser(prog="%%envkit run", description="run this cell's code in the notebook's image "
                                                  "(built first if needed), as 'envkit run' runs a notebook")
    _image_arguments(p)
    return p


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..run import run_notebook

    path = notebook_path(args, ui)
    output = args.output
    if output is None and not args.verify:
        output = str(path.with_name(f"{path.stem}.executed.ipynb"))
    with ui.progress(f"run {path.name}") as progress:
        result = run_notebook(path, output, image=args.image, verify=args.verify, timeout=args.timeout,
                              allow_errors=args.allow_errors, base_image=args.base_image, as_of=args.as_of,
                              progress=progress)
    ui.message(f"executed {result.cells} code cells of {path.name} in {result.image}")
    if result.output:
        ui.message(f"wrote {Path(result.output)}")
    if result.raised:
        ui.message(f"{len(result.raised)} cell(s) raised: " + "; ".join(r.describe() for r in result.raised),
                   level="warning")
    if not result.verified:  # not asked, or nothing stored to compare (said so above)
        return 0
    if result.reproduced:
        ui.message(f"reproduced: all {result.cells} code cells match the stored outputs")
        return 0
    ui.message(f"not reproduced: {len(result.differences)} of {result.cells} code cells differ", level="warning")
    for d in result.differences:
        ui.message(f"cell {d.cell}:")
        ui.text_block(d.diff)
    return 1
