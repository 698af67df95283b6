"""``envkit import X.envkit.tar``: check the archive, load its image untagged, restore the notebook beside it."""

from __future__ import annotations

import argparse

from ..ui import UI

HELP = "load an .envkit.tar made by 'envkit export', verify its image and restore its notebook"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("archive", help="the .envkit.tar file")
    p.add_argument("--dest", metavar="DIR", help="where to restore the notebook (default: beside the archive)")


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..share import import_archive

    with ui.progress(f"import {args.archive}") as progress:
        result = import_archive(args.archive, dest=args.dest, progress=progress)
    if result.notebook_written:
        ui.message(f"image {result.image_id[:19]} loaded as {result.tag}; notebook restored at {result.notebook}")
    else:
        ui.message(f"image {result.image_id[:19]} loaded as {result.tag}; {result.notebook} already exists, "
                   "left as it was")
    return 0
