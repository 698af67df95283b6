"""``envkit export NB -o X.envkit.tar`` (image + notebook) or ``--binder DIR`` (repo2docker files)."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..ui import UI
from . import add_notebook_argument, notebook_path

HELP = "export the notebook with its image to a tar (-o), or as a Binder folder (--binder DIR)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write image and notebook to FILE (.envkit.tar)")
    p.add_argument("--binder", metavar="DIR",
                   help="write repo2docker files (requirements.txt, runtime.txt, apt.txt) to DIR")


def run(args: argparse.Namespace, ui: UI) -> int:
    if bool(args.output) == bool(args.binder):
        raise UsageError("envkit export: give exactly one of -o FILE or --binder DIR",
                         "e.g. 'envkit export analysis.ipynb -o analysis.envkit.tar'")
    path = notebook_path(args, ui)
    if args.binder:
        from ..binder import export_binder

        result = export_binder(path, args.binder)
        ui.table(["file", "lines"], [[str(f), n] for f, n in result.files],
                 title=f"Binder files for {path.name} (pins from the {result.pins_from}):")
        return 0
    from ..share import export_notebook

    with ui.progress(f"export {path.name}") as progress:
        exported = export_notebook(path, args.output, progress=progress)
    ui.message(f"wrote {exported.path} ({exported.size / 1e6:.1f} MB, image {exported.image_id[:19]})")
    return 0
