"""The CLI's argument handling and error display, and notebook discovery for the magics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from envkit.cli import main
from envkit.magics import find_notebook


def test_no_subcommand_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_bad_arguments_are_one_line_without_traceback(capsys):
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("envkit: ") and "Traceback" not in err


def test_find_notebook_from_session_name(tmp_path, monkeypatch):
    nb = tmp_path / "a.ipynb"
    nb.write_text("{}")
    assert find_notebook({}, {"JPY_SESSION_NAME": str(nb)}) == nb.resolve()
    monkeypatch.chdir(tmp_path)
    # jupyter_server before 2.0 gave a path relative to its root: the kernel's cwd is the notebook's folder
    assert find_notebook({}, {"JPY_SESSION_NAME": "deep/folder/a.ipynb"}) == nb.resolve()
    assert find_notebook({"__vsc_ipynb_file__": str(nb)}, {}) == nb.resolve()
    assert find_notebook({}, {"JPY_SESSION_NAME": "console-1234"}) is None
    assert find_notebook({}, {}) is None
    assert isinstance(find_notebook({}, {"JPY_SESSION_NAME": str(nb)}), Path)


# --- no traceback reaches the terminal ---------------------------------------------------------

def _cli_with_fault(fault: str, *args: str, debug: str = "") -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh interpreter, with ``envkit images`` replaced by code raising ``fault``.

    The fault is injected by the test (no switch in envkit): it stands for any bug in a command.
    """
    code = ("import sys\nimport envkit.commands.images as m\n"
            f"def run(args, ui):\n    raise {fault}\n"
            "m.run = run\nfrom envkit.cli import main\nsys.exit(main(['images', *sys.argv[1:]]))\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ENVKIT_DEBUG": debug})


def test_an_unexpected_exception_is_one_line():
    done = _cli_with_fault("ValueError('boom\\nsecond line')")
    assert done.returncode == 1
    assert done.stderr == ("envkit: internal error: ValueError: boom — rerun with ENVKIT_DEBUG=1 "
                           "for the traceback\n"), done.stderr
    debug = _cli_with_fault("ValueError('boom')", debug="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ValueError: boom" in debug.stderr


def test_keyboard_interrupt_is_named():
    done = _cli_with_fault("KeyboardInterrupt")
    assert (done.returncode, done.stderr) == (130, "envkit: interrupted\n")


def test_a_reader_that_leaves_ends_the_cli_quietly(tmp_path):
    # `envkit capture NB | head -0`: the pipe's reader is gone before envkit writes its table.
    nb = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import json\nimport packaging")]), nb)
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as stdout:
        done = subprocess.run([sys.executable, "-m", "envkit", "capture", str(nb)], stdout=stdout,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 141, done.stderr  # 128 + SIGPIPE, as a shell reports `yes | head`
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr and "Exception" not in done.stderr

