"""One kernel in one container: launch, signal, poll, remove, and the sweep of stale ones.

Shared by the ``jupyter_client`` provisioner and the plain-argv launcher. The host has already
chosen ports and key and written the connection file; the container gets a private copy of
it in a writable folder of its own, the notebook's project (``envkit.project``) at the same path
with the notebook's folder as its working directory, a non-root uid:gid
and default limits (``envkit.privileges``), an init process, no capabilities, and a watchdog
on its stdin (see ``watchdog``). An engine that does not see the client's files (a remote one)
gets both as copies instead of bind mounts, and the folder's new files come back when the
kernel ends (``transfer``).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..engine import containers, engine_hostname, engine_url, shares_files, ssh_tunnel
from ..engine.system import is_podman
from ..errors import EngineError, EngineNotFound, EnvkitError, KernelError
from ..labels import LABEL_KERNEL_ID, LABEL_KIND, LABEL_NOTEBOOK, LABEL_OWNER, base_labels
from ..ownership import owner, owner_state
from ..privileges import RunAs, folder_access, folder_hint, limits, run_as
from ..project import project_root
from . import transfer, watchdog
from .options import KernelOptions

CONTAINER_CONNECTION_FILE = "/run/envkit/kernel.json"
PORT_KEYS = ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port")
# Never forwarded: ipykernel polls JPY_PARENT_PID, a pid that means nothing in the container's
# pid namespace, and would exit or misbehave.
NEVER_FORWARD = frozenset({"JPY_PARENT_PID"})
FORWARDED = ("JPY_SESSION_NAME",)
OUTPUT_LINES = 40
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
log = logging.getLogger("envkit.kernels")


def sweep() -> list[str]:
    """Remove kernel containers whose owner process on this host is gone; returns their ids."""
    removed = []
    for c in containers.find({LABEL_KIND: "kernel", LABEL_OWNER: None}):
        if owner_state(c.labels.get(LABEL_OWNER, "")) == "gone":
            containers.remove(c.id)
            removed.append(c.id)
    return removed


_swept = False


def sweep_once() -> None:
    """The start-up sweep: once per process, before the first kernel starts."""
    global _swept
    if not _swept:
        _swept = True
        sweep()


def host_networking(options: KernelOptions) -> bool:
    """Host networking: asked for, or ``auto`` on Linux with an engine on this machine."""
    if options.network != "auto":
        return options.network == "host"
    url = engine_url()
    return sys.platform.startswith("linux") and (url.startswith("unix://") or url.startswith("npipe://"))


def container_env(spec_env: dict[str, str], launch_env: dict[str, str] | None, home: str) -> dict[str, str]:
    """The kernel's environment: the kernelspec's, the session name, HOME and USER; nothing else."""
    env = {k: v for k, v in spec_env.items() if k not in NEVER_FORWARD}
    for key in FORWARDED:
        if launch_env and launch_env.get(key):
            env.setdefault(key, launch_env[key])
    env["HOME"] = home
    try:
        env["USER"] = getpass.getuser()
    except (KeyError, OSError):
        env["USER"] = "envkit"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


_exits: dict[str, str] = {}


def exit_report(kernel_id: str) -> str | None:
    """Why kernel ``kernel_id`` ended on its own (exit code, last output), if it did in this process."""
    return _exits.get(kernel_id)


@dataclass(kw_only=True)
class ContainerKernel:
    """A running kernel container and the stdin socket that keeps it alive."""

    id: str
    kernel_id: str
    stdin: Any = None
    private_dir: Path | None = None
    snapshot: transfer.Snapshot | None = None  # a remote engine's copy of the folder, to bring back
    tunnel: Any = None  # an ssh:// engine's ssh master (envkit.engine.ssh.Tunnel), which forwards the ports
    ports: tuple[int, ...] = ()  # the kernel's ports (the connection file's): the tunnel listens on these here
    forwarded: dict[int, int] = field(default_factory=dict)  # local port -> port published on the engine's host
    exit_code: int | None = None
    killed: bool = field(default=False)
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES))

    def follow_output(self) -> None:
        """Keep the last lines the kernel wrote to its stdout/stderr (a local kernel's terminal)."""

        def pump() -> None:
            partial = b""
            for _, chunk in containers.frames(self.stdin):
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for line in lines:
                    text = line.decode(errors="replace")
                    self.output.append(text)
                    if settings.debug():
                        print(f"[kernel {self.kernel_id[:8]}] {text}", file=sys.stderr)
            if partial:
                self.output.append(partial.decode(errors="replace"))

        threading.Thread(target=pump, name=f"envkit-kernel-output-{self.id[:12]}", daemon=True).start()

    def describe_exit(self) -> str:
        """Why the kernel ended, for an error message: its exit code and last output lines."""
        code = self.poll()
        lines = "\n".join(f"    {line}" for line in self.output if line.strip())
        status = "is still running" if code is None else f"exited with status {code}"
        return f"the kernel's container {self.id[:12]} {status}" + (f"; its last output:\n{lines}" if lines else "")

    def poll(self) -> int | None:
        """None while the kernel runs; its exit code (or -9 once removed) when it ended."""
        if self.exit_code is not None:
            return self.exit_code
        state = containers.inspect(self.id)
        if state is None:
            self.exit_code = -signal.SIGKILL if self.killed else 1
        elif not state.running:
            self.exit_code = state.exit_code if state.exit_code is not None else 1
        return self.exit_code

    def signal(self, signum: int) -> None:
        """Deliver ``signum`` to the kernel (docker-init → watchdog → kernel's process group)."""
        if signum == signal.SIGKILL:
            self.killed = True
        containers.kill(self.id, signum)

    def copy_back(self, snapshot: transfer.Snapshot) -> None:
        """Bring the files the kernel wrote in its folder copy back to the client's folder.

        A client file changed meanwhile is kept; the kernel's version goes beside it
        (``answer.from-kernel.ipynb``) and a warning names both.
        """
        if snapshot.folder == Path("/"):
            return
        try:
            done = transfer.unpack(containers.get_archive(self.id, str(snapshot.folder)), snapshot,
                                   beside=transfer.BESIDE_KERNEL)
        except (EngineError, OSError, ValueError) as exc:  # tarfile errors are ValueErrors
            log.warning("envkit kernel %s: could not copy its files back to %s: %s",
                        self.kernel_id[:8], snapshot.folder, exc)
            return
        for text in transfer.conflict_notes(done, snapshot.folder, "the kernel"):
            log.warning("envkit kernel %s: %s", self.kernel_id[:8], text)

    def open_tunnel(self) -> None:
        """Forward the kernel's ports here to the ports the engine published on its host's loopback.

        The engine chose those when the container started; the client keeps using the connection
        file's ports, on which the ssh master now listens (127.0.0.1 only).
        """
        state = containers.inspect(self.id)
        published = state.published if state is not None else {}
        missing = [p for p in self.ports if not published.get(p, ("", 0))[1]]
        if missing:
            raise KernelError(f"the kernel's container {self.id[:12]} ended before its ports were published",
                              self.describe_exit())
        forwards = {p: published[p][1] for p in self.ports}
        try:
            self.tunnel.forward(forwards)
        except EnvkitError as exc:
            raise KernelError(exc.message, exc.hint) from exc
        self.forwarded = forwards

    def close(self) -> None:
        """Drop the stdin socket (the watchdog ends the kernel) and remove the container."""
        if self.forwarded:
            forwarded, self.forwarded = self.forwarded, {}
            self.tunnel.cancel(forwarded)
        if not self.killed and self.poll() not in (None, 0):
            _exits[self.kernel_id] = self.describe_exit()
            while len(_exits) > 20:
                _exits.pop(next(iter(_exits)))
        if self.stdin is not None:
            try:
                self.stdin.close()
            except OSError:
                pass
            self.stdin = None
        if self.snapshot is not None:
            snapshot, self.snapshot = self.snapshot, None
            self.copy_back(snapshot)
        containers.remove(self.id)
        # The engine may still be finishing an auto-remove (it answers 409 to ours); wait a
        # moment so a caller that lists containers after cleanup() sees none.
        deadline = time.monotonic() + 5
        while containers.inspect(self.id) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)  # the kernel may have rewritten its file
            self.private_dir = None


def launch(options: KernelOptions, *, connection_file: Path, cwd: Path, kernel_id: str,
           spec_env: dict[str, str] | None = None, launch_env: dict[str, str] | None = None,
           notebook: str = "") -> ContainerKernel:
    """Start ipykernel in a container of ``options.image`` for an existing connection file."""
    sweep_once()
    kernel = create(options, connection_file=connection_file, cwd=cwd, kernel_id=kernel_id,
                    spec_env=spec_env, launch_env=launch_env, notebook=notebook)
    try:
        # Attach before start, so there is no moment when the container runs unwatched.
        kernel.stdin = containers.attach(kernel.id, output=True)
        kernel.follow_output()
        containers.start(kernel.id)
        if kernel.tunnel is not None:
            kernel.open_tunnel()
    except BaseException:
        kernel.close()
        raise
    return kernel


def create(options: KernelOptions, *, connection_file: Path, cwd: Path, kernel_id: str,
           spec_env: dict[str, str] | None = None, launch_env: dict[str, str] | None = None,
           notebook: str = "") -> ContainerKernel:
    """Create (not start) the kernel's container with every setting ``launch`` uses."""
    connection_file = Path(connection_file).resolve()
    try:
        info = json.loads(connection_file.read_text())
    except (OSError, ValueError) as exc:
        raise KernelError(f"cannot read the kernel connection file {connection_file}: {exc}") from exc
    # Never root by default (envkit.privileges): the caller's uid, or for a root caller the
    # folder's owner or the image's user; and a process and memory limit unless options lift them.
    cwd = Path(cwd).resolve()
    who = run_as(options.image, cwd if cwd != Path("/") else None, explicit=options.user)
    if not shares_files():
        return _create_remote(options, info=info, cwd=cwd, who=who, kernel_id=kernel_id, spec_env=spec_env,
                              launch_env=launch_env, notebook=notebook)
    if cwd != Path("/") and not folder_access(cwd, who)[0]:
        raise KernelError(f"the kernel's user (uid {who.uid}, {who.why}) cannot enter the notebook's folder {cwd}",
                          folder_hint(cwd, who, "kernel option user=root"))
    other_uid = hasattr(os, "getuid") and who.uid != os.getuid()
    host_config: dict[str, Any] = {}
    ports: list[int] | None = None
    host_net = host_networking(options)
    if host_net:
        host_config["network_mode"] = "host"
    else:
        ports = [int(info[k]) for k in PORT_KEYS]
        host_config["port_bindings"] = {p: ("127.0.0.1", p) for p in ports}
    # Always a private copy in a folder of its own, mounted writable: ipykernel 6 writes the
    # connection file back once its sockets are bound (jupyter_core's secure_write removes and
    # recreates it), ipykernel 7 rewrites one holding CurveZMQ keys, and both fail on a read-only
    # file ("Read-only file system: '/run/envkit/kernel.json'"). Inside its own network namespace
    # the kernel must listen on all of *its* interfaces (the engine publishes each port on the
    # host's loopback only). The host's file is never mounted; a kernel running as another uid
    # (a root caller's) owns its copy and the folder.
    private_dir = Path(tempfile.mkdtemp(prefix="envkit-kernel-"))
    mounted = private_dir / CONTAINER_CONNECTION_FILE.rsplit("/", 1)[1]
    fd = os.open(mounted, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info if host_net else dict(info, ip="0.0.0.0"), f)
    if other_uid:
        os.chown(private_dir, who.uid, who.gid)
        os.chown(mounted, who.uid, who.gid)
    binds = {str(private_dir): {"bind": CONTAINER_CONNECTION_FILE.rsplit("/", 1)[0], "mode": "rw"}}
    if cwd != Path("/"):
        # The notebook's project at the same path (its git top, or as far up as its code's
        # '../data' and sys.path entries reach), the notebook's folder the working directory.
        root = project_root(cwd, _notebook_file(notebook, cwd))
        binds[str(root)] = {"bind": str(root), "mode": "rw"}
    host_config.update(
        binds=binds, init=True, auto_remove=True, cap_drop=["ALL"], cap_add=list(options.cap_add) or None,
        security_opt=["no-new-privileges"], **options.host_config(),
    )
    host_config.update(_common_host_config(options, who))
    labels = _labels(kernel_id, notebook)
    try:
        container_id = _create(options, connection_file=mounted, cwd=cwd, labels=labels, ports=ports, user=who.user,
                               host_config=host_config, kernel_id=kernel_id, spec_env=spec_env,
                               launch_env=launch_env)
    except EngineError as exc:
        shutil.rmtree(private_dir, ignore_errors=True)
        _raise_create_error(options, exc)
        raise
    return ContainerKernel(id=container_id, kernel_id=kernel_id, private_dir=private_dir)


def _notebook_file(session: str, cwd: Path) -> Path | None:
    """The kernel's notebook, from its session name (a path, relative to ``cwd`` or absolute), if it is a file."""
    if not session.endswith(".ipynb"):
        return None
    candidate = Path(session) if Path(session).is_absolute() else cwd / Path(session).name
    return candidate if candidate.is_file() else None


def _common_host_config(options: KernelOptions, who: RunAs) -> dict[str, Any]:
    """Limits and HOME, the same for a local and a remote engine."""
    host_config = limits(options.mem_limit, options.pids_limit)
    # The kernel's uid need not own the image's home folder (a uid other than the one the image
    # was built for); without capabilities it could not write there, and matplotlib, IPython
    # and pip all want a writable HOME.
    # Podman refuses Docker's uid=/gid= tmpfs options; its own "U" chowns to the container's user.
    owned_by = "U" if is_podman() else f"uid={who.uid},gid={who.gid}"
    host_config.setdefault("tmpfs", {})[options.home] = f"{owned_by},mode=0700,exec"
    return host_config


def _labels(kernel_id: str, notebook: str) -> dict[str, str]:
    labels = {**base_labels("kernel"), LABEL_KERNEL_ID: kernel_id, LABEL_OWNER: owner()}
    if notebook:
        labels[LABEL_NOTEBOOK] = notebook
    return labels


def _raise_create_error(options: KernelOptions, exc: EngineError) -> None:
    if isinstance(exc, EngineNotFound):  # creating a container: only its image can be missing
        raise KernelError(f"the kernel's image {options.image} is not on this engine",
                          "build it ('envkit build NOTEBOOK') or pull it, then start the kernel again, "
                          "or reinstall the kernelspec ('envkit kernel install NOTEBOOK')") from exc


def _create_remote(options: KernelOptions, *, info: dict[str, Any], cwd: Path, who: RunAs, kernel_id: str,
                   spec_env: dict[str, str] | None, launch_env: dict[str, str] | None,
                   notebook: str) -> ContainerKernel:
    """The kernel's container on an engine that cannot see client paths: copies, not bind mounts.

    The connection file and the folder are unpacked into the created container before it starts;
    the ports are published on the engine host's loopback, which is this machine's only when the
    engine runs here (tcp://127.0.0.1). For an ssh:// engine the engine picks free ports on its
    host's loopback and ``launch`` forwards the connection file's ports here to them through
    the engine's ssh master (``ContainerKernel.open_tunnel``); nothing is published on 0.0.0.0.
    """
    tunnel = ssh_tunnel()
    host = engine_hostname()
    if tunnel is None and host not in LOOPBACK:
        raise KernelError(f"kernels on the engine at {engine_url()} are not supported yet: their ports are "
                          "published on that machine's loopback, which this one cannot reach",
                          "reach it as DOCKER_HOST=ssh://USER@HOST (envkit then tunnels the kernel's ports), "
                          "or use 'envkit build' and 'envkit push' only")
    if options.network == "host":
        raise KernelError("kernel option network=host needs an engine on this machine",
                          "use network=auto or bridge with a remote engine")
    ports = [int(info[k]) for k in PORT_KEYS]
    connection = json.dumps(dict(info, ip="0.0.0.0")).encode()
    data, snapshot = transfer.pack(cwd if cwd != Path("/") else None, CONTAINER_CONNECTION_FILE, connection,
                                   uid=who.uid, gid=who.gid)
    # No auto_remove: the folder is copied out of the stopped container before close() removes it.
    host_config: dict[str, Any] = {
        # Through a tunnel, the remote host's ports are not ours to choose: the engine takes free ones.
        "port_bindings": {p: ("127.0.0.1",) if tunnel is not None else ("127.0.0.1", p) for p in ports},
        "init": True, "cap_drop": ["ALL"],
        "cap_add": list(options.cap_add) or None, "security_opt": ["no-new-privileges"], **options.host_config(),
    }
    host_config.update(_common_host_config(options, who))
    try:
        container_id = _create(options, connection_file=Path(CONTAINER_CONNECTION_FILE), cwd=cwd,
                               labels=_labels(kernel_id, notebook), ports=ports, user=who.user,
                               host_config=host_config, kernel_id=kernel_id, spec_env=spec_env,
                               launch_env=launch_env)
    except EngineError as exc:
        _raise_create_error(options, exc)
        raise
    try:
        containers.put_archive(container_id, "/", data)
    except BaseException:
        containers.remove(container_id)
        raise
    return ContainerKernel(id=container_id, kernel_id=kernel_id, snapshot=snapshot, tunnel=tunnel, ports=tuple(ports))


def _create(options: KernelOptions, *, connection_file: Path, cwd: Path, labels: dict[str, str],
            ports: list[int] | None, user: str, host_config: dict[str, Any], kernel_id: str,
            spec_env: dict[str, str] | None, launch_env: dict[str, str] | None) -> str:
    kernel_argv = [options.python, "-m", "ipykernel_launcher", "-f", CONTAINER_CONNECTION_FILE]
    return containers.create(
        options.image, watchdog.command(options.python, kernel_argv), labels=labels,
        name=f"envkit-kernel-{kernel_id[:8]}-{secrets.token_hex(3)}",
        user=user,
        environment=container_env({**(spec_env or {}), **options.env}, launch_env, options.home),
        working_dir=str(cwd) if cwd != Path("/") else options.home, stdin_open=True,
        host_config=host_config, ports=ports,
    )
