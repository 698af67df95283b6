"""Installing from an envkit container kernel, and envkit's magics inside it (issue 8, items 5 and 6).

A real image built by envkit, a real jupyter_client kernel in a container, real installs from
the index through the host's proxy: ``%pip``, ``!pip`` and ``%uv pip`` land in the kernel's own
environment whoever the kernel runs as (the caller, root, another uid), ``%load_ext envkit``
loads the image's stand-in, and a saved ``%pip install`` line reaches the next image.
"""
# ruff: noqa: F811  (pytest fixtures imported from support)

from __future__ import annotations

import json
import os
import re

import pytest
from support import build as support_build
from support.build import run_notebook, tiny_notebook
from support.kernels import jupyter_dirs  # noqa: F401

from envkit.cli import main
from envkit.kernels.kernelspec import kernel_manager
from envkit.kernels.options import KernelOptions
from envkit.notebook import read_notebook

pytestmark = pytest.mark.docker
env_image = support_build.env_image  # the session's shared image (a fixture)


def run_code(kc, code: str, timeout: float = 180) -> tuple[str, dict, list[dict]]:
    """Execute ``code``: (reply status, stdout text, the stderr and error messages seen)."""
    out: list[str] = []
    bad: list[dict] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            out.append(content["text"])
        elif kind in ("stream", "error"):
            bad.append(content)

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    # uv colours its summary (the kernel runs shell commands on a terminal); Jupyter renders it.
    return reply["content"]["status"], {"stdout": re.sub(r"\x1b\[[0-9;]*m", "", "".join(out))}, bad


@pytest.fixture
def kernel(env_image, tmp_path):
    """Start a container kernel of the session's image as ``user`` ("" = envkit's default)."""
    started = []

    def start(user: str = ""):
        work = tmp_path / f"work-{user or 'default'}".replace(":", "-")
        work.mkdir()
        if user:  # root without capabilities, or another uid, must be able to enter and write it
            work.chmod(0o777)
        km = kernel_manager(KernelOptions(image=env_image.image.id, user=user), asynchronous=False)
        km.start_kernel(cwd=str(work))
        kc = km.client()
        kc.start_channels()
        started.append((km, kc))
        kc.wait_for_ready(timeout=90)
        return kc

    yield start
    for km, kc in started:
        kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)


@pytest.mark.parametrize("user", ["", "root", "4321:4321"])
def test_pip_installs_into_the_kernels_environment_whoever_runs_it(kernel, user):
    kc = kernel(user)
    status, out, bad = run_code(kc, "%pip install tomli-w==1.0.0")
    assert status == "ok" and not bad, (out, bad)
    assert "tomli-w==1.0.0" in out["stdout"] and "error" not in out["stdout"].lower()
    status, out, bad = run_code(kc, "import tomli_w, sys, os\nprint(tomli_w.__file__, os.getuid())")
    assert status == "ok" and not bad, (out, bad)
    where, uid = out["stdout"].split()
    assert where.startswith("/opt/envkit/venv/") and uid == {"": uid, "root": "0", "4321:4321": "4321"}[user]
    # !pip reaches the environment's pip (not the base's system pip and its PEP 668 refusal), and
    # may replace a package the image installed (six, owned by the build's user).
    status, out, bad = run_code(kc, "!pip install six==1.16.0\nimport six\nprint('six', six.__version__)")
    assert status == "ok" and not bad and "six 1.16.0" in out["stdout"], (out, bad)
    status, out, bad = run_code(kc, "%uv pip install iniconfig==2.0.0\nimport iniconfig\nprint('ini', iniconfig.__file__)")
    assert status == "ok" and not bad and "ini /opt/envkit/venv/" in out["stdout"], (out, bad)
    status, out, bad = run_code(kc, "!uv pip install tomli==2.0.1\nimport tomli\nprint('tomli', tomli.__file__)")
    assert status == "ok" and not bad and "tomli /opt/envkit/venv/" in out["stdout"], (out, bad)


def test_envkit_magics_load_in_the_container(kernel):
    kc = kernel()
    status, out, bad = run_code(kc, "%load_ext envkit")
    assert status == "ok" and not bad and out["stdout"] == "", (out, bad)
    status, out, bad = run_code(kc, "%envkit build")
    assert status == "ok" and not bad, (out, bad)
    [line] = out["stdout"].splitlines()
    assert "runs on the host" in line and "envkit build" in line
    status, out, bad = run_code(kc, "import six\n%envkit capture")
    assert status == "ok" and not bad, (out, bad)
    assert "inside the notebook's container" in out["stdout"] and "six==" in out["stdout"]
    status, out, bad = run_code(kc, "%%envkit run\nprint('here', 6 * 7)")
    assert status == "ok" and not bad and "here 42" in out["stdout"], (out, bad)


def test_a_saved_pip_line_reaches_the_next_image(env_image, base_image, engine, tmp_path, capsys):
    nb = tiny_notebook(tmp_path / run_notebook("pipped"),
                       cells=("%pip install tomli-w==1.0.0\nimport tomli_w\nprint(tomli_w.dumps({'a': 1}))",))
    assert main(["capture", "--write", str(nb)]) == 0
    spec = read_notebook(nb).envkit().spec
    assert ("tomli-w", "==1.0.0") in [(r.name, r.specifier) for r in spec.requirements]
    assert main(["build", str(nb), "--base-image", base_image]) == 0
    capsys.readouterr()
    meta = read_notebook(nb).envkit()
    assert meta.lock.pin("tomli-w").version == "1.0.0"
    out = engine.containers.run(meta.image.id, ["python", "-c", "import tomli_w, json; print(json.dumps("
                                                "{'file': tomli_w.__file__}))"], remove=True, user=str(os.getuid() or 1000))
    assert json.loads(out)["file"].startswith("/opt/envkit/venv/")
