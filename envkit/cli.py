"""``envkit``: the terminal front end. Parses arguments, runs one command, shows errors plainly."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .errors import EnvkitError
from .settings import debug


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``envkit`` console script; returns the exit status."""
    from .commands import build_parser
    from .terminal import TerminalUI

    ui = TerminalUI()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "_module", None) is None:
            parser.print_help()
            return 2
        return int(args._module.run(args, ui) or 0)
    except EnvkitError as exc:
        if debug():
            raise
        print(f"envkit: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("envkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
