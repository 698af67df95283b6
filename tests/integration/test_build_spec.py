"""The spec follows the code, capture shows what build installs, a base image is chosen once (issue 8)."""
# ruff: noqa: F811  (pytest fixtures imported from support modules)

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from support import TEST_RUN
from support.build import env_image, tiny_notebook, tiny_spec  # noqa: F401
from support.notebooks import errors_of, execute, make_notebook, text_of

from envkit.cli import main
from envkit.labels import LABEL_TEST_RUN
from envkit.notebook import read_notebook

pytestmark = pytest.mark.docker


def _add_cell(path, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)


def _drop_last_cell(path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.pop()
    nbformat.write(nb, path)


def test_a_new_import_is_captured_said_built_and_runs(env_image, tmp_path, capsys):
    nb = tiny_notebook(tmp_path / "follows.ipynb", spec=tiny_spec())
    assert main(["build", str(nb)]) == 0  # the stored spec (and its base) is the session's image
    out = capsys.readouterr()
    assert "reused" in out.out and "changed" not in out.out + out.err
    assert read_notebook(nb).envkit().image.id == env_image.image.id

    _add_cell(nb, "import attrs\nprint('attrs', attrs.__version__)")
    assert main(["build", str(nb)]) == 0
    out = capsys.readouterr()
    shown = out.out + out.err
    assert "the notebook changed: + attrs (cell 2)" in shown  # one line says what changed
    # (the image reused above was built for another notebook, whose packages layer is never lent:
    # the build is not incremental here; test_build.py covers building on the previous layer)
    meta = read_notebook(nb).envkit()
    assert meta.spec.requirement("attrs") is not None and meta.lock.pin("attrs") is not None
    assert meta.image.spec_digest == meta.spec.digest() and meta.image.id != env_image.image.id

    executed = tmp_path / "out.ipynb"
    assert main(["run", str(nb), "-o", str(executed)]) == 0  # no ModuleNotFoundError
    assert "attrs" in text_of(nbformat.read(executed, as_version=4).cells[1])

    _drop_last_cell(nb)
    assert main(["build", str(nb)]) == 0
    out = capsys.readouterr()
    assert "the notebook changed: - attrs" in out.out + out.err
    assert read_notebook(nb).envkit().image.id == env_image.image.id  # back to the first spec: a look-up


def test_base_image_from_the_environment_is_stored_and_used_by_a_later_run(env_image, base_image, tmp_path,
                                                                             monkeypatch, engine):
    nb = tiny_notebook(tmp_path / "based.ipynb")  # no spec yet: captured (six)
    monkeypatch.setenv("ENVKIT_BASE_IMAGE", base_image)
    assert main(["build", str(nb)]) == 0
    meta = read_notebook(nb).envkit()
    assert meta.spec.base_image == base_image  # chosen once, stored with the spec
    assert meta.image.id == env_image.image.id  # six on the test base: the session's image
    monkeypatch.delenv("ENVKIT_BASE_IMAGE")
    images = _built_and_bases(engine)
    assert main(["run", str(nb), "-o", str(tmp_path / "out.ipynb")]) == 0
    assert read_notebook(nb).envkit().image.id == env_image.image.id
    assert _built_and_bases(engine) == images  # no second image, no other base


def _built_and_bases(engine) -> tuple[set[str], set[str]]:
    """The images this test run built, and the python:* images (only looked at: other sessions build too)."""
    built = {i.id for i in engine.images.list(filters={"label": f"{LABEL_TEST_RUN}={TEST_RUN}"})}
    return built, {i.id for i in engine.images.list(name="python")}


def test_build_in_a_kernel_installs_the_versions_loaded_there(base_image, tmp_path, tmp_path_factory):
    # six 1.16.0 is not the newest (this venv has a later one): the host kernel loads it, from
    # PYTHONPATH (a sys.path.insert in the notebook would make six a local module, rightly).
    old = tmp_path_factory.mktemp("old-six")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(old), "six==1.16.0"],
                   check=True, timeout=300)
    import importlib.metadata as md

    assert md.version("six") != "1.16.0"
    path = make_notebook(tmp_path / "kernel-pins.ipynb", [
        "import six\nprint(six.__version__)",
        "%load_ext envkit",
        "%envkit build",
    ])
    nb = execute(path, env={"ENVKIT_WIDGETS": "0", "ENVKIT_BASE_IMAGE": base_image, "PYTHONPATH": str(old)})
    assert text_of(nb.cells[0]).strip() == "1.16.0"
    assert not errors_of(nb.cells[2]), text_of(nb.cells[2])
    meta = read_notebook(path).envkit()
    assert meta.spec.requirement("six") is not None, meta.spec.to_json()
    assert meta.spec.requirement("six").specifier == "==1.16.0"  # what %envkit capture shows
    assert meta.lock.pin("six").version == "1.16.0"  # read back from the image: what it installed
    assert meta.spec.base_image == base_image
