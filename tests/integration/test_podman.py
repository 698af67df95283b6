"""Kernels and ``envkit run`` on Podman's Docker-compatible API (rootful, Debian's podman 4.3).

The test starts its own ``podman system service`` (tests/support/podman.py: its own storage
root, run root and socket, ``containers.conf`` rlimits within this process's own). The kernel
image is copied from the Docker engine with ``podman load``. In CI as root the test installs podman and
catatonit (Podman's init) itself; elsewhere it skips naming them.
"""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from support import podman as support_podman
from support.kernels import kernel_image, standin_kernel_image  # noqa: F401

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def podman(engine, kernel_image):
    """(DOCKER_HOST, image): this test's Podman service, with the kernel image in its storage."""
    try:
        with support_podman.podman_service(engine, (kernel_image,)) as host:
            yield host, kernel_image
    except support_podman.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def on_podman(podman, monkeypatch):
    from envkit import engine as envkit_engine

    host, image = podman
    monkeypatch.setenv("DOCKER_HOST", host)
    envkit_engine.reset()
    yield image
    envkit_engine.reset()


def test_podmans_image_names_read_as_dockers(on_podman):
    from envkit.engine.images import inspect_image
    from envkit.engine.system import is_podman

    assert is_podman()
    info = inspect_image(on_podman)
    assert info is not None and on_podman in info.tags  # Podman itself says localhost/…


def test_a_kernel_on_podman_reads_and_writes_the_notebooks_folder(on_podman, tmp_path):
    from envkit.kernels.kernelspec import kernel_manager
    from envkit.kernels.options import KernelOptions

    (tmp_path / "data.txt").write_text("from the client")
    outputs: list[dict] = []
    km = kernel_manager(KernelOptions(image=on_podman), asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive("import os\nprint(open('data.txt').read(), os.environ['HOME'])\n"
                                       "open(os.path.expanduser('~/x'), 'w').write('home is writable')",
                                       timeout=60, output_hook=outputs.append)
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=False)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert "from the client /home/envkit" in text


def test_envkit_run_on_podman(on_podman, tmp_path):
    (tmp_path / "input.txt").write_text("21")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = int(open('input.txt').read())\nprint(n * 2)"),
                nbformat.v4.new_code_cell("open('answer.txt', 'w').write(str(n * 2))")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(tmp_path / "nb.ipynb"), "-o",
                           str(tmp_path / "out.ipynb"), "--image", on_podman], capture_output=True, text=True,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    assert nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"] == "42\n"
    assert (tmp_path / "answer.txt").read_text() == "42"
