"""``DOCKER_HOST=ssh://…``: build, a kernel and ``envkit run`` through sshd, kernel ports through an SSH tunnel.

The remote side is Debian's sshd started by the test on 127.0.0.1 (its own config, host key and
authorized key) in front of a second dockerd in its own mount namespace (tmpfs over /tmp),
reachable only through its unix socket (tests/support/ssh_engine.py). The client side is the
real ``ssh`` with a client configuration of the test's own, put first on PATH.
"""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import TEST_RUN
from support import ssh_engine as support_ssh
from support.build import tiny_notebook, tiny_spec
from support.kernels import kernel_image, standin_kernel_image  # noqa: F401
from support.notebooks import run_writing_notebook
from support.remote_engine import Unavailable

pytestmark = pytest.mark.docker


def _leftovers(server: support_ssh.SshServer) -> list[str]:
    """What the ssh engine could have left behind: processes, folders, the bridge."""
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    procs = [line for line in ps.splitlines()
             if str(server.folder) in line or f"envkit-remote-{TEST_RUN}" in line or f":{server.port} " in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return procs + [str(p) for p in (server.folder, Path(f"/var/tmp/envkit-remote-{TEST_RUN}")) if p.exists()] + (
        [f"bridge ekr{TEST_RUN[:8]}"] if f"ekr{TEST_RUN[:8]}" in links else [])


@pytest.fixture(scope="module")
def ssh_remote(engine, kernel_image, base_image):
    """(server, kernel image): sshd in front of the second dockerd, kernel and base images loaded into it."""
    try:
        with support_ssh.ssh_engine(engine, (kernel_image, base_image)) as server:
            yield server, kernel_image
    except Unavailable as exc:
        pytest.skip(str(exc))
    assert not _leftovers(server), _leftovers(server)


def _use(monkeypatch, server: support_ssh.SshServer, client: Path) -> None:
    from envkit import engine as envkit_engine

    monkeypatch.setenv("PATH", f"{client}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_HOST", server.url)
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    envkit_engine.reset()


@pytest.fixture
def on_ssh(ssh_remote, monkeypatch):
    """DOCKER_HOST=ssh://root@127.0.0.1:PORT and the test's ssh client first on PATH (here and in children)."""
    from envkit import engine as envkit_engine

    server, image = ssh_remote
    _use(monkeypatch, server, server.client(f"ok-{os.urandom(3).hex()}"))
    yield server, image
    envkit_engine.reset()
    assert not support_ssh.sshd_sessions(server) or _sessions_end(server)


def _sessions_end(server) -> bool:
    from support.kernels import wait_until

    return wait_until(lambda: not support_ssh.sshd_sessions(server), timeout=10)


def _kernels() -> list:
    from envkit.engine import containers
    from envkit.labels import LABEL_KIND

    return containers.find({LABEL_KIND: "kernel", "dev.envkit.test-run": TEST_RUN})


def _listener(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:``port`` here, if any (from ``ss``)."""
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


def test_the_engine_is_the_one_behind_sshd_and_cannot_see_the_clients_tmp(on_ssh, tmp_path):
    from envkit import engine as envkit_engine
    from envkit.engine import containers
    from envkit.labels import base_labels

    server, image = on_ssh
    (tmp_path / "here.txt").write_text("x")
    assert not envkit_engine.shares_files()
    assert envkit_engine.connect().info()["DockerRootDir"] == f"/var/tmp/envkit-remote-{TEST_RUN}/data"
    tunnel = envkit_engine.ssh_tunnel()
    assert tunnel is not None and tunnel.remote_endpoint == f"unix:///var/tmp/envkit-remote-{TEST_RUN}/docker.sock"
    status, out = containers.run(image, ["sh", "-c", f"ls {tmp_path} 2>&1; true"], labels=base_labels("test"))
    assert "here.txt" not in out


def test_a_docker_context_with_an_ssh_host_reaches_the_same_engine(ssh_remote, monkeypatch, tmp_path):
    import json

    from envkit import engine as envkit_engine

    server, _ = ssh_remote
    _use(monkeypatch, server, server.client(f"context-{os.urandom(3).hex()}"))
    monkeypatch.delenv("DOCKER_HOST")
    meta = tmp_path / "contexts" / "meta" / "5f3a"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": server.url}}}))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    try:
        assert envkit_engine.connect().info()["DockerRootDir"] == f"/var/tmp/envkit-remote-{TEST_RUN}/data"
        assert envkit_engine.ssh_tunnel() is not None
    finally:
        envkit_engine.reset()


def test_a_kernel_runs_through_the_ssh_tunnel(on_ssh, tmp_path):
    from jupyter_client.manager import KernelManager

    from envkit import engine as envkit_engine
    from envkit.engine import containers
    from envkit.kernels.container import PORT_KEYS
    from envkit.kernels.kernelspec import kernel_manager
    from envkit.kernels.options import KernelOptions

    server, image = on_ssh
    (tmp_path / "data.txt").write_text("from the client")
    outputs: list[dict] = []
    km: KernelManager = kernel_manager(KernelOptions(image=image), asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    try:
        info = km.get_connection_info()
        local = {int(info[k]) for k in PORT_KEYS}
        [kernel] = _kernels()
        published = containers.inspect(kernel.id).published
        # The engine published each kernel port on its host's loopback only, on ports it chose...
        assert set(published) == local and {ip for ip, _ in published.values()} == {"127.0.0.1"}
        remote = {port for _, port in published.values()}
        # ...and the client talks to the connection file's ports, where envkit's ssh master listens.
        assert info["ip"] == "127.0.0.1" and not local & remote
        master = envkit_engine.ssh_tunnel().pid
        assert {_listener(p) for p in local} == {master}
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
    assert not _kernels()
    assert all(_listener(p) is None for p in local), "the kernel's forwards outlived it"


def test_envkit_run_over_ssh_brings_the_files_back(on_ssh, tmp_path):
    server, image = on_ssh
    run_writing_notebook(tmp_path, image)
    assert not _kernels()
    # The CLI's ssh master ended with it: once this process's own is closed, no session is left.
    from envkit import engine as envkit_engine

    envkit_engine.reset()
    assert _sessions_end(server)


def test_envkit_build_over_ssh(on_ssh, tmp_path, base_image):
    from envkit.cli import main
    from envkit.engine import connect
    from envkit.notebook import read_notebook

    nb = tiny_notebook(tmp_path / f"ssh-{TEST_RUN}.ipynb", spec=tiny_spec())
    with support_ssh.outbound():  # the second engine's builds reach the package index as the shared one's do
        assert main(["build", str(nb), "--base-image", base_image]) == 0
    meta = read_notebook(nb).envkit()
    assert meta is not None and meta.image is not None
    assert connect().images.get(meta.image.id).id == meta.image.id  # on the engine behind sshd


@pytest.fixture(scope="module")
def lab_on_ssh(ssh_remote, engine, base_image, tmp_path_factory):
    """The tiny environment image and its JupyterLab layer (built on the shared engine), copied in."""
    import docker
    from support.build import shared_env_image
    from support.share_image import SharedImage

    from envkit import engine as envkit_engine
    from envkit.launch import ensure_lab_image, lab_image_plan

    envkit_engine.reset()  # build on the shared engine, whatever a test before left
    built = shared_env_image(base_image, tmp_path_factory)
    ensure_lab_image(built.image.id)
    there = docker.DockerClient(base_url=f"unix:///var/tmp/envkit-remote-{TEST_RUN}/docker.sock")
    try:
        for tag in (built.image.tag, lab_image_plan(built.image.id)[2]):
            there.images.load(engine.images.get(tag).save(named=tag))
    finally:
        there.close()
    return SharedImage(image_id=built.image.id, tag=built.image.tag, spec=tiny_spec(), lock=built.lock)


def _contents(server, rel: str, model: dict | None = None) -> dict:
    """GET (or with ``model`` PUT) ``rel`` through the Jupyter server's contents API, with the token."""
    import json
    import urllib.request

    api = server.base_url.split("/lab/")[0] + "/api/contents/" + rel
    request = urllib.request.Request(api + ("?content=1" if model is None else ""),
                                     data=None if model is None else json.dumps(model).encode(),
                                     method="GET" if model is None else "PUT",
                                     headers={"Authorization": f"token {server.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def test_launch_over_ssh_through_a_forwarded_port_and_saved_edits_come_back(lab_on_ssh, on_ssh, tmp_path):
    from support.share_image import notebook_for

    from envkit import engine as envkit_engine
    from envkit.engine import containers
    from envkit.labels import LABEL_KIND
    from envkit.launch import CONTAINER_PORT, start_lab

    nb = notebook_for(lab_on_ssh, tmp_path / "project", name="answer.ipynb")
    server = start_lab(nb)
    try:
        [lab] = containers.find({LABEL_KIND: "launch", "dev.envkit.test-run": TEST_RUN})
        ip, published = containers.inspect(lab.id).published[CONTAINER_PORT]
        # Published on the engine host's loopback; the URL names a port here where envkit's ssh master listens.
        assert ip == "127.0.0.1" and server.base_url.startswith(f"http://127.0.0.1:{server.port}/lab/tree/")
        assert server.port != published and _listener(server.port) == envkit_engine.ssh_tunnel().pid
        assert f"token={server.token}" in server.url
        model = _contents(server, "answer.ipynb")
        assert "print('envkit answer', 6 * 7)" in ["".join(c["source"]) for c in model["content"]["cells"]]
        model["content"]["cells"].append({"cell_type": "code", "id": "added", "metadata": {}, "outputs": [],
                                          "execution_count": None, "source": "print('added over ssh')"})
        _contents(server, "answer.ipynb", {"type": "notebook", "format": "json", "content": model["content"]})
        assert "added over ssh" not in nb.read_text()
    finally:
        server.stop()
    assert "print('added over ssh')" in nb.read_text()
    assert server.copy_error == "" and list(server.copied_back.written) == ["answer.ipynb"]
    assert not containers.find({LABEL_KIND: "launch", "dev.envkit.test-run": TEST_RUN})
    assert _listener(server.port) is None, "the launch's forward outlived it"


@pytest.mark.parametrize("case", ["host key unknown", "key refused", "no ssh", "no docker there"])
def test_each_failure_is_one_line_saying_what_to_do(ssh_remote, monkeypatch, tmp_path, case):
    server, _ = ssh_remote
    if case == "host key unknown":
        client, expected = server.client(f"unknown-{TEST_RUN}", known=False), ("host key of 127.0.0.1 is not known",
                                                                                f"ssh -p {server.port} root@127.0.0.1")
    elif case == "key refused":
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
        client = server.client(f"refused-{os.urandom(3).hex()}", key=tmp_path / "other")
        expected = ("refused the SSH login of root", "ssh-add")
    elif case == "no ssh":
        client, expected = tmp_path, ("need the ssh client, which is not installed", "openssh-client")
    else:
        client, expected = None, ("127.0.0.1 has no docker command", "install Docker on 127.0.0.1")
    if client is not None:
        _use(monkeypatch, server, client)
        if case == "no ssh":
            monkeypatch.setenv("PATH", str(tmp_path))
        _expect(expected)
        return
    # A host without docker: a second sshd whose sessions find only sh on PATH.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sh").symlink_to("/bin/sh")
    with support_ssh.sshd({"PATH": str(tmp_path / "bin")}) as bare:
        _use(monkeypatch, bare, bare.client("no-docker"))
        _expect(expected)


def _expect(expected: tuple[str, str]) -> None:
    from envkit import engine as envkit_engine
    from envkit.errors import EngineUnavailable

    with pytest.raises(EngineUnavailable) as caught:
        envkit_engine.connect()
    envkit_engine.reset()
    assert expected[0] in caught.value.message and "\n" not in caught.value.message
    assert expected[1] in (caught.value.hint or "")
    # The CLI says the same in its one line and hint, without a traceback.
    done = subprocess.run([sys.executable, "-m", "envkit", "images"], capture_output=True, text=True,
                          env=dict(os.environ, PATH=os.environ["PATH"]))
    assert done.returncode != 0 and expected[0] in done.stderr and "Traceback" not in done.stderr
