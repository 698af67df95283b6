"""``envkit dockerfile NB``: print the Dockerfile envkit would build for the notebook."""

from __future__ import annotations

import argparse

from ..ui import UI
from . import add_notebook_argument, notebook_path
from .build import add_build_options, build_options

HELP = "print the Dockerfile for the notebook's environment (captures first if it has no spec)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    add_build_options(p)
    p.add_argument("-o", "--output", default="", help="write the Dockerfile to this file instead")


def run(args: argparse.Namespace, ui: UI) -> int:
    from pathlib import Path

    from ..build import render_notebook

    path = notebook_path(args, ui)
    context = render_notebook(path, options=build_options(args))
    if args.output:
        Path(args.output).write_text(context.dockerfile)
        ui.message(f"wrote {args.output}")
    else:
        ui.text_block(context.dockerfile)
    return 0
