"""An ssh:// engine on this machine: Debian's sshd on 127.0.0.1 in front of a second dockerd.

The dockerd is tests/support/remote_engine.py's (its own mount namespace with a tmpfs over
/tmp, own data root, exec root, pid file and bridge, ``--iptables=false``), listening only on a
unix socket under /var/tmp. In front of it, ``/usr/sbin/sshd`` started here on 127.0.0.1 and a
free port with a configuration, host key and authorized key of its own, all made in a folder
under /var/tmp; ``SetEnv DOCKER_HOST=unix://…`` there tells the remote ``docker`` CLI where
that engine is (as a user's shell profile would on a real host). The machine's /etc/ssh and
any sshd already running are never touched.

The client side is an ``ssh`` on PATH that runs the real one with ``-F`` and a client
configuration of the test's own (key, known hosts): what a user's ~/.ssh/config does, without
touching it. Both envkit's ssh master and a CLI child started with that PATH use it.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import TEST_RUN, system
from .remote_engine import Unavailable, _free_port, remote_engine

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # compiled into Debian's sshd; created (and removed) here if missing


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"envkit-test-{TEST_RUN}", "-f", str(path)],
                   check=True, capture_output=True)
    return (path.parent / f"{path.name}.pub").read_text().strip()


@dataclass(frozen=True)
class SshServer:
    """A running sshd of the test's: where it listens and the keys it accepts and shows."""

    folder: Path
    port: int
    user: str
    key: Path  # the client key in its authorized_keys
    host_key: str  # its public host key, "ssh-ed25519 AAAA…"

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def client(self, name: str, *, known: bool = True, key: Path | None = None) -> Path:
        """A folder holding an ``ssh`` that uses a client configuration of its own; prepend it to PATH.

        ``known=False`` leaves the server's host key unknown; ``key`` logs in with another key.
        """
        folder = self.folder / "clients" / name
        (folder / "bin").mkdir(parents=True)
        known_hosts = folder / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.host_key}\n" if known else "")
        config = folder / "ssh_config"
        config.write_text(
            "Host *\n"
            f"  IdentityFile {key or self.key}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
            f"  UserKnownHostsFile {known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n  LogLevel ERROR\n")
        wrapper = folder / "bin" / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {config} "$@"\n')
        wrapper.chmod(0o755)
        return folder / "bin"


@contextmanager
def sshd(env: dict[str, str], *, user: str = "root") -> Iterator[SshServer]:
    """Debian's sshd on 127.0.0.1:<free port>, setting ``env`` for every session; stopped on exit."""
    try:
        system.apt_install("openssh-server", binaries=(str(SSHD),))
    except system.Missing as exc:
        raise Unavailable(str(exc)) from exc
    if os.geteuid() != 0:
        raise Unavailable("sshd for the ssh:// engine needs root (it logs sessions in as a user)")
    folder = Path(tempfile.mkdtemp(prefix=f"envkit-sshd-{TEST_RUN}-", dir="/var/tmp"))
    made_privsep = not PRIVSEP_DIR.exists()
    proc = None
    try:
        if made_privsep:
            PRIVSEP_DIR.mkdir(mode=0o755)
        host_key = _keygen(folder / "host_key").rsplit(" ", 1)[0]
        (folder / "authorized_keys").write_text(_keygen(folder / "id_client") + "\n")
        port = _free_port()
        setenv = " ".join(f"{k}={v}" for k, v in env.items())
        config = folder / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\nPidFile {folder / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\nAuthenticationMethods publickey\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "UsePAM no\nStrictModes no\nAllowTcpForwarding local\nAllowStreamLocalForwarding local\n"
            f"X11Forwarding no\nPrintMotd no\nMaxStartups 100\nMaxSessions 100\n"
            + (f"SetEnv {setenv}\n" if setenv else ""))
        log = open(folder / "sshd.log", "wb")
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sshd did not start:\n" + (folder / "sshd.log").read_text()[-3000:]) from None
                time.sleep(0.1)
        yield SshServer(folder=folder, port=port, user=user, key=folder / "id_client", host_key=host_key)
    finally:
        if proc is not None:
            system.stop(proc, timeout=10)
        if made_privsep:
            shutil.rmtree(PRIVSEP_DIR, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def ssh_engine(local, images: tuple[str, ...]) -> Iterator[SshServer]:
    """sshd in front of a second dockerd reachable only through its unix socket, ``images`` copied in."""
    with remote_engine(local, images, unix_socket=True) as (host, _), sshd({"DOCKER_HOST": host}) as server:
        yield server


@contextmanager
def outbound(bridge: str = f"ekr{TEST_RUN[:8]}") -> Iterator[None]:
    """Let the second engine's containers reach the network the shared engine's builds reach.

    That dockerd runs with ``--iptables=false`` (it must not rewrite the shared engine's rules),
    so its bridge has no NAT and a build there cannot reach the package index. For the build
    test only: three rules naming the test's own bridge and subnet (forward out, replies in,
    masquerade), inserted here and deleted on exit; nothing else in the firewall changes.
    """
    if not shutil.which("iptables"):
        raise Unavailable("a build on the second engine needs iptables (for its bridge's NAT)")
    addr = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
    subnet = str(ipaddress.ip_interface(addr.split()[3]).network)
    rules = [("filter", "FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"),
             ("filter", "FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
             ("nat", "POSTROUTING", "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE")]
    added = []
    try:
        for table, chain, *spec in rules:
            subprocess.run(["iptables", "-w", "-t", table, "-I", chain, "1", *spec], check=True, capture_output=True)
            added.append((table, chain, *spec))
        yield
    finally:
        for table, chain, *spec in added:
            subprocess.run(["iptables", "-w", "-t", table, "-D", chain, *spec], capture_output=True)


def sshd_sessions(server: SshServer) -> list[int]:
    """Pids of the session processes of ``server`` still running (its children), for leak checks."""
    pid = int((server.folder / "sshd.pid").read_text()) if (server.folder / "sshd.pid").exists() else 0
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
