"""Kernels and ``envkit run`` on an engine that cannot see the client's files, over tcp:// with TLS.

The engine is a second dockerd started by this module in a mount namespace of its own, with a
tmpfs over /tmp: the client's /tmp (where pytest puts the notebook's folder) does not exist for
it, so a bind mount of a client path would fail or show an empty folder. It listens on
tcp://127.0.0.1:<free port> with certificates the test makes with openssl (kept under /var/tmp,
outside the hidden /tmp), and has its own data root, exec root, pid file and bridge (never
``--bridge=none``, see docs/beyond.md). The kernel image is copied into it with save/load.
"""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from support import TEST_RUN
from support import remote_engine as support_remote
from support.kernels import kernel_image, standin_kernel_image  # noqa: F401

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def remote_engine(engine, kernel_image):
    """(DOCKER_HOST, cert path, image): the second dockerd, with the kernel image loaded into it."""
    try:
        with support_remote.remote_engine(engine, (kernel_image,)) as (host, certs):
            yield host, certs, kernel_image
    except support_remote.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def on_remote(remote_engine, monkeypatch):
    """DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH naming the second engine (here and in children)."""
    from envkit import engine as envkit_engine

    host, certs, image = remote_engine
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    envkit_engine.reset()
    yield image
    envkit_engine.reset()


def _remote_kernels() -> list:
    from envkit.engine import containers
    from envkit.labels import LABEL_KIND

    return containers.find({LABEL_KIND: "kernel", "dev.envkit.test-run": TEST_RUN})


def test_the_engine_cannot_see_the_clients_tmp(on_remote, tmp_path):
    from envkit.engine import containers, shares_files
    from envkit.labels import base_labels

    (tmp_path / "here.txt").write_text("x")
    assert not shares_files()
    status, out = containers.run(on_remote, ["sh", "-c", f"ls {tmp_path} 2>&1; true"], labels=base_labels("test"))
    assert "here.txt" not in out


def test_a_kernel_reads_the_notebooks_folder_and_its_files_come_back(on_remote, tmp_path):
    from jupyter_client.manager import KernelManager

    from envkit.kernels.kernelspec import kernel_manager
    from envkit.kernels.options import KernelOptions

    (tmp_path / "data.txt").write_text("from the client")
    outputs: list[dict] = []
    km: KernelManager = kernel_manager(KernelOptions(image=on_remote), asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive(
            "import os\nprint(open('data.txt').read(), os.getcwd())\nopen('made.txt', 'w').write('by the kernel')",
            timeout=60, output_hook=lambda msg: outputs.append(msg))
        assert reply["content"]["status"] == "ok"
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=False)
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert f"from the client {tmp_path}" in text
    assert (tmp_path / "made.txt").read_text() == "by the kernel"
    assert not _remote_kernels()


def test_envkit_run_brings_the_files_the_notebook_wrote_back(on_remote, tmp_path):
    (tmp_path / "input.txt").write_text("21")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = int(open('input.txt').read())\nprint(n * 2)"),
                nbformat.v4.new_code_cell("import pathlib\npathlib.Path('results').mkdir()\n"
                                          "pathlib.Path('results/answer.txt').write_text(str(n * 2))")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(tmp_path / "nb.ipynb"), "-o",
                           str(tmp_path / "out.ipynb"), "--image", on_remote], capture_output=True, text=True,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    assert (tmp_path / "results" / "answer.txt").read_text() == "42"
    assert not _remote_kernels()
