"""Kernels and ``envkit run`` on an engine that cannot see the client's files, over tcp:// with TLS.

The engine is a second dockerd (the ``second_engine`` fixture, ``own_mounts=True, tls=True``) in a
mount namespace of its own, with a tmpfs over /tmp: the client's /tmp (where pytest puts the notebook's folder) does not exist for
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

import pytest
from support import TEST_RUN
from support.kernels import kernel_image, standin_kernel_image  # noqa: F401
from support.notebooks import run_writing_notebook

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def remote_engine(second_engine, kernel_image):
    """(the second dockerd, image): in its own mount namespace, tcp + TLS, the kernel image loaded."""
    return second_engine("remote", own_mounts=True, tls=True, images=(kernel_image,)), kernel_image


@pytest.fixture
def on_remote(remote_engine, monkeypatch):
    """DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH naming the second engine (here and in children)."""
    from envkit import engine as envkit_engine

    found, image = remote_engine
    for key, value in found.env().items():
        monkeypatch.setenv(key, value)
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
    (tmp_path / "notes.txt").write_text("v1")
    outputs: list[dict] = []
    km: KernelManager = kernel_manager(KernelOptions(image=on_remote), asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive(
            "import os\nprint(open('data.txt').read(), os.getcwd())\nopen('made.txt', 'w').write('by the kernel')\n"
            "open('notes.txt', 'w').write('v2 in the kernel')",
            timeout=60, output_hook=lambda msg: outputs.append(msg))
        assert reply["content"]["status"] == "ok"
        kc.stop_channels()
        (tmp_path / "notes.txt").write_text("v2 on the client")  # changed on both sides meanwhile
    finally:
        km.shutdown_kernel(now=False)
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert f"from the client {tmp_path}" in text
    assert (tmp_path / "made.txt").read_text() == "by the kernel"
    assert (tmp_path / "notes.txt").read_text() == "v2 on the client"
    assert (tmp_path / "notes.from-kernel.txt").read_text() == "v2 in the kernel"
    assert not _remote_kernels()


def test_envkit_run_brings_the_files_the_notebook_wrote_back(on_remote, tmp_path):
    run_writing_notebook(tmp_path, on_remote)
    assert not _remote_kernels()


@pytest.fixture(scope="module")
def lab_on_remote(remote_engine, base_image, tmp_path_factory):
    """The tiny environment image and its JupyterLab layer (built on the shared engine), copied in."""
    from support.build import shared_env_image, tiny_spec
    from support.share_image import SharedImage

    from envkit.launch import ensure_lab_image, lab_image_plan

    found, _ = remote_engine
    built = shared_env_image(base_image, tmp_path_factory)
    ensure_lab_image(built.image.id)
    found.load(built.image.tag)
    found.load(lab_image_plan(built.image.id)[2])
    return SharedImage(image_id=built.image.id, tag=built.image.tag, spec=tiny_spec(), lock=built.lock)


def _contents(server, rel: str, model: dict | None = None) -> dict:
    """GET (or with ``model`` PUT) ``rel`` through the Jupyter server's contents API, with the token."""
    import json
    import urllib.request

    api = server.base_url.split("/lab/")[0] + "/api/contents/" + rel
    data = None if model is None else json.dumps(model).encode()
    request = urllib.request.Request(api + ("?content=1" if model is None else ""), data=data,
                                     method="GET" if model is None else "PUT",
                                     headers={"Authorization": f"token {server.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def _launches(found) -> list[str]:
    return [line for line in found.containers() if "envkit-lab-" in line]


def test_launch_copies_the_folder_in_and_saved_edits_come_back_on_a_stop_from_another_process(
        remote_engine, lab_on_remote, on_remote, tmp_path):
    from support.share_image import notebook_for

    from envkit.launch import start_lab

    found, _ = remote_engine
    volumes = found.volumes()
    folder = tmp_path / "project"
    nb = notebook_for(lab_on_remote, folder, name="answer.ipynb")
    (folder / "data.txt").write_text("from the client")
    (folder / "notes.txt").write_text("v1")
    server = start_lab(nb)
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        model = _contents(server, "answer.ipynb")
        assert model["type"] == "notebook"
        assert "print('envkit answer', 6 * 7)" in ["".join(c["source"]) for c in model["content"]["cells"]]
        assert _contents(server, "data.txt")["content"] == "from the client"
        cells = model["content"]["cells"]
        cells.append({"cell_type": "code", "id": "added", "metadata": {}, "execution_count": None,
                      "outputs": [], "source": "print('added in the lab')"})
        _contents(server, "answer.ipynb", {"type": "notebook", "format": "json", "content": model["content"]})
        _contents(server, "results", {"type": "directory"})
        _contents(server, "results/made.txt", {"type": "file", "format": "text", "content": "made in the lab"})
        _contents(server, "notes.txt", {"type": "file", "format": "text", "content": "v2 in the lab"})
        (folder / "notes.txt").write_text("v2 on the client")  # changed on both sides meanwhile
        # Files come back when the launch ends, not while it runs.
        assert "added in the lab" not in nb.read_text()
        assert not (folder / "results").exists()
        # Stopped from another process, which has no snapshot in memory: it reads the one the
        # launch stored in its container, and copies back by the same rules.
        stopped = subprocess.run([sys.executable, "-m", "envkit", "launch", str(nb), "--stop"],
                                 capture_output=True, text=True, env=dict(os.environ))
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    finally:
        server.stop()
    assert "print('added in the lab')" in nb.read_text()
    assert (folder / "results" / "made.txt").read_text() == "made in the lab"
    assert (folder / "notes.txt").read_text() == "v2 on the client"
    assert (folder / "notes.from-lab.txt").read_text() == "v2 in the lab"
    report = stopped.stdout + stopped.stderr
    assert "copied 2 file(s)" in report and "answer.ipynb" in report and "results/made.txt" in report
    assert "notes.txt changed" in report and "notes.from-lab.txt" in report
    # The owner found the container gone: nothing copied twice, no "edits are lost" warning.
    assert server.removed_elsewhere and server.copy_error == "" and server.copied_back is None
    assert _launches(found) == [] and found.volumes() == volumes


def test_a_launch_whose_owner_is_killed_leaves_nothing_on_the_remote_engine(remote_engine, lab_on_remote,
                                                                             on_remote, tmp_path):
    import signal
    import time

    from support.share_image import notebook_for

    found, _ = remote_engine
    volumes = found.volumes()
    nb = notebook_for(lab_on_remote, tmp_path / "killed", name="answer.ipynb")
    before = nb.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "launch", str(nb), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        url = ""
        while not url:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError("envkit launch ended:\n" + proc.stderr.read()[-3000:])
            if "http://127.0.0.1:" in line:
                url = line.split(": ", 1)[1].strip()
        assert len(_launches(found)) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 60
        while _launches(found) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _launches(found) == [] and found.volumes() == volumes
        assert nb.read_bytes() == before
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
