"""The %envkit magics, executed in real notebooks through nbclient."""

from __future__ import annotations

from support.notebooks import errors_of, execute, make_notebook, text_of


def test_help_lists_subcommands(tmp_path):
    nb = execute(make_notebook(tmp_path / "h.ipynb", ["%load_ext envkit", "%envkit help", "%envkit help capture"]))
    assert not errors_of(nb.cells[0])
    shown = text_of(nb.cells[1])
    for sub in ("capture", "dockerfile", "build"):
        assert sub in shown
    assert "--write" in text_of(nb.cells[2])


def test_unknown_subcommand_is_one_message_without_traceback(tmp_path):
    nb = execute(make_notebook(tmp_path / "u.ipynb", ["%load_ext envkit", "%envkit frobnicate"]))
    [err] = errors_of(nb.cells[1])
    text = "\n".join(err.traceback)
    assert "frobnicate" in text and "%envkit help" in text
    assert "Traceback" not in text and "File \"" not in text


def test_capture_without_a_known_notebook_says_so(tmp_path):
    path = make_notebook(tmp_path / "n.ipynb", ["%load_ext envkit", "import json", "%envkit capture"])
    nb = execute(path, session_name=None)
    [err] = errors_of(nb.cells[2])
    text = "\n".join(err.traceback)
    assert "no notebook named" in text and "Traceback" not in text


def test_capture_finds_its_notebook_and_pins_live_versions(tmp_path):
    import importlib.metadata as md

    cells = ["%load_ext envkit", "import nbformat\nimport jinja2", "%envkit capture"]
    nb = execute(make_notebook(tmp_path / "live.ipynb", cells))
    assert not errors_of(nb.cells[2]), text_of(nb.cells[2])
    shown = text_of(nb.cells[2])
    assert "<table" in shown
    assert f"=={md.version('nbformat')}" in shown and f"=={md.version('jinja2')}" in shown
