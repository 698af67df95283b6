"""``%envkit``: the notebook front end. One magic, subcommands shared with the CLI.

``%envkit <sub> ...`` parses with the same argparse parser as ``envkit <sub>`` and runs the same
command module, rendering through ``NotebookUI`` (HTML tables, ipywidgets progress). Errors are
shown without a traceback (``EnvkitError._render_traceback_``). ``%%envkit run`` executes one cell
in the notebook's container. ``%envkit help [sub]`` stands in for ``-h``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Unicode

from .errors import EnvkitError, UsageError


def find_notebook(user_ns: dict[str, Any], environ: dict[str, str] | None = None) -> Path | None:
    """The notebook this kernel serves, when the front end said so.

    jupyter_server sets ``JPY_SESSION_NAME`` (the notebook's path, absolute since jupyter_server
    2.x, relative to the server's root before); VS Code sets ``__vsc_ipynb_file__``.
    """
    env = os.environ if environ is None else environ
    candidates = [user_ns.get("__vsc_ipynb_file__"), env.get("JPY_SESSION_NAME"), user_ns.get("__session__")]
    for value in candidates:
        if not value or not str(value).endswith(".ipynb"):
            continue
        path = Path(str(value))
        # A relative session name is relative to the server's root; the kernel runs in the
        # notebook's folder, so the file name alone is the best guess there.
        for guess in (path, Path.cwd() / path, Path.cwd() / path.name):
            if guess.is_file():
                return guess.resolve()
    return None


@magics_class
class EnvkitMagics(Magics):
    """The ``%envkit`` line magic and ``%%envkit`` cell magic (``%config EnvkitMagics.…``)."""

    base_image = Unicode("", help="Default base image for builds (e.g. python:3.11-slim).").tag(config=True)
    notebook = Unicode("", help="Notebook path when the front end does not tell the kernel.").tag(config=True)
    widgets = Bool(True, help="Show ipywidgets progress; plain text when False.").tag(config=True)

    def _ui(self):  # type: ignore[no-untyped-def]
        from . import frontend
        from .widgets import NotebookUI

        path = Path(self.notebook).resolve() if self.notebook else \
            (find_notebook(self.shell.user_ns) or frontend.notebook_path())
        if not self.widgets:
            os.environ["ENVKIT_WIDGETS"] = "0"
        return NotebookUI(path)

    @line_cell_magic
    def envkit(self, line: str, cell: str | None = None) -> None:
        """Run an envkit subcommand in the notebook: ``%envkit help`` lists them."""
        from .commands import build_parser

        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%envkit: cannot parse the arguments ({exc})") from None
        parser = build_parser(prog="%envkit")
        if not argv or argv[0] in ("help", "-h", "--help"):
            self._help(parser, argv[1:2])
            return
        if cell is not None:
            self._cell(argv, cell)
            return
        if any(a in ("-h", "--help") for a in argv):
            self._help(parser, argv[:1])
            return
        args = parser.parse_args(argv)
        if getattr(args, "_module", None) is None:
            raise UsageError(f"%envkit: unknown subcommand {argv[0]!r}", "see '%envkit help'")
        if hasattr(args, "base_image") and not args.base_image and self.base_image:
            args.base_image = self.base_image
        status = args._module.run(args, self._ui())
        if status:
            raise EnvkitError(f"%envkit {argv[0]}: finished with status {status}")

    def _help(self, parser: Any, sub: list[str]) -> None:
        if sub:
            for action in parser._subparsers._group_actions:  # argparse keeps subparsers here
                if sub[0] in action.choices:
                    print(action.choices[sub[0]].format_help())
                    return
            raise UsageError(f"%envkit: unknown subcommand {sub[0]!r}", "see '%envkit help'")
        print(parser.format_help().replace("usage: %envkit [-h] [--version]", "usage: %envkit"))

    def _cell(self, argv: list[str], cell: str) -> None:
        """``%%envkit run [--image REF]``: execute the cell's code in the notebook's container."""
        import argparse

        if argv[0] != "run":
            raise UsageError("%%envkit: only 'run' works as a cell magic", "write '%%envkit run' above the code")
        p = argparse.ArgumentParser(prog="%%envkit run", exit_on_error=False)
        p.add_argument("--image", default="", help="image to run in (default: the notebook's image)")
        try:
            opts = p.parse_args(argv[1:])
        except (argparse.ArgumentError, SystemExit) as exc:
            raise UsageError(f"%%envkit run: {exc}") from None
        ui = self._ui()
        from .run import execute_cell

        image = opts.image
        notebook = ui.default_notebook()
        if not image:
            if notebook is None:
                raise UsageError("%%envkit run: the notebook could not be found",
                                 "set %config EnvkitMagics.notebook = 'path.ipynb', or pass --image")
            from .build import BuildOptions, ensure_image

            with ui.progress("Image") as progress:
                image = ensure_image(notebook, options=BuildOptions(base_image=self.base_image),
                                     progress=progress).id
        cwd = notebook.parent if notebook else Path.cwd()
        show_outputs(execute_cell(image, cell, cwd=cwd))


def show_outputs(outputs: list[dict[str, Any]]) -> None:
    """Display nbformat outputs from a container kernel in this cell, as if produced here."""
    import sys

    from IPython.display import publish_display_data

    error: dict[str, Any] | None = None
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            stream = sys.stderr if out.get("name") == "stderr" else sys.stdout
            text = out.get("text", "")
            stream.write("".join(text) if isinstance(text, list) else text)
            stream.flush()
        elif kind in ("display_data", "execute_result"):
            publish_display_data(out.get("data", {}), out.get("metadata", {}))
        elif kind == "error":
            error = out
    if error is not None:
        print("\n".join(error.get("traceback", [])), file=sys.stderr)
        raise EnvkitError(f"the cell failed in the container: {error.get('ename')}: {error.get('evalue')}")
