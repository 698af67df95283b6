"""``envkit``: the terminal front end. Parses arguments, runs one command, shows errors plainly.

Whatever goes wrong ends as one line on stderr and an exit status, never a traceback (unless
``ENVKIT_DEBUG=1``): envkit's own errors with their hint, an interrupt as ``interrupted`` (130),
a closed pipe (``envkit images | head -1``) quietly, anything else as an internal error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .errors import EnvkitError, InternalError
from .settings import debug

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by a closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``envkit`` console script; returns the exit status."""
    status = _main(argv)
    try:
        # stdout to a pipe is block-buffered: a reader that left (``| head -1``) shows up
        # here, and would otherwise print "Exception ignored … BrokenPipeError" at exit.
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return status or EXIT_BROKEN_PIPE
    except (OSError, ValueError):
        pass
    return status


def _main(argv: Sequence[str] | None) -> int:
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
        _report(f"envkit: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        if debug():
            raise
        _report("envkit: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError as exc:
        if _stdout_closed():
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        return _internal(exc)
    except Exception as exc:
        return _internal(exc)


def _internal(exc: Exception) -> int:
    """An exception envkit did not expect: one line, or the traceback with ``ENVKIT_DEBUG=1``."""
    if debug():
        raise exc
    _report(f"envkit: {InternalError.wrap(exc)}")
    return InternalError.exit_code


def _report(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except (BrokenPipeError, ValueError):  # stderr itself is gone: nothing left to tell
        pass


def _stdout_closed() -> bool:
    """True when the reader of stdout went away (``| head``), as opposed to another pipe breaking."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True  # no poll on this platform, or stdout is not a file: assume it was stdout


def _silence_stdout() -> None:
    # Python flushes stdout again at exit and would print a second BrokenPipeError there
    # (see "Note on SIGPIPE" in the signal module's documentation).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
