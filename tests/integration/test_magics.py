"""The %envkit magics, executed in real notebooks through nbclient."""
# ruff: noqa: F811  (pytest fixtures imported from support modules)

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.build import env_image  # noqa: F401
from support.kernels import kernel_containers, kernel_image, wait_until  # noqa: F401
from support.notebooks import errors_of, execute, make_notebook, save, text_of
from support.share_image import lab_env  # noqa: F401


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


@pytest.mark.docker
def test_launch_from_a_notebook_runs_while_its_kernel_does(tmp_path, lab_env, engine):
    import re

    from envkit.notebook import update_envkit

    def labs(path):
        return engine.containers.list(all=True, filters={"label": ["dev.envkit.kind=launch",
                                                                   f"dev.envkit.notebook={path.resolve()}"]})

    # The server outlives the cell and is found again by the next launch; it answers with its
    # token while the kernel that started it runs, and dies with that kernel (its owner).
    answer = ("import urllib.request, envkit.launch as launch\n"
              "server = next(iter(launch._LIVE.values()))\n"
              "print('status', urllib.request.urlopen(server.url, timeout=60).status)")
    path = make_notebook(tmp_path / "lab.ipynb", ["%load_ext envkit", "%envkit launch --no-browser",
                                                   "%envkit launch --no-browser", answer])
    update_envkit(path, spec=lab_env.spec, lock=lab_env.lock, image=lab_env.record())
    messages: list = []
    nb = execute(path, env={"ENVKIT_WIDGETS": "1"}, messages=messages)
    shown = text_of(nb.cells[1])
    assert not errors_of(nb.cells[1]), shown
    # The page received the link's token (in a script output, replaced at once by the link)...
    sent = json.dumps([m["content"] for m in messages if m["cell"] == 1])
    url = re.search(r"(http://127\.0\.0\.1:\d+/lab/tree/lab\.ipynb)\?token=(\w+)", sent)
    assert url is not None, sent
    base_url, token = url.groups()
    key = re.search(r'envkitLinks\[\\"(\w+)\\"\]', sent).group(1)
    assert f'data-envkit-link="{key}"' in shown and f"JupyterLab: {base_url}" in shown
    # ... and the saved notebook holds the link without it, in no output and no widget state.
    saved = save(nb, tmp_path / "lab-saved.ipynb")
    assert token not in saved and "VBox(" not in saved
    assert f"already running: {base_url}" in text_of(nb.cells[2])
    assert "status 200" in text_of(nb.cells[3]), text_of(nb.cells[3])
    assert wait_until(lambda: not labs(path), timeout=30)

    stop = make_notebook(tmp_path / "stop.ipynb", ["%load_ext envkit", "%envkit launch --no-browser",
                                                   "%envkit launch --stop"])
    update_envkit(stop, spec=lab_env.spec, lock=lab_env.lock, image=lab_env.record())
    nb = execute(stop)
    assert "stopped 1 JupyterLab server(s) for stop.ipynb" in text_of(nb.cells[2]), text_of(nb.cells[2])
    assert not labs(stop)


def test_version_and_a_bug_in_a_command_are_one_line_each(tmp_path):
    from envkit import __version__

    cells = ["%load_ext envkit", "%envkit --version",
             # A fault injected by the test (no switch in envkit): any bug in a command.
             "import envkit.commands.images as m\ndef run(args, ui):\n    raise ValueError('boom')\nm.run = run",
             "%envkit images", "%envkit capture --frobnicate"]
    nb = execute(make_notebook(tmp_path / "v.ipynb", cells), env={"ENVKIT_DEBUG": "0"})
    assert not errors_of(nb.cells[1]) and f"envkit {__version__}" in text_of(nb.cells[1])
    [err] = errors_of(nb.cells[3])
    text = "\n".join(err.traceback)
    assert text == "envkit: internal error: ValueError: boom — rerun with ENVKIT_DEBUG=1 for the traceback"
    [err] = errors_of(nb.cells[4])
    assert "--frobnicate" in "\n".join(err.traceback) and "Traceback" not in "\n".join(err.traceback)


@pytest.mark.docker
def test_cell_magic_runs_in_a_given_image(tmp_path, engine, kernel_image):
    cells = ["%load_ext envkit", "%%envkit run --image " + kernel_image + "\nimport sys\nprint(sys.prefix)\n1/0",
             "%%envkit run --image " + kernel_image + " --timeout 2\nimport time\ntime.sleep(600)",
             "%%envkit run --no-such-option\nprint(1)"]
    nb = execute(make_notebook(tmp_path / "c.ipynb", cells), env={"ENVKIT_WIDGETS": "0"})
    shown = text_of(nb.cells[1])
    assert "/opt/envkit/venv" in shown
    [err] = errors_of(nb.cells[1])
    assert "ZeroDivisionError" in "\n".join(err.traceback)
    [err] = errors_of(nb.cells[2])
    assert "cell 1 did not finish within the timeout of 2 s" in "\n".join(err.traceback)
    assert "Traceback" not in "\n".join(err.traceback)
    [err] = errors_of(nb.cells[3])
    assert "--no-such-option" in "\n".join(err.traceback) and "Traceback" not in "\n".join(err.traceback)
    assert wait_until(lambda: not kernel_containers(engine))  # removal is asynchronous in the engine


@pytest.mark.docker
def test_cell_magic_takes_the_notebooks_image_as_envkit_run_does(tmp_path, engine, env_image, base_image):
    from support.build import tiny_notebook, tiny_spec

    path = tiny_notebook(tmp_path / "tiny.ipynb", spec=tiny_spec(),
                         cells=("%load_ext envkit", f"%config EnvkitMagics.base_image = '{base_image}'",
                                "%%envkit run\nimport six, sys\nprint(sys.executable, six.__version__)"))
    # env_image built this spec already: the cell finds it by spec digest, as `envkit run` does.
    nb = execute(path, env={"ENVKIT_WIDGETS": "0"})
    shown = text_of(nb.cells[2])
    assert not errors_of(nb.cells[2]), shown
    assert "/opt/envkit/venv/bin/python" in shown
    assert wait_until(lambda: not kernel_containers(engine))  # removal is asynchronous in the engine


@pytest.mark.docker
@pytest.mark.parametrize("widgets", ["1", "0"])
def test_a_saved_notebook_after_build_keeps_a_short_summary_and_the_result_once(tmp_path, env_image, base_image,
                                                                                 widgets):
    from support.build import tiny_notebook, tiny_spec

    path = tiny_notebook(tmp_path / "tiny.ipynb", spec=tiny_spec(),
                         cells=("%load_ext envkit", f"%config EnvkitMagics.base_image = '{base_image}'",
                                "%envkit build"))
    nb = execute(path, env={"ENVKIT_WIDGETS": widgets})
    cell = nb.cells[2]
    assert not errors_of(cell), text_of(cell)
    saved = save(nb, tmp_path / "saved.ipynb")
    outputs = json.dumps([c.get("outputs", []) for c in json.loads(saved)["cells"]])
    # No widget repr and no widget view: the progress display became its summary.
    assert "VBox(" not in saved and "IntProgress(" not in saved and "widget-view+json" not in outputs
    # No absolute host path: the notebook is named relative to its folder.
    assert str(tmp_path) not in outputs and str(Path.home()) + "/" not in outputs
    texts = [o.get("text") or o.get("data", {}).get("text/plain", "") for o in cell.outputs]
    assert texts[0].startswith("build tiny.ipynb: done in"), texts
    # The result once: the summary says that it finished, the command what it did.
    assert sum(t.count("reused envkit/") for t in texts) == 1, texts
    assert "into tiny.ipynb" in texts[-1], texts


def test_a_saved_notebook_after_capture_keeps_the_offer_as_text_and_no_host_path(tmp_path):
    path = make_notebook(tmp_path / "offer.ipynb", ["%load_ext envkit", "import json\nimport nbformat",
                                                     "%envkit capture"])
    nb = execute(path, env={"ENVKIT_WIDGETS": "1"})
    cell = nb.cells[2]
    assert not errors_of(cell), text_of(cell)
    saved = save(nb, tmp_path / "saved.ipynb")
    outputs = json.dumps(cell.outputs)
    assert "VBox(" not in saved and "Button(" not in saved
    assert "[Write into the notebook]" in text_of(cell)
    assert "envkit capture --write offer.ipynb" in text_of(cell)
    assert str(tmp_path) not in outputs
