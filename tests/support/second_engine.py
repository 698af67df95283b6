"""A second dockerd of a test's own: the one start-up behind every extra engine the tests run.

The shared engine is never touched. Each one has its own data root, exec root and pid file
under ``/var/tmp/envkit-<name>-<run>``, its own bridge interface and subnet (never
``--bridge=none``: dockerd then deletes the host's ``docker0`` at start-up, see docs/beyond.md)
and ``--iptables=false`` (so builds in it reach no network: tests build offline or copy images
in with ``load``). What differs is a parameter:

- ``own_mounts``: started in a mount namespace of its own with a tmpfs over ``/tmp``
  (``unshare -m``), so it cannot see the client's ``/tmp`` where pytest keeps test folders;
- ``tls``: listens on ``tcp://127.0.0.1:<free port>`` with ``--tlsverify`` and a CA, server and
  client certificate made here with openssl (``certs``: ``DOCKER_CERT_PATH``), else on a unix
  socket of its own;
- ``swarm``: ``swarm init`` on it, with ``docker_gwbridge`` created first on a bridge interface
  and subnet of its own.

``kill()`` SIGKILLs the daemon and its containerd (the containers' shims live on, as after a
real crash); ``start()`` brings it back on the same data; ``close()`` stops everything it
started, by process id, and removes its data and bridges. Tests get one through the
``second_engine`` fixture (tests/conftest.py); benchmarks use ``SecondEngine`` directly.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from . import TEST_RUN, system

ROOTS = Path("/var/tmp")  # not /tmp: an engine in its own mount namespace has a tmpfs there


class Unavailable(Exception):
    """This machine cannot run the second engine (a tool or root is missing)."""


def unavailable(*, own_mounts: bool = False, tls: bool = False) -> str:
    """Why such an engine cannot run here ('' when it can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a second dockerd needs root"
    tools = ["dockerd", "ip", "docker"] + (["unshare"] if own_mounts else []) + (["openssl"] if tls else [])
    for tool in tools:
        if not shutil.which(tool):
            return f"a second dockerd needs {tool}"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_subnets(count: int = 1) -> list[ipaddress.IPv4Network]:
    """``count`` /24 subnets of 10.232.0.0/16 that no route or address of this host overlaps."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    addrs = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    used = [ipaddress.ip_network(line.split()[0], strict=False) for line in routes.splitlines()
            if line and line.split()[0][0].isdigit()]
    used += [ipaddress.ip_interface(w).network for w in addrs.split() if "/" in w and w[0].isdigit()]
    found: list[ipaddress.IPv4Network] = []
    for n in range(1, 255):
        candidate = ipaddress.ip_network(f"10.232.{n}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            found.append(candidate)
            if len(found) == count:
                return found
    raise Unavailable("no free /24 in 10.232.0.0/16 for a second engine's bridge")


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


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


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (its containerd, for a dockerd), by their parent pid.

    Not ``/proc/PID/task/PID/children``: that lists the main thread's children only, and Go
    starts processes from any thread.
    """
    found = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            stat = (proc_dir / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, ...
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(proc_dir.name))
    return found


class SecondEngine:
    """One second dockerd: ``url`` (and ``env()``) to point DOCKER_HOST at, ``kill``/``start``/``close``.

    Made stopped (its folder and bridge exist); ``start()`` runs it.
    """

    def __init__(self, name: str, *, own_mounts: bool = False, tls: bool = False, swarm: bool = False) -> None:
        reason = unavailable(own_mounts=own_mounts, tls=tls)
        if reason:
            raise Unavailable(reason)
        self.name, self.own_mounts, self.tls, self.swarm = name, own_mounts, tls, swarm
        self.root = ROOTS / f"envkit-{name}-{TEST_RUN}"
        self.root.mkdir(parents=True)
        self.sock = self.root / "docker.sock"
        self.url = f"tcp://127.0.0.1:{free_port()}" if tls else f"unix://{self.sock}"
        # Interface names: at most 15 characters. "ekr<run>" for "remote" is what
        # tests/support/ssh_engine.py's outbound() names.
        self.bridge = f"ek{name[0]}{TEST_RUN[:8]}"
        self.gwbridge = f"eg{name[0]}{TEST_RUN[:8]}"
        self.certs: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.started: list[int] = []  # every daemon and containerd pid this engine ever had
        self._client: Any = None
        self._bridges: list[str] = []
        try:
            subnet, self._gw_subnet = free_subnets(2)
            self.gateway = str(subnet[1])  # the host on the engine's bridge: containers reach it here
            if tls:
                self.certs = make_certificates(self.root / "certs")
            ip("link", "add", self.bridge, "type", "bridge")
            self._bridges.append(self.bridge)
            ip("addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def env(self) -> dict[str, str]:
        """DOCKER_HOST, and for TLS DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, naming this engine."""
        if self.certs is None:
            return {"DOCKER_HOST": self.url}
        return {"DOCKER_HOST": self.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(self.certs)}

    def _tls_flags(self) -> list[str]:
        if self.certs is None:
            return []
        return ["--tlsverify", f"--tlscacert={self.certs / 'ca.pem'}", f"--tlscert={self.certs / 'cert.pem'}",
                f"--tlskey={self.certs / 'key.pem'}"]

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run the docker CLI against this engine."""
        return subprocess.run(["docker", "-H", self.url, *self._tls_flags(), *args], input=input,
                              capture_output=True, timeout=timeout)

    def client(self) -> Any:
        """A docker-py client of this engine (made once it answers; closed by ``close``)."""
        if self._client is None:
            self._client = self._connect(timeout=300)
        return self._client

    def _connect(self, timeout: float) -> Any:
        import docker

        if self.certs is None:
            return docker.DockerClient(base_url=self.url, timeout=timeout)
        tls = docker.tls.TLSConfig(client_cert=(str(self.certs / "cert.pem"), str(self.certs / "key.pem")),
                                   ca_cert=str(self.certs / "ca.pem"), verify=True)
        found = docker.DockerClient(base_url=self.url, tls=tls, timeout=timeout, version="1.41")
        found.api.trust_env = False  # else REQUESTS_CA_BUNDLE replaces the test's CA
        return found

    def start(self, timeout: float = 120) -> None:
        """Start (or restart) the daemon on the same data; returns once it answers."""
        dockerd = ["dockerd", "-H", self.url, *self._server_tls(), "--data-root", str(self.root / "data"),
                   "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "docker.pid"),
                   f"--bridge={self.bridge}", "--iptables=false", "--ip-masq=false"]
        if self.own_mounts:
            # unshare and sh exec into dockerd, so proc.pid stays the daemon's pid (kill, close).
            script = "mount --make-rprivate / && mount -t tmpfs tmpfs /tmp && exec " + " ".join(dockerd)
            dockerd = ["unshare", "-m", "sh", "-c", script]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(dockerd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.started.append(self.proc.pid)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the second dockerd ({self.name}) did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        self.started += _children(self.proc.pid)
        if self.swarm and not self.client().info().get("Swarm", {}).get("NodeID"):
            self._init_swarm()

    def _server_tls(self) -> list[str]:
        if self.certs is None:
            return []
        return ["--tlsverify", f"--tlscacert={self.certs / 'ca.pem'}", f"--tlscert={self.certs / 'server-cert.pem'}",
                f"--tlskey={self.certs / 'server-key.pem'}"]

    def _init_swarm(self) -> None:
        from docker.types import IPAMConfig, IPAMPool

        client = self.client()
        client.networks.create("docker_gwbridge", driver="bridge",
                               options={"com.docker.network.bridge.name": self.gwbridge,
                                        "com.docker.network.bridge.enable_icc": "false"},
                               ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(self._gw_subnet))]))
        self._bridges.append(self.gwbridge)
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}")

    def answers(self) -> bool:
        """True when the daemon answers a ping within 10 s."""
        try:
            probe = self._connect(timeout=10)
        except Exception:  # noqa: BLE001 - not up yet (docker-py asks the version as it connects)
            return False
        try:
            return bool(probe.ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False
        finally:
            probe.close()

    def kill(self) -> None:
        """SIGKILL the daemon and the containerd it started, as a crash would; the containers' shims live on.

        The containerd is killed too: a daemon restarted next to its predecessor's containerd
        sometimes times out starting its own ("timeout waiting for containerd to start").
        """
        assert self.proc is not None
        children = _children(self.proc.pid)
        self.started += children
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self._client is not None:
            self._client.close()
            self._client = None
        for pid in children:
            try:
                if str(self.root) in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        for pid in children:  # wait until it is gone (it is not our child: no wait())
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)

    def load(self, image: str, local: Any = None) -> None:
        """Copy ``image`` from the shared engine (or ``local``, a docker-py client) into this one."""
        import docker

        source = local if local is not None else docker.from_env()
        found = source.images.get(image)
        named = image if image in found.tags else True  # by a tag: that tag; by id: its first tag
        self.client().images.load(found.save(named=named))

    def containers(self) -> list[str]:
        """Every container on this engine (running or not): 'id name status' lines."""
        out = self.docker("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}", timeout=30)
        return [line for line in out.stdout.decode().splitlines() if line.strip()]

    def volumes(self) -> list[str]:
        """Every volume's name on this engine."""
        out = self.docker("volume", "ls", "-q", timeout=30)
        return [line for line in out.stdout.decode().splitlines() if line.strip()]

    def close(self) -> None:
        """Stop the daemon and every process it started, unmount and remove its data and bridges."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                client = self.client()
                if self.swarm:
                    for service in client.services.list():
                        service.remove()
                    client.swarm.leave(force=True)
                for c in client.containers.list(all=True):
                    c.remove(force=True)
            except Exception:  # noqa: BLE001 - the engine goes away with everything in it
                pass
            self.started += _children(self.proc.pid)
            system.stop(self.proc, timeout=60)
        if self._client is not None:
            self._client.close()
            self._client = None
        for pid in self.started:  # a containerd left by a killed daemon (ours: we started it)
            try:
                if str(self.root) in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        # Container shims of a killed daemon's containerd, found through their bundles under our exec root.
        for proc_dir in Path("/proc").iterdir():
            if proc_dir.name.isdigit():
                try:
                    cmdline = (proc_dir / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if "containerd-shim" in cmdline and str(self.root) in cmdline:
                    try:
                        os.kill(int(proc_dir.name), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for line in reversed(Path("/proc/mounts").read_text().splitlines()):
            mountpoint = line.split()[1]
            if mountpoint.startswith(str(self.root)):
                subprocess.run(["umount", "-l", mountpoint], capture_output=True)
        for bridge in reversed(self._bridges):
            ip("link", "del", bridge, check=False)
        self._bridges.clear()
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["SecondEngine", "Unavailable", "free_port", "free_subnets", "make_certificates", "unavailable"]
