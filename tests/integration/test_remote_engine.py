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

import ipaddress
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from support import TEST_RUN
from support.kernels import kernel_image, standin_kernel_image  # noqa: F401

pytestmark = pytest.mark.docker


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    taken = [ipaddress.ip_interface(w).network for w in used.split() if "/" in w and w[0].isdigit()]
    for third in range(200, 250):
        net = ipaddress.ip_network(f"10.{third}.77.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    pytest.skip("no free /24 for the second engine's bridge")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as dockerd's TLS docs make them."""
    folder.mkdir(parents=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=envkit test CA",
             "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=folder)
    (folder / "server.ext").write_text("subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage = clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}-key.pem",
                 "-out", f"{name}.csr", cwd=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}-cert.pem", cwd=folder)
    # DOCKER_CERT_PATH wants ca.pem, cert.pem and key.pem.
    shutil.copy(folder / "client-cert.pem", folder / "cert.pem")
    shutil.copy(folder / "client-key.pem", folder / "key.pem")
    return folder


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


@pytest.fixture(scope="module")
def remote_engine(engine, kernel_image):
    """(DOCKER_HOST, cert path, image): the second dockerd, with the kernel image loaded into it."""
    import docker

    for tool in ("dockerd", "unshare", "openssl", "ip"):
        if not shutil.which(tool):
            pytest.skip(f"a second engine in its own mount namespace needs {tool}")
    if os.geteuid() != 0:
        pytest.skip("a second dockerd needs root")
    root = Path(f"/var/tmp/envkit-remote-{TEST_RUN}")
    root.mkdir(parents=True)
    bridge, subnet, port = f"ekr{TEST_RUN[:8]}", _free_subnet(), _free_port()
    host = f"tcp://127.0.0.1:{port}"
    certs = make_certificates(root / "certs")
    proc = log = client = None
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        dockerd = ["dockerd", "-H", host, "--tlsverify", f"--tlscacert={certs / 'ca.pem'}",
                   f"--tlscert={certs / 'server-cert.pem'}", f"--tlskey={certs / 'server-key.pem'}",
                   "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                   "--pidfile", str(root / "docker.pid"), f"--bridge={bridge}", "--iptables=false"]
        script = "mount --make-rprivate / && mount -t tmpfs tmpfs /tmp && exec " + " ".join(dockerd)
        log = open(root / "dockerd.log", "wb")
        proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        tls = docker.tls.TLSConfig(client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                                   ca_cert=str(certs / "ca.pem"), verify=True)

        def answers():
            try:
                found = docker.DockerClient(base_url=host, tls=tls, timeout=300, version="1.41")
                found.api.trust_env = False  # else REQUESTS_CA_BUNDLE replaces the test's CA
                found.ping()
                return found
            except Exception:  # noqa: BLE001 - not up yet
                return None

        deadline = time.monotonic() + 60
        while (client := answers()) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the second dockerd did not start:\n" + (root / "dockerd.log").read_text()[-3000:])
            time.sleep(0.5)
        client.images.load(engine.images.get(kernel_image).save(named=True))
        yield host, certs, kernel_image
    finally:
        if client is not None:
            for c in client.containers.list(all=True):
                c.remove(force=True)
            client.close()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log is not None:
            log.close()
        _ip("link", "del", bridge, check=False)
        shutil.rmtree(root, ignore_errors=True)


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
