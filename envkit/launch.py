"""``envkit launch``: JupyterLab in a container of the notebook's image, Binder-style, locally.

A JupyterLab layer goes on top of the environment image (so that image stays lean), reused by
a content tag. The server never runs as root by default (the caller's uid, or for a root caller
the folder's owner or the image's user: ``envkit.privileges``), with process and memory limits,
the notebook's folder mounted (or, with ``copy``, baked into a throw-away image), published on
127.0.0.1 and a free port, behind a random token that reaches it only through the container's
environment (``JUPYTER_TOKEN``): never the image, its labels, or logs above debug level.

It dies with its owner, as kernels do: the kernels' watchdog runs between docker-init and
JupyterLab, and the owner holds the container's stdin (``StdinOnce``), so when the owning
process ends for any reason, SIGKILL included, the engine closes that stdin, the watchdog ends
the server and ``auto_remove`` deletes the container. ``start_lab`` returns once the notebook
page answers, or the server already running for that notebook (``LabServer.started`` False);
``LabServer.stop()`` removes the container (and a ``copy`` image).

On an engine that cannot see this machine's files (``envkit.engine.shares_files``) nothing is
mounted: the notebook's folder goes into the created container through the Engine API
(``put_archive``, as for kernels: ``envkit.kernels.transfer``), and ``stop()`` brings back what
JupyterLab created or changed (``get_archive``) before it removes the container. A client file
that changed meanwhile is never overwritten: the container's version is written beside it
(``answer.from-lab.ipynb``) and ``LabServer.copied_back`` says so. The copy lives in the
container's own layer (no volume), so the dead-man switch's ``auto_remove`` takes it with the
container. JupyterLab ending by itself leaves the container up (a marker line, then ``sleep``)
until ``stop()`` has copied the files back or the owner is gone.

Over an ``ssh://`` engine the port is published on the engine host's 127.0.0.1 (a port the
engine picks) and a free 127.0.0.1 port here is forwarded to it through envkit's ssh master
(``envkit.engine.ssh_tunnel``), as kernel ports are: the URL names the local port, and
``stop()`` cancels the forward (the master itself ends with this process). Other engines on
another machine (``tcp://HOST``) are refused: their published port is not reachable from here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import EngineError, EnvkitError, KernelError, NotebookError, UsageError
from .events import Done, Log, Note, Progress, Step, emit
from .labels import LABEL_BUILD_KEY, LABEL_KIND, LABEL_NOTEBOOK, LABEL_OWNER, LABEL_SPEC, base_labels
from .settings import debug

if TYPE_CHECKING:
    from .build import BuildOptions
    from .engine.ssh import Tunnel
    from .kernels.transfer import Returned, Snapshot
    from .privileges import RunAs

JUPYTERLAB = "jupyterlab>=4,<5"
CONTAINER_PORT = 8888
LAB_REPOSITORY = "envkit-lab"
LABEL_LAB_BASE = "dev.envkit.lab-base"
WORKDIR = "/home/envkit/work"
_SKIP = {".git", ".ipynb_checkpoints", "__pycache__", ".venv", "node_modules"}
OUTPUT_LINES = 40
# Printed when JupyterLab ends on a remote engine; the container then waits for stop() to copy files back.
ENDED_MARKER = "envkit-lab: JupyterLab ended"
_LIVE: dict[str, LabServer] = {}


@dataclass(kw_only=True)
class LabServer:
    """A running JupyterLab: open ``url`` (token included); ``stop()`` removes the container."""

    url: str
    base_url: str
    token: str
    port: int
    container_id: str
    image_id: str
    notebook: Path
    started: bool = True
    owner: str = ""
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES))
    copied_back: Returned | None = None  # set by stop() on a remote engine: what came back
    copy_error: str = ""  # why the files could not be copied back, if so
    removed_elsewhere: bool = False  # stop() found the container gone: another process stopped it
    _owned_images: list[str] = field(default_factory=list)
    _stdin: Any = None
    _snapshot: Snapshot | None = None  # the folder sent to a remote engine, to copy back on stop()
    _ended: bool = False  # JupyterLab printed ENDED_MARKER (its container waits for stop())
    _tunnel: Tunnel | None = None  # an ssh:// engine's master, forwarding ``port`` here to the published one
    _forwarded: dict[int, int] = field(default_factory=dict)

    def running(self) -> bool:
        """True while the container runs (and, on a remote engine, JupyterLab in it)."""
        from .engine import containers

        if self._ended:
            return False
        state = containers.inspect(self.container_id)
        return state is not None and state.running

    def wait(self, poll: float = 0.5) -> None:
        """Block until the container ends (or KeyboardInterrupt)."""
        while self.running():
            time.sleep(poll)

    def follow(self, sock: Any) -> None:
        """Hold the container's stdin (the dead-man switch) and keep its last output lines."""
        from .engine import containers

        self._stdin = sock
        _LIVE[self.container_id] = self  # the socket lives as long as the server, not the caller's variable

        def pump() -> None:
            partial = b""
            for _, chunk in containers.frames(sock):
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for line in lines:
                    text = redact(line.decode(errors="replace"), self.token)
                    self._ended = self._ended or text == ENDED_MARKER
                    self.output.append(text)

        threading.Thread(target=pump, name=f"envkit-lab-output-{self.container_id[:12]}", daemon=True).start()

    def stop(self) -> None:
        """Stop and remove the container, and the image made for ``copy``; safe to call twice.

        On a remote engine the folder's files come back first (``copied_back``, ``copy_error``).
        """
        from .engine import containers
        from .engine.images import remove_image

        _LIVE.pop(self.container_id, None)
        self._copy_back()  # before the stdin goes: auto_remove takes the container's copy with it
        if self._forwarded and self._tunnel is not None:
            forwarded, self._forwarded = self._forwarded, {}
            self._tunnel.cancel(forwarded)
        if self._stdin is not None:
            try:
                self._stdin.close()
            except OSError:
                pass
            self._stdin = None
        containers.remove(self.container_id)
        while self._owned_images:
            remove_image(self._owned_images.pop(), force=True)

    def _copy_back(self) -> None:
        """Write what JupyterLab created or changed in the container's copy to the client's folder."""
        from .engine import containers

        if self._snapshot is None:
            return
        snapshot, self._snapshot = self._snapshot, None
        if containers.inspect(self.container_id) is None:
            # Stopped from another process (envkit launch --stop), which copied the files back
            # from the snapshot stored in the container; nothing is left here to copy.
            self.removed_elsewhere = True
            return
        try:
            self.copied_back = copy_back(self.container_id, snapshot)
        except (EngineError, OSError, ValueError) as exc:  # tarfile errors are ValueErrors
            self.copy_error = str(exc)

    def copy_back_report(self) -> list[tuple[str, str]]:
        """(level, text) lines saying what ``stop()`` copied back from a remote engine; none for a local one."""
        from .kernels import transfer

        folder = self.notebook.parent
        if self.removed_elsewhere:
            return [("info", "JupyterLab was stopped by another process: it copied the files back "
                             "(envkit launch --stop does)")]
        if self.copy_error:
            return [("warning", f"the files in the container could not be copied back to {folder}: {self.copy_error}; "
                              "edits made in JupyterLab are lost")]
        done = self.copied_back
        if done is None:
            return []
        lines = [("info", f"copied {len(done.written)} file(s) JupyterLab created or changed back to {folder}"
                          + (f": {', '.join(done.written[:10])}" + (", ..." if len(done.written) > 10 else "")
                             if done.written else ""))]
        lines.extend(("warning", text) for text in transfer.conflict_notes(done, folder, "JupyterLab"))
        return lines

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:  # keep the token out of reprs, tracebacks and logs
        return f"LabServer(base_url={self.base_url!r}, container_id={self.container_id[:12]!r})"


def free_port(ip: str) -> int:
    """A port the OS says is free on ``ip`` now (the engine binds it a moment later)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def redact(text: str, token: str) -> str:
    """``text`` with the token replaced (server logs print it in URLs)."""
    return text.replace(token, "<token>") if token else text


def lab_dockerfile(env_image: str, user: str) -> tuple[str, dict[str, str]]:
    """The JupyterLab layer's Dockerfile for ``env_image`` and its content tag."""
    from .build import forwarding_variables, render_template
    from .version import __version__

    labels = {LABEL_KIND: "launch", LABEL_LAB_BASE: env_image,
              # The layer inherits the environment's labels; blank the ones envkit's build
              # looks up, so this image is never mistaken for (and reused as) the environment.
              LABEL_SPEC: "", LABEL_BUILD_KEY: ""}
    text = render_template("jupyterlab.Dockerfile.j2", base_image=env_image, jupyterlab=JUPYTERLAB,
                           user=user or "envkit", envkit_version=__version__, labels=sorted(labels.items()),
                           **forwarding_variables())
    return text, labels


def lab_image_plan(env_image: str) -> tuple[str, dict[str, str], str]:
    """Dockerfile, labels and content tag of the JupyterLab layer for ``env_image``."""
    from .engine.images import inspect_image

    env = inspect_image(env_image)
    if env is None:
        raise EngineError(f"launch: the environment image {env_image[:19]} is not on this engine",
                          "build it: envkit build NOTEBOOK")
    user = env.user or "envkit"
    text, labels = lab_dockerfile(env.id, user)
    return text, labels, f"{LAB_REPOSITORY}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def ensure_lab_image(env_image: str, *, options: BuildOptions | None = None,
                     progress: Progress | None = None) -> str:
    """The JupyterLab image on top of ``env_image``: reused by content tag, else built."""
    from .build import BuildOptions, build_dockerfile
    from .engine.images import inspect_image

    text, labels, tag = lab_image_plan(env_image)
    found = inspect_image(tag)
    if found is not None:
        emit(progress, Note(text=f"reusing the JupyterLab image {tag}"))
        return found.id
    emit(progress, Step(n=0, total=0, text=f"adding a JupyterLab layer ({tag})"))
    return build_dockerfile(text, {}, tag=tag, labels=labels, options=options or BuildOptions(),
                            progress=progress)


def _image_user(image_id: str) -> str:
    from .engine.images import inspect_image

    info = inspect_image(image_id)
    return info.user if info else ""


def _copy_image(lab_image: str, folder: Path, *, owner: str, options: BuildOptions | None,
                progress: Progress | None) -> str:
    """A throw-away image with ``folder`` copied to WORKDIR (hidden and cache folders left out)."""
    from .build import BuildOptions, build_dockerfile, render_template

    files: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not any(part in _SKIP or part.startswith(".") for part in rel.parts):
            files[f"work/{rel.as_posix()}"] = p.read_bytes()
    if not files:
        raise EngineError(f"launch --copy: nothing to copy in {folder}")
    labels = {LABEL_KIND: "launch", LABEL_LAB_BASE: lab_image}
    text = render_template("jupyterlab-copy.Dockerfile.j2", base_image=lab_image, owner=owner,
                           workdir=WORKDIR, labels=sorted(labels.items()))
    emit(progress, Step(n=0, total=0, text=f"copying {len(files)} file(s) from {folder} into an image"))
    return build_dockerfile(text, files, tag="", labels=labels, options=options or BuildOptions(),
                            progress=progress)


def _wait_until_ready(server: LabServer, timeout: float, progress: Progress | None) -> None:
    """Poll the notebook page until it answers 200; fail early if the container ends."""
    from .engine import containers

    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(server.url)
            with urllib.request.urlopen(request, timeout=5) as resp:
                # Without a valid token the page redirects to /login, which also answers 200.
                if resp.status == 200 and "/login" not in resp.geturl():
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        state = containers.inspect(server.container_id)
        if state is None or not state.running or server._ended or time.monotonic() > deadline:
            # The container removes itself when it ends (auto_remove): its last lines come from
            # the attached output, not from the engine's log.
            time.sleep(0.2)
            lines = list(server.output)[-15:]
            server.stop()
            why = "did not answer in time" if state is not None and state.running and not server._ended else "stopped"
            raise EngineError("launch: JupyterLab " + why + (":\n    " + "\n    ".join(lines) if lines else ""),
                              "run with ENVKIT_DEBUG=1 for the server's log; check the image has a venv "
                              "at /opt/envkit/venv")
        time.sleep(0.3)


def _running_lab(nb: Path) -> LabServer | None:
    """The JupyterLab already serving ``nb`` (its owner alive), rebuilt from its container; else None.

    A launch container whose owner on this host is gone (left by an envkit without the dead-man
    switch) is removed on the way.
    """
    from .engine import containers, ssh_tunnel
    from .ownership import owner_state

    for state in containers.find({LABEL_KIND: "launch", LABEL_NOTEBOOK: str(nb)}):
        owner = state.labels.get(LABEL_OWNER, "")
        if not state.running or owner_state(owner) == "gone":
            containers.remove(state.id)
            continue
        found = containers.inspect(state.id)
        if found is None:
            continue
        env = found.env
        bindings = (found.host_config.get("PortBindings") or {}).get(f"{CONTAINER_PORT}/tcp") or []
        token = env.get("JUPYTER_TOKEN", "")
        if not token or not bindings or not str(bindings[0].get("HostPort") or "").isdigit():
            continue
        ip = bindings[0].get("HostIp") or "127.0.0.1"
        host = "127.0.0.1" if ip in ("0.0.0.0", "::", "") else ip
        port = int(bindings[0]["HostPort"])
        tunnel, forwarded = ssh_tunnel(), {}
        if tunnel is not None:  # its port is on the engine's host: forward one here to it, as start_lab does
            published = found.published.get(CONTAINER_PORT, ("", 0))[1]
            if not published:
                continue
            forwarded = _forward(tunnel, published, None)
            host, port = "127.0.0.1", next(iter(forwarded))
        base_url = f"http://{host}:{port}/lab/tree/{quote(nb.name)}"
        return LabServer(url=f"{base_url}?token={token}", base_url=base_url, token=token, port=port,
                         container_id=state.id, image_id=found.image, notebook=nb,
                         started=False, owner=owner, _tunnel=tunnel, _forwarded=forwarded)
    return None


def _home(image: str, who: RunAs) -> str:
    """A HOME the run uid can write: the image's own (``/home/envkit``) when it is the image's user."""
    from .privileges import image_user

    same = who.uid != 0 and who.uid == image_user(image)[0]
    return "/home/envkit" if same else "/tmp/envkit-home"


def start_lab(path: str | os.PathLike[str], *, copy: bool = False, port: int | None = None,
              ip: str = "127.0.0.1", options: BuildOptions | None = None, timeout: float = 120,
              user: str = "", mem_limit: str | int | None = None, pids_limit: int | None = None,
              progress: Progress | None = None) -> LabServer:
    """Start JupyterLab for the notebook at ``path`` and return once its page answers.

    When a JupyterLab started by a live process already serves this notebook, that one is
    returned (``started`` False) instead of starting another. ``user`` (``"root"`` or
    ``"uid[:gid]"``) overrides envkit's non-root choice; ``mem_limit`` and ``pids_limit`` raise
    (or with ``0``/``-1`` lift) the default limits (``envkit.privileges``).
    """
    from .build import BuildOptions, ensure_image
    from .engine import containers, engine_url, shares_files, ssh_tunnel
    from .kernels import transfer, watchdog
    from .ownership import owner
    from .privileges import folder_access, folder_hint, folder_warning, limits, run_as

    nb = Path(path).resolve()
    if not nb.is_file():
        raise NotebookError(f"launch: {path}: no such notebook")
    if user and not re.fullmatch(r"root|[0-9]+(:[0-9]+)?", user):
        raise UsageError(f"launch: --user {user!r} is not 'root' or uid[:gid]",
                          "leave it out: envkit picks a non-root user")
    running = _running_lab(nb)
    if running is not None:
        emit(progress, Done(text=f"JupyterLab for {nb.name} is already running at {running.base_url}"))
        return running
    if not is_loopback(ip):
        emit(progress, Note(text=f"JupyterLab will listen on {ip}, reachable from other machines; "
                                 "anyone with the token can run code as you", level="warning"))
    remote = not copy and not shares_files()
    tunnel = None if shares_files() else ssh_tunnel()
    if tunnel is not None and not is_loopback(ip):
        raise UsageError(f"launch: --ip {ip} over the ssh:// engine at {engine_url()}: JupyterLab is reached "
                         "through the SSH tunnel, on 127.0.0.1 here only", "leave --ip out")
    if not shares_files() and tunnel is None:
        _check_reachable(ip)
    if remote:
        emit(progress, Note(text=f"the engine at {engine_url()} does not see this machine's files: "
                                 f"{nb.parent} is copied into the container, and what JupyterLab saves there "
                                 "comes back when it stops"))
    emit(progress, Step(n=1, total=3, text=f"environment image for {nb.name}"))
    record = ensure_image(nb, options=options or BuildOptions(), progress=progress)
    emit(progress, Step(n=2, total=3, text="JupyterLab image"))
    lab_image = ensure_lab_image(record.id, options=options, progress=progress)
    who = run_as(record.id, None if copy else nb.parent, explicit=user)
    owned: list[str] = []
    archive: bytes | None = None
    snapshot: transfer.Snapshot | None = None
    if copy:
        image = _copy_image(lab_image, nb.parent, owner=who.user, options=options, progress=progress)
        owned.append(image)
        root, binds = WORKDIR, {}
    elif remote:
        # The notebook's folder at the same path, owned by the server's user (it saves there).
        try:
            archive, snapshot = transfer.pack(nb.parent, "", b"", uid=who.uid, gid=who.gid)
        except KernelError as exc:
            raise EngineError(f"launch: {exc.message}", "launch it from a folder of its own, or with --copy") from exc
        image, root, binds = lab_image, str(nb.parent), {}
    else:
        from .project import project_root

        # The notebook's project at the same path (envkit.project), so '../data' and
        # sys.path.append('..') work as on the host; JupyterLab opens the notebook in it.
        image, root = lab_image, str(project_root(nb.parent, nb))
        binds = {root: {"bind": root, "mode": "rw"}}
        if not folder_access(nb.parent, who)[0]:
            raise EngineError(f"launch: JupyterLab's user (uid {who.uid}, {who.why}) cannot enter {nb.parent}",
                              folder_hint(nb.parent, who, "--user root"))
        if (warning := folder_warning(nb.parent, who, "--user root")) is not None:
            emit(progress, Note(text=warning, level="warning"))
    token = secrets.token_hex(24)
    # Over ssh:// the engine picks a free port on its host's loopback; ours is forwarded to it once it runs.
    host_port = 0 if tunnel is not None else port or free_port(ip)
    binding = (ip,) if tunnel is not None else (ip, host_port)
    env = {"JUPYTER_TOKEN": token, "HOME": _home(record.id, who)}
    argv = ["jupyter", "lab", "--ip=0.0.0.0", f"--port={CONTAINER_PORT}", "--no-browser",
            f"--ServerApp.root_dir={root}", "--ServerApp.password=",
            # No calls home from the container: no extension index, no news feed.
            "--LabApp.extension_manager=readonly", "--LabApp.news_url=None"]
    if who.uid == 0:
        argv.append("--allow-root")  # only when asked for (--user root); all capabilities are dropped below
    if not is_loopback(ip):
        argv.append("--ServerApp.allow_remote_access=True")
    command = watchdog.command("python", argv)
    if remote:
        # The files come back when stop() asks for them: JupyterLab ending by itself must not
        # take them with the container, so the container waits (until stop() or its owner is gone).
        argv.append("--ServerApp.quit_button=False")
        held = f'"$@"; echo "{ENDED_MARKER}"; exec sleep infinity'
        command = watchdog.command("python", ["sh", "-c", held, "envkit-lab", *argv])
    labels = {**base_labels("launch"), LABEL_NOTEBOOK: str(nb), LABEL_OWNER: owner()}
    where = f"{engine_url()}, through the SSH tunnel" if tunnel is not None else f"{ip}:{host_port}"
    emit(progress, Step(n=3, total=3, text=f"starting JupyterLab on {where}"))
    try:
        container_id = containers.create(
            image, command, labels=labels, name=f"envkit-lab-{secrets.token_hex(4)}",
            user=who.user, environment=env, working_dir=root, ports=[CONTAINER_PORT], stdin_open=True,
            host_config={"binds": binds, "port_bindings": {CONTAINER_PORT: binding}, "init": True,
                         "auto_remove": True, "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
                         **limits(mem_limit, pids_limit)},
        )
    except BaseException:
        for image_id in owned:
            from .engine.images import remove_image

            remove_image(image_id, force=True)
        raise
    host = "127.0.0.1" if ip in ("0.0.0.0", "::") else ip
    rel = nb.name if copy else nb.relative_to(root).as_posix()
    base_url = f"http://{host}:{host_port}/lab/tree/{quote(rel)}"
    server = LabServer(url=f"{base_url}?token={token}", base_url=base_url, token=token, port=host_port,
                       container_id=container_id, image_id=image, notebook=nb, owner=labels[LABEL_OWNER],
                       _owned_images=owned)
    try:
        if archive is not None and snapshot is not None:
            containers.put_archive(container_id, "/", archive)
            # Stored with the container too, so a process that did not start it can copy back on stop.
            containers.put_archive(container_id, "/", transfer.snapshot_archive(snapshot))
            server._snapshot = snapshot
        # Attach before start, so there is no moment when the server runs unwatched.
        server.follow(containers.attach(container_id, output=True))
        containers.start(container_id)
        if tunnel is not None:
            _tunnel_to(server, tunnel, port)
        _wait_until_ready(server, timeout, progress)
    except BaseException:
        server.stop()
        raise
    if debug():
        for line in list(server.output):
            emit(progress, Log(line=line))
    emit(progress, Done(text=f"JupyterLab is ready at {server.base_url}"))
    return server


def _forward(tunnel: Tunnel, published: int, port: int | None) -> dict[int, int]:
    """``{local: published}`` once the ssh master listens on ``port`` (or a free one) of 127.0.0.1 here."""
    forwards = {port or free_port("127.0.0.1"): published}
    try:
        tunnel.forward(forwards)
    except EnvkitError as exc:  # EngineUnavailable: the master refused the forward
        raise EngineError(f"launch: {exc.message}", "a local port may be taken: launch it again"
                          + (" without --port" if port else "")) from exc
    return forwards


def _tunnel_to(server: LabServer, tunnel: Tunnel, port: int | None) -> None:
    """Forward a port here to the one the engine published on its host, and point the URLs at it."""
    from .engine import containers

    state = containers.inspect(server.container_id)
    published = state.published.get(CONTAINER_PORT, ("", 0))[1] if state is not None else 0
    if not published:
        raise EngineError(f"launch: JupyterLab's container {server.container_id[:12]} ended before its port "
                          "was published", "run with ENVKIT_DEBUG=1 for the server's log")
    server._tunnel, server._forwarded = tunnel, _forward(tunnel, published, port)
    server.port = next(iter(server._forwarded))
    old = server.base_url
    server.base_url = re.sub(r"^http://[^/]+", f"http://127.0.0.1:{server.port}", old)
    server.url = server.url.replace(old, server.base_url, 1)


def _check_reachable(ip: str) -> None:
    """Refuse an engine whose published ports this machine cannot reach (as for kernels)."""
    from .engine import engine_hostname, engine_url
    from .kernels.container import LOOPBACK

    if engine_hostname() not in LOOPBACK:
        raise EngineError(f"launch on the engine at {engine_url()} is not supported yet: JupyterLab's port is "
                          f"published on {ip} of that machine, which this one cannot reach",
                          "reach it as DOCKER_HOST=ssh://USER@HOST: envkit then tunnels JupyterLab's port")


def copy_back(container_id: str, snapshot: Snapshot) -> Returned:
    """Write what JupyterLab created or changed in the container's copy of the folder to the client's.

    A client file changed since the start is kept; the container's version goes beside it
    (``answer.from-lab.ipynb``). Raises EngineError, OSError or ValueError (a bad archive).
    """
    from .engine import containers
    from .kernels import transfer

    return transfer.unpack(containers.get_archive(container_id, str(snapshot.folder)), snapshot,
                           beside=transfer.BESIDE_LAB)


def _stored_snapshot(container_id: str) -> Snapshot | None:
    """The snapshot a remote launch stored in its container at start; None for a launch without one."""
    from .engine import containers, shares_files
    from .kernels import transfer

    if shares_files():
        return None  # the folder was bind-mounted: nothing to bring back
    try:
        return transfer.read_snapshot(containers.get_archive(container_id, transfer.SNAPSHOT_PATH))
    except (EngineError, ValueError):  # a local launch (bind mount) or --copy: nothing to bring back
        return None


def stop_labs(path: str | os.PathLike[str], report: list[tuple[str, str]] | None = None) -> list[str]:
    """Stop and remove the JupyterLab containers started for the notebook at ``path``.

    A server started from a notebook (``%envkit launch``) outlives the cell; this is its off switch.
    On a remote engine the files come back first, whichever process started the server: one
    started elsewhere is copied back from the snapshot stored in its container. Returns the
    short IDs of the containers removed; ``report`` gets what came back (``copy_back_report``).
    """
    from .engine import containers

    nb = Path(path).resolve()
    found = containers.find({LABEL_KIND: "launch", LABEL_NOTEBOOK: str(nb)})
    for state in found:
        server = _LIVE.get(state.id)
        if server is None and (snapshot := _stored_snapshot(state.id)) is not None:
            # Started by another process: copy back as its stop() would, before removing it.
            server = LabServer(url="", base_url="", token="", port=0, container_id=state.id, image_id="",
                               notebook=nb, started=False, _snapshot=snapshot)
        if server is not None:
            server.stop()  # started here: lets go of its stdin too
            if report is not None:
                report.extend(server.copy_back_report())
        containers.remove(state.id)
    return [state.id[:12] for state in found]


__all__ = ["LabServer", "copy_back", "ensure_lab_image", "stop_labs", "free_port", "is_loopback", "lab_dockerfile", "lab_image_plan",
           "redact", "start_lab"]
