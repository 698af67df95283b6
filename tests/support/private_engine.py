"""A second dockerd of a test's own, which the test may kill and restart; the shared engine is never touched.

Its own socket, data root, exec root and pid file under ``/tmp``; its own bridge interface and
subnet (never ``--bridge=none``: dockerd then deletes the host's ``docker0`` at start-up, see
docs/beyond.md), ``--iptables=false`` (so builds in it reach no network: tests build offline).
``kill()`` SIGKILLs the daemon and its containerd (the containers' shims live on, as after a
real crash); ``start()`` brings it back on the same data; ``close()`` stops everything it
started, by process id, and removes its data and bridge.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import TEST_RUN


def available() -> str:
    """Why no private engine can run here ('' when one can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a private dockerd needs root"
    for tool in ("dockerd", "ip", "docker"):
        if not shutil.which(tool):
            return f"a private dockerd needs {tool}"
    return ""


def _free_subnet() -> ipaddress.IPv4Network:
    out = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    used = [ipaddress.ip_network(line.split()[0], strict=False) for line in out.splitlines()
            if line and line.split()[0][0].isdigit()]
    for n in range(1, 255):
        candidate = ipaddress.ip_network(f"10.232.{n}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise RuntimeError("no free /24 in 10.232.0.0/16 for a private engine's bridge")


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


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


class PrivateEngine:
    """One private dockerd: ``url`` to point DOCKER_HOST at, ``kill``/``start``/``close``."""

    def __init__(self, name: str = "faults") -> None:
        self.root = Path(f"/tmp/envkit-{name}-{TEST_RUN}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.sock = self.root / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.bridge = f"ekf{TEST_RUN[:8]}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started: list[int] = []  # every daemon and containerd pid this engine ever had
        subnet = _free_subnet()
        self.gateway = str(subnet[1])  # the host on the engine's bridge: containers reach it here
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run the docker CLI against this engine."""
        return subprocess.run(["docker", "-H", self.url, *args], input=input, capture_output=True, timeout=timeout)

    def start(self, timeout: float = 120) -> None:
        """Start (or restart) the daemon on the same data; returns once it answers."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "-H", self.url, "--data-root", str(self.root / "data"),
                 "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "docker.pid"),
                 f"--bridge={self.bridge}", "--iptables=false", "--ip-masq=false"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append(self.proc.pid)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the private dockerd did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        self.started += _children(self.proc.pid)

    def answers(self) -> bool:
        """True when the daemon answers a version query within 10 s."""
        try:
            return self.docker("version", "--format", "{{.Server.Version}}", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

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

    def load(self, image: str) -> None:
        """Copy ``image`` from the shared engine into this one (``docker save | docker load``)."""
        saved = subprocess.run(["docker", "save", image], capture_output=True, check=True, timeout=600).stdout
        loaded = self.docker("load", input=saved, timeout=600)
        if loaded.returncode != 0:
            raise RuntimeError(f"loading {image} into the private engine: {loaded.stderr.decode()[-2000:]}")

    def containers(self) -> list[str]:
        """Every container on this engine (running or not): 'id name status' lines."""
        out = self.docker("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}", timeout=30)
        return [line for line in out.stdout.decode().splitlines() if line.strip()]

    def close(self) -> None:
        """Stop the daemon and every process it started, unmount and remove its data and bridge."""
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.docker("ps", "-aq", timeout=30).stdout.decode().split():
                self.docker("rm", "-f", cid, timeout=60)
            self.started += _children(self.proc.pid)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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
        _ip("link", "del", self.bridge, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["PrivateEngine", "available"]
