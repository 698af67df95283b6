"""Engines reached over ``ssh://``: one ``ssh`` process per engine, owned by this process.

docker-py's own ssh:// support imports paramiko (not installed with docker-py), and either
reads only part of ``~/.ssh/config`` (paramiko: no ``Match``, ``ProxyJump``, ``Include``,
certificates; unknown host keys refused without saying how to accept them) or, with
``use_ssh_client``, starts a new ``ssh`` login for every API request and lets its messages
through to the terminal. envkit runs the ``ssh`` binary itself instead, once per engine, as a
control master (``-M``): the user's ssh config, agent, known hosts and jump hosts apply exactly
as for ``ssh HOST``, the login happens once, and the engine's socket on the remote host is
forwarded to a unix socket in a private folder here, which docker-py's ordinary unix transport
uses. Kernel ports are added to the same master as local forwards (``ssh -O forward``) and
cancelled when the kernel ends (``Tunnel.forward`` / ``Tunnel.cancel``).

The master runs a remote command that prints the engine's address there (the remote ``docker``
CLI's current endpoint, so ``DOCKER_HOST`` or a context on that host is honoured) and then
waits for its stdin to close: if this process dies, the pipe closes and the master ends with
it, so no tunnel outlives its owner. ``BatchMode``: envkit never prompts for a password or a
host key; each failure is one line saying what to do.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import EngineUnavailable

START_TIMEOUT = 30.0
NO_DOCKER = 127  # the remote script's exit status when the host has no docker command
# The remote side: the engine's address as the host's docker CLI sees it, then wait for EOF.
# Run by sh, whatever the remote user's login shell is.
_REMOTE_SCRIPT = (
    'command -v docker >/dev/null 2>&1 || { echo "envkit: no docker command on this host" >&2; exit 127; }; '
    'docker context inspect --format "{{.Endpoints.docker.Host}}" 2>/dev/null '
    '|| echo "${DOCKER_HOST:-unix:///var/run/docker.sock}"; exec cat >/dev/null'
)


@dataclass(frozen=True)
class Target:
    """Where ``ssh`` logs in: ``ssh://[user@]host[:port]``."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname:
            raise EngineUnavailable(f"{url} is not an ssh:// address", "write it as ssh://[USER@]HOST[:PORT]")
        try:
            port = parts.port
        except ValueError:
            raise EngineUnavailable(f"{url}: the port is not a number",
                                    "write it as ssh://[USER@]HOST[:PORT]") from None
        return cls(host=parts.hostname, user=parts.username, port=port)

    def args(self) -> list[str]:
        """``ssh`` options naming the user and port, then ``--`` and the host."""
        return [*(["-l", self.user] if self.user else []), *(["-p", str(self.port)] if self.port else []),
                "--", self.host]

    def command(self) -> str:
        """The ``ssh`` command a user runs to try the login by hand."""
        return " ".join(["ssh", *(["-p", str(self.port)] if self.port else []),
                         f"{self.user}@{self.host}" if self.user else self.host])


def _options(control: Path) -> list[str]:
    return ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15",
            "-o", "ExitOnForwardFailure=yes", "-o", f"ControlPath={control}"]


def remote_socket(endpoint: str) -> str:
    """What to forward to for the remote engine's address: a socket path, or ``host:port``."""
    if endpoint.startswith("unix://"):
        return endpoint[len("unix://"):]
    if endpoint.startswith("tcp://"):
        parts = urlsplit(endpoint)
        return f"{parts.hostname}:{parts.port or 2375}"
    if endpoint.startswith("/"):
        return endpoint
    raise ValueError(endpoint)


def login_failure(url: str, target: Target, status: int | None, stderr: str) -> EngineUnavailable:
    """One line for a failed login or remote command, from ssh's exit status and messages."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("Warning:")]
    text = "\n".join(lines)
    user = target.user or "your user"
    if status == NO_DOCKER or "no docker command" in text:
        why, hint = (f"{target.host} has no docker command",
                     f"install Docker on {target.host} (the engine and its CLI) and let {user} use it "
                     "(the docker group)")
    elif "IDENTIFICATION HAS CHANGED" in text:
        why, hint = (f"the host key of {target.host} has changed since it was last accepted",
                     "find out why; if the new key is right, remove the old one (ssh-keygen -R HOST) "
                     f"and accept the new one with '{target.command()}'")
    elif "Host key verification failed" in text or "host key is known" in text:
        why, hint = (f"the host key of {target.host} is not known here",
                     f"check and accept it once with '{target.command()}' (envkit never accepts host keys itself)")
    elif "Permission denied" in text or "Too many authentication failures" in text:
        why, hint = (f"{target.host} refused the SSH login of {user}",
                     f"load your key into ssh-agent (ssh-add) or name it in ~/.ssh/config, and put it in "
                     f"{user}'s ~/.ssh/authorized_keys on {target.host}; envkit never asks for passwords "
                     f"(try '{target.command()}')")
    elif any(s in text for s in ("Connection refused", "Could not resolve", "timed out", "No route to host",
                                 "Network is unreachable", "Connection closed")):
        why, hint = (f"nothing answers SSH there ({lines[-1]})",
                     "check the host and port in DOCKER_HOST or the docker context, and that sshd runs there")
    else:
        why = lines[-1][:200] if lines else f"ssh ended with status {status}"
        hint = f"try '{target.command()} docker version' to see what fails"
    return EngineUnavailable(f"no container engine answered at {url}: {why}", hint)


class Tunnel:
    """The control master for one ssh:// engine: its docker socket here, and kernel forwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = Target.parse(url)
        self.folder = Path(tempfile.mkdtemp(prefix="envkit-ssh-"))  # 0700: the socket is the engine
        self.control = self.folder / "control"
        self.socket = self.folder / "docker.sock"
        self.remote_endpoint = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def open(self) -> Tunnel:
        """Log in, learn the engine's address there and forward it to ``self.socket``."""
        if shutil.which("ssh") is None:
            self.close()
            raise EngineUnavailable(f"no container engine answered at {self.url}: ssh:// engines need the ssh "
                                    "client, which is not installed here",
                                    "install OpenSSH's client (Debian/Ubuntu: apt-get install openssh-client)")
        errors = open(self.folder / "ssh.log", "w+b")
        try:
            self._proc = subprocess.Popen(
                ["ssh", "-M", "-T", "-o", "ControlPersist=no", *_options(self.control), *self.target.args(),
                 f"sh -c '{_REMOTE_SCRIPT}'"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, start_new_session=True)
            endpoint = self._first_line()
            if endpoint is None:
                status = self._finish()
                errors.seek(0)
                raise login_failure(self.url, self.target, status, errors.read().decode(errors="replace"))
            self.remote_endpoint = endpoint
            try:
                there = remote_socket(endpoint)
            except ValueError:
                raise EngineUnavailable(f"no container engine answered at {self.url}: the docker CLI on "
                                        f"{self.target.host} names {endpoint}, which envkit cannot forward",
                                        "use a unix:// or tcp:// engine address on that host") from None
            self._mux("forward", "-L", f"{self.socket}:{there}")
        except BaseException:
            self.close()
            raise
        finally:
            errors.close()
        return self

    def _first_line(self) -> str | None:
        """The remote script's first line (the engine's address), or None if ssh ended first."""
        assert self._proc is not None and self._proc.stdout is not None
        deadline, out = time.monotonic() + START_TIMEOUT, b""
        fd = self._proc.stdout.fileno()
        while b"\n" not in out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            out += chunk
        return out.split(b"\n", 1)[0].decode(errors="replace").strip() or None

    def _finish(self) -> int | None:
        assert self._proc is not None
        try:
            return self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            return None

    def _mux(self, command: str, *forwards: str) -> None:
        """``ssh -O forward|cancel -L …`` on the master; raises ``EngineUnavailable`` on failure."""
        done = subprocess.run(["ssh", "-O", command, *_options(self.control), *forwards, *self.target.args()],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=START_TIMEOUT)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"status {done.returncode}"])[-1]
            raise EngineUnavailable(f"the SSH tunnel to {self.url} refused to {command} {' '.join(forwards[1::2])}: "
                                    f"{why}", "a local port may be taken; start the kernel again")

    def forward(self, ports: dict[int, int]) -> None:
        """Listen on 127.0.0.1:LOCAL here for each ``{LOCAL: REMOTE}``, to 127.0.0.1:REMOTE on the engine's host."""
        self._mux("forward", *self._local_forwards(ports))

    def cancel(self, ports: dict[int, int]) -> None:
        """Stop listening on the ports ``forward`` opened (no error when the master is gone)."""
        if self.alive():
            try:
                self._mux("cancel", *self._local_forwards(ports))
            except (EngineUnavailable, subprocess.TimeoutExpired):
                pass

    @staticmethod
    def _local_forwards(ports: dict[int, int]) -> list[str]:
        return [arg for local, remote in ports.items() for arg in ("-L", f"127.0.0.1:{local}:127.0.0.1:{remote}")]

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The master's process id (the process that listens on forwarded ports)."""
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        """End the master and remove the folder.

        Terminated rather than left to end with its remote command: it would wait for the
        engine connections docker-py keeps open.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ["Target", "Tunnel", "login_failure", "remote_socket"]
