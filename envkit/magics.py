"""``%envkit``: the notebook front end. One magic, subcommands shared with the CLI.

``%envkit <sub> ...`` parses with the same argparse parser as ``envkit <sub>`` and runs the same
command module, rendering through ``NotebookUI`` (HTML tables, ipywidgets progress). Errors are
shown without a traceback (``EnvkitError._render_traceback_``). ``%%envkit run`` executes one cell
in the notebook's container. ``%envkit help [sub]`` stands in for ``-h``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Unicode, default

from .errors import EnvkitError, InternalError, Interrupted, UsageError


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

    base_image = Unicode("", help="Base image for builds (e.g. python:3.11-slim), stored in the notebook's spec "
                                  "when set.").tag(config=True)
    notebook = Unicode("", help="Notebook path when the front end does not tell the kernel.").tag(config=True)
    widgets = Bool(help="Show ipywidgets progress; plain text when False "
                        "(default: on unless ENVKIT_WIDGETS=0).").tag(config=True)

    @default("widgets")
    def _widgets_default(self) -> bool:
        from .settings import widgets

        return widgets()

    def _ui(self):  # type: ignore[no-untyped-def]
        from . import frontend
        from .widgets import NotebookUI

        path = Path(self.notebook).resolve() if self.notebook else \
            (find_notebook(self.shell.user_ns) or frontend.notebook_path())
        # State of this magic, not of the process: other code in the kernel keeps its own setting.
        return NotebookUI(path, widgets=self.widgets)

    @line_cell_magic
    def envkit(self, line: str, cell: str | None = None) -> None:
        """Run an envkit subcommand in the notebook: ``%envkit help`` lists them."""
        with guarded():
            self._dispatch(line, cell)

    def _dispatch(self, line: str, cell: str | None) -> None:
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
        args = parse_args(parser, argv)
        if args is None:  # --version printed the version
            return
        if getattr(args, "_module", None) is None:
            raise UsageError(f"%envkit: unknown subcommand {argv[0]!r}", "see '%envkit help'")
        if not getattr(args, "base_image", "") and self.base_image:
            # Also for a bare '%envkit kernel', whose parser has no --base-image of its own.
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
        """``%%envkit run [--image REF] [--base-image REF] [--timeout S]``: the cell in the notebook's container.

        The image comes the way ``envkit run`` gets it (``run.run_cell``: the notebook's image,
        built first if needed).
        """
        from .commands.run import cell_parser

        if argv[0] != "run":
            raise UsageError("%%envkit: only 'run' works as a cell magic", "write '%%envkit run' above the code")
        parser = cell_parser()
        if any(a in ("-h", "--help") for a in argv[1:]):
            print(parser.format_help())
            return
        opts = parse_args(parser, argv[1:])
        if opts is None:
            return
        ui = self._ui()
        from .run import run_cell

        with ui.progress("%%envkit run") as progress:
            outputs = run_cell(cell, notebook=ui.default_notebook(), image=opts.image,
                               base_image=opts.base_image or self.base_image, timeout=opts.timeout,
                               live=True, progress=progress)
        show_outputs(outputs)


def parse_args(parser: Any, argv: list[str]) -> Any:
    """``parser.parse_args(argv)`` that never raises SystemExit into IPython.

    argparse exits after ``--version`` (and ``-h``) have printed; in a kernel that is not an
    exit but a finished magic: None is returned. Errors are ``UsageError`` already (``_Parser``).
    """
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code:
            raise UsageError(f"{parser.prog}: invalid arguments", "see '%envkit help'") from None
        return None


@contextmanager
def guarded() -> Iterator[None]:
    """Every failure of a magic as one line: envkit's errors as they are, anything else as internal.

    ``EnvkitError._render_traceback_`` makes IPython show one line; ``ENVKIT_DEBUG=1`` lets the
    original exception (and its traceback) through.
    """
    from .settings import debug

    try:
        yield
    except EnvkitError:
        raise
    except KeyboardInterrupt:
        if debug():
            raise
        raise Interrupted("interrupted") from None
    except Exception as exc:
        if debug():
            raise
        raise InternalError.wrap(exc) from exc


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
