"""The Python a notebook ran on (issue 9, item 3): ``python:X.Y-slim`` for the notebook's own Python.

On an engine of the test's own (never tag ``python:*`` on the shared engine: that namespace is
the user's), Debian images made with debootstrap stand in for the official ones: bullseye
(Python 3.9) as ``python:3.9-slim``, with its interpreter moved to ``/usr/local/bin`` as in the
official slim images, and trixie (Python 3.13) as ``python:3.13-slim``, as Debian ships it
(``/usr/bin/python3``, python3-venv), so the templates build on both layouts. Builds there reach
no network; they install from a package index of the test's own on the engine's bridge
(``support.wheel_index``), and no registry answers a pull. Everything is removed with the engine.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support import system, wheel_index
from support.notebooks import make_notebook

from envkit.plan import UV_VERSION

pytestmark = pytest.mark.docker

# The official slim images' layout: the interpreter in /usr/local/bin, no /usr/bin/python3.
SLIM_LAYOUT = """FROM {base}
RUN mv /usr/bin/python3.9 /usr/local/bin/python3.9 && rm /usr/bin/python3 \\
 && ln -s python3.9 /usr/local/bin/python3 && ln -s python3 /usr/local/bin/python \\
 && [ "$(command -v python3)" = /usr/local/bin/python3 ] && [ ! -e /usr/bin/python3 ]
"""
# The kernel's Python, and where the environment's interpreter lives (pyvenv.cfg's home).
PRINT_PYTHON = ("import sys\nhome = [l.split('=')[1].strip() for l in open(sys.prefix + '/pyvenv.cfg') if l.startswith('home')]\n"
                "print('python %d.%d at %s' % (sys.version_info[0], sys.version_info[1], home[0]))")


@pytest.fixture(scope="module")
def pythons(second_engine, tmp_path_factory):
    """A private engine with python:3.9-slim and python:3.13-slim, and the index URL its builds use."""
    bullseye = system.ensure_base_image("envkit-test-base:bullseye")
    trixie = system.ensure_base_image("envkit-test-base:trixie")
    wheels = tmp_path_factory.mktemp("wheels")
    wheel_index.download([f"uv=={UV_VERSION}", "ipykernel"], "3.9", wheels, glibc=31)
    wheel_index.download([f"uv=={UV_VERSION}", "ipykernel"], "3.13", wheels, glibc=41)
    root = tmp_path_factory.mktemp("index")
    wheel_index.write_simple_index(wheels, root)
    pe = second_engine("pythons", images=(bullseye, trixie))
    client = pe.client()
    client.images.build(fileobj=io.BytesIO(SLIM_LAYOUT.format(base=bullseye).encode()), tag="python:3.9-slim",
                        rm=True, forcerm=True)
    assert pe.docker("tag", trixie, "python:3.13-slim").returncode == 0
    with wheel_index.served(root, pe.gateway) as index:
        yield pe, index


def _envkit(pythons, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    pe, index = pythons
    env = {k: v for k, v in os.environ.items() if k not in {"ENVKIT_BASE_IMAGE", "PIP_EXTRA_INDEX_URL"}}
    env.update(DOCKER_HOST=pe.url, PIP_INDEX_URL=index, PIP_TRUSTED_HOST=pe.gateway, ENVKIT_DEBUG="",
               XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return subprocess.run([sys.executable, "-m", "envkit", *args], env=env, text=True, capture_output=True,
                          timeout=1500)


def _record(path: Path) -> dict:
    return json.loads(path.read_text())["metadata"]["envkit"]


def _printed(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


@pytest.mark.parametrize(("version", "layout"), [("3.9.7", "/usr/local/bin"), ("3.13.1", "/usr/bin")])
def test_the_notebooks_python_is_the_images(pythons, tmp_path, version, layout):
    nb = make_notebook(tmp_path / f"py{version.replace('.', '')}.ipynb", [PRINT_PYTHON], version=version)
    out = tmp_path / "out.ipynb"
    done = _envkit(pythons, tmp_path, "run", str(nb), "-o", str(out))
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    minor = ".".join(version.split(".")[:2])
    assert f"Python {minor} (language_info of the notebook): python:{minor}-slim is on the engine" in said, said
    assert said.count(f"Python {minor} (") == 1
    assert _printed(out).strip() == f"python {minor} at {layout}"  # the kernel ran on the image's own Python
    spec = _record(nb)["spec"]
    assert spec["python"] == minor and not spec.get("base_image")
    # Built once, the notebook keeps its Python: no probe, no line, the same image.
    image = _record(nb)["image"]["id"]
    again = _envkit(pythons, tmp_path, "build", str(nb))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "language_info of the notebook" not in again.stdout + again.stderr
    assert _record(nb)["image"]["id"] == image and _record(nb)["spec"]["python"] == minor


def test_a_python_the_engine_lacks_takes_the_nearest_newer_one(pythons, tmp_path):
    nb = make_notebook(tmp_path / "py310.ipynb", [PRINT_PYTHON], version="3.10.12")
    out = tmp_path / "out.ipynb"
    done = _envkit(pythons, tmp_path, "run", str(nb), "-o", str(out))
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    line = ("Python 3.13 (the notebook's language_info says 3.10; the engine has no python:3.10-slim and could not "
            "pull it): python:3.13-slim, the nearest newer one it has")
    assert line in said, said
    assert _printed(out).strip() == "python 3.13 at /usr/bin"
    assert _record(nb)["spec"]["python"] == "3.13"


def test_python_2_cells_stop_the_run_unless_errors_are_allowed(pythons, tmp_path):
    nb = make_notebook(tmp_path / "mixed.ipynb", [PRINT_PYTHON, 'print "saved with Python 2"'], version="3.13.1")
    stopped = _envkit(pythons, tmp_path, "run", str(nb), "-o", str(tmp_path / "never.ipynb"))
    assert stopped.returncode != 0 and "Traceback" not in stopped.stderr
    assert "Python 2 code in cell 2 (print statement); Python 3 cannot run it" in stopped.stderr, stopped.stderr
    assert "--allow-errors" in stopped.stderr
    assert not (tmp_path / "never.ipynb").exists() and "envkit" not in json.loads(nb.read_text())["metadata"]
    out = tmp_path / "out.ipynb"
    done = _envkit(pythons, tmp_path, "run", str(nb), "-o", str(out), "--allow-errors")
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    assert said.count("Python 2 code in cell 2 (print statement)") == 1, said  # once, by the build's capture
    assert _printed(out).strip() == "python 3.13 at /usr/bin"
    assert [o["output_type"] for o in nbformat.read(out, as_version=4).cells[1].outputs] == ["error"]
