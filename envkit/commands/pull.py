"""``envkit pull NB``: pull exactly the image digest the notebook records, and check it."""

from __future__ import annotations

import argparse

from ..ui import UI
from . import add_notebook_argument, notebook_path

HELP = "pull the image digest recorded in the notebook and check it matches the notebook's spec"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..errors import RegistryError
    from ..share import pull_notebook

    path = notebook_path(args, ui)
    try:
        with ui.progress(f"pull {path.name}") as progress:
            result = pull_notebook(path, progress=progress)
    except RegistryError:
        if ui.interactive_notebook:  # a button in a notebook; the error's hint says it in a terminal
            ui.offer("Rebuild from the lock", lambda: _rebuild(path, ui), hint=f"to rebuild: envkit build {path}")
        raise
    ui.message(f"{path.name}: image {result.image_id[:19]} matches spec {result.spec_digest[:19]}")
    return 0


def _rebuild(path, ui: UI) -> str:  # type: ignore[no-untyped-def]
    from . import load

    module = load("build")
    if module is None:
        return "this envkit has no build command"
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return "rebuilt" if module.run(parser.parse_args([str(path)]), ui) == 0 else "rebuild failed"
