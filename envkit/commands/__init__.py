"""Subcommands shared by the CLI and the ``%envkit`` magic: one module each.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args, ui) -> int``.
Arguments are declared once, here, for both front ends. Modules import heavy libraries
(docker, nbclient, jinja2) inside ``run`` so that building the parser stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from types import ModuleType

from ..errors import UsageError
from ..ui import UI

# name -> module (``import`` is a keyword, hence ``import_``)
COMMANDS: dict[str, str] = {
    "capture": "capture",
    "dockerfile": "dockerfile",
    "build": "build",
    "images": "images",
    "gc": "gc",
    "kernel": "kernel",
    "run": "run",
    "export": "export",
    "export-jupyterhub": "export_jupyterhub",
    "import": "import_",
    "push": "push",
    "pull": "pull",
    "launch": "launch",
    "badge": "badge",
}


def load(name: str) -> ModuleType | None:
    """The module of subcommand ``name``, or None when this build of envkit lacks it."""
    try:
        return importlib.import_module(f"{__name__}.{COMMANDS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{COMMANDS[name]}":
            return None
        raise


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` instead of exiting (the magic must not exit)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = "see '%envkit help'" if self.prog.startswith("%") else f"see '{self.prog} --help'"
        raise UsageError(f"{self.prog}: {message}", hint)


def build_parser(prog: str = "envkit") -> argparse.ArgumentParser:
    """The parser for every subcommand; used by the CLI and the magic alike."""
    parser = _Parser(prog=prog, description="A Jupyter notebook that carries its own environment.")
    from ..version import __version__

    parser.add_argument("--version", action="version", version=f"envkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = load(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def add_as_of_argument(p: argparse.ArgumentParser) -> None:
    """``--as-of``: shared by build, dockerfile, run, kernel install and launch."""
    p.add_argument("--as-of", default="", metavar="DATE|auto|now",
                   help="resolve packages as of DATE (YYYY-MM-DD), 'auto' (the notebook's era) or 'now'; default: a built notebook keeps its lock, any other is resolved as of its era")


def add_notebook_argument(p: argparse.ArgumentParser, *, many: bool = False) -> None:
    """The notebook positional; optional, since a magic knows the notebook it runs in."""
    if many:
        p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                       help="notebooks or folders (default: the current notebook in Jupyter)")
    else:
        p.add_argument("notebook", nargs="?", help="the notebook (default: the current notebook in Jupyter)")


def notebook_path(args: argparse.Namespace, ui: UI) -> Path:
    """The notebook named on the command line, or the one the magic runs in."""
    given = getattr(args, "notebook", None)
    if given:
        return Path(given)
    found = ui.default_notebook()
    if found is None:
        raise UsageError("no notebook named, and none could be found",
                         "pass the notebook's path, e.g. 'envkit capture analysis.ipynb'")
    return found
