"""A second dockerd that cannot see this machine's /tmp, on tcp://127.0.0.1 with TLS.

Started in a mount namespace of its own with a tmpfs over /tmp (``unshare -m``), with
certificates made here with openssl under /var/tmp (outside the hidden /tmp), its own data
root, exec root, pid file and bridge (never ``--bridge=none``: see docs/beyond.md) and
``--iptables=false``. Used by tests/integration/test_remote_engine.py and benchmarks/engines.py.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import TEST_RUN


class Unavailable(Exception):
    """This machine cannot run the second engine (a tool or root is missing)."""


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
    raise Unavailable("no free /24 for the second engine's bridge")


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


@contextmanager
def remote_engine(local, images: tuple[str, ...], *, unix_socket: bool = False) -> Iterator[tuple[str, Path]]:
    """(DOCKER_HOST, DOCKER_CERT_PATH) of the second engine, with ``images`` copied from ``local``.

    With ``unix_socket`` it listens only on a socket under /var/tmp (no tcp, no TLS): the ssh://
    tests reach it through sshd (tests/support/ssh_engine.py).

    Everything is removed on exit: its containers, the daemon, its bridge and its folder.
    """
    import docker

    for tool in ("dockerd", "unshare", "openssl", "ip"):
        if not shutil.which(tool):
            raise Unavailable(f"a second engine in its own mount namespace needs {tool}")
    if os.geteuid() != 0:
        raise Unavailable("a second dockerd needs root")
    root = Path(f"/var/tmp/envkit-remote-{TEST_RUN}")
    root.mkdir(parents=True)
    bridge, port = f"ekr{TEST_RUN[:8]}", _free_port()
    host = f"unix://{root / 'docker.sock'}" if unix_socket else f"tcp://127.0.0.1:{port}"
    proc = log = client = None
    try:
        subnet = _free_subnet()
        certs = make_certificates(root / "certs")
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        tls_args = [] if unix_socket else [
            "--tlsverify", f"--tlscacert={certs / 'ca.pem'}", f"--tlscert={certs / 'server-cert.pem'}",
            f"--tlskey={certs / 'server-key.pem'}"]
        dockerd = ["dockerd", "-H", host, *tls_args, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                   "--pidfile", str(root / "docker.pid"), f"--bridge={bridge}", "--iptables=false"]
        script = "mount --make-rprivate / && mount -t tmpfs tmpfs /tmp && exec " + " ".join(dockerd)
        log = open(root / "dockerd.log", "wb")
        proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        tls = docker.tls.TLSConfig(client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                                   ca_cert=str(certs / "ca.pem"), verify=True) if not unix_socket else None

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
                raise RuntimeError("the second dockerd did not start:\n" + (root / "dockerd.log").read_text()[-3000:])
            time.sleep(0.5)
        for image in images:
            client.images.load(local.images.get(image).save(named=True))
        yield host, certs
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
