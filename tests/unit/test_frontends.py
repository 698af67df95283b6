"""The CLI's argument handling and error display, and notebook discovery for the magics."""

from __future__ import annotations

from pathlib import Path

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
