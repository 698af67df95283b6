"""``envkit push NB --to REPOSITORY``: push the notebook's image and record its digest."""

from __future__ import annotations

import argparse

from ..ui import UI
from . import add_notebook_argument, notebook_path

HELP = "push the notebook's image to a registry and record the repository digest in the notebook"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    p.add_argument("--to", required=True, metavar="REPOSITORY",
                   help="where to push, e.g. registry.example.com/team/analysis[:tag]")
    p.add_argument("--tag", help="tag to push (default: envkit-<spec digest>)")


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..share import push_notebook

    path = notebook_path(args, ui)
    with ui.progress(f"push {path.name}") as progress:
        result = push_notebook(path, args.to, tag=args.tag, progress=progress)
    ui.message(f"recorded {result.repo_digest} in {path}")
    return 0
