"""Containers through the Engine API: create, attach stdin, start, inspect, signal, logs, remove.

The low-level client is used throughout: the high-level ``containers.create`` inspects after
every call, and a kernel's start-up time is spent here. Every container is created with labels
by the caller; docker errors become ``EngineError`` at this boundary (``EngineNotFound`` for a
missing image or container). Callers pass plain data; docker-py's types are built here.
"""

from __future__ import annotations

import re
import signal as _signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngineError, EngineNotFound
from . import _docker, api, translated


@dataclass(frozen=True, kw_only=True)
class ContainerState:
    """What ``inspect`` says about a container: running or not, and its exit code."""

    id: str
    running: bool
    exit_code: int | None
    status: str
    labels: dict[str, str]
    host_config: dict[str, Any]
    name: str = ""
    created: float = 0.0  # epoch seconds (listings only)
    image: str = ""  # the image's ID (inspect only)
    env: dict[str, str] = field(default_factory=dict)  # the container's environment (inspect only)
    # Published TCP ports (inspect of a running container only): container port -> (host ip, host port).
    published: dict[int, tuple[str, int]] = field(default_factory=dict)


def _host_config(settings: dict[str, Any]) -> dict[str, Any]:
    """``create_host_config`` keyword arguments with plain GPU requests made docker-py types.

    ``device_requests`` entries are dicts of ``DeviceRequest``'s own arguments (``count``,
    ``device_ids``, ``capabilities``, ``driver``, ``options``): ``docker run --gpus``.
    """
    out = dict(settings)
    if out.get("device_requests"):
        device_request = _docker().types.DeviceRequest
        out["device_requests"] = [device_request(**r) for r in out["device_requests"]]
    return out


def create(image: str, command: list[str], *, labels: dict[str, str], name: str | None = None,
           user: str | None = None, environment: dict[str, str] | None = None,
           working_dir: str | None = None, stdin_open: bool = False,
           host_config: dict[str, Any] | None = None, ports: list[int] | None = None) -> str:
    """Create (not start) a container; ``host_config`` holds ``create_host_config`` arguments.

    They are plain data: GPU requests are dicts, made docker-py types here (``_host_config``).
    """
    client = api()
    try:
        with translated(f"creating a container of {image}"):
            hc = client.create_host_config(**_host_config(host_config or {}))
            config = client.create_container_config(
                image, command, user=user or "", detach=True, stdin_open=stdin_open, tty=False,
                ports=ports, environment=environment, working_dir=working_dir, host_config=hc,
                labels=labels,
            )
            # docker-py sets StdinOnce only for attached (non-detached) containers. With it the
            # engine closes the container's stdin when the attached client goes away, which is
            # what the kernel watchdog waits for.
            config["StdinOnce"] = stdin_open
            created = client.create_container_from_config(config, name)
    except EngineError as exc:
        no_init = missing_init(str(exc))
        if no_init is None:
            raise
        raise no_init from exc
    return created["Id"]


_NO_INIT = re.compile(r"container-init binary not found on the host(?:: stat ([^:]+))?")


def missing_init(message: str) -> EngineError | None:
    """The one-line error for an engine whose init process is missing, from the engine's ``message``; else None.

    Podman runs ``--init`` containers under ``catatonit``, a package of its own that a Podman
    install may lack; Podman 4.3 then refuses every container envkit starts (kernels, runs,
    JupyterLab all use an init) with "container-init binary not found on the host".
    """
    found = _NO_INIT.search(message)
    if found is None:
        return None
    where = f" ({found.group(1)} is missing)" if found.group(1) else ""
    return EngineError(f"the engine cannot start containers with an init process: Podman's init, catatonit, "
                       f"is not installed{where}",
                       "install it where the engine runs: 'apt-get install catatonit' (Debian, Ubuntu) or "
                       "'dnf install catatonit' (Fedora), then try again")


def attach(container_id: str, *, output: bool = False) -> Any:
    """Attach to the container's stdin (and stdout/stderr with ``output``); returns the socket.

    Keep it open for the container's lifetime: closing it, or the holding process dying,
    closes the container's stdin (``StdinOnce``). With ``output``, read it with ``frames``,
    or the container blocks once the engine's buffer is full.
    """
    client = api()
    params = {"stdin": 1, "stream": 1, "stdout": int(output), "stderr": int(output)}
    with translated(f"attaching to container {container_id[:12]}"):
        return client.attach_socket(container_id, params=params)


def frames(sock: Any) -> Iterator[tuple[int, bytes]]:
    """(stream, bytes) chunks of an attached non-tty container's output until it closes."""
    frames_iter = _docker().utils.socket.frames_iter
    try:
        yield from frames_iter(sock, tty=False)
    except (OSError, ValueError):  # the socket was closed under us: the container is gone
        return


def start(container_id: str) -> None:
    """Start a created container."""
    with translated(f"starting container {container_id[:12]}"):
        api().start(container_id)


def inspect(container_id: str) -> ContainerState | None:
    """The container's state, or None when it no longer exists (removed, auto-removed)."""
    errors = _docker().errors
    try:
        with translated(f"inspecting container {container_id[:12]}"):
            try:
                data = api().inspect_container(container_id)
            except errors.APIError as exc:
                # Podman 4.3 answers 500 "no such container" for a container it just auto-removed.
                if exc.status_code == 500 and "no such container" in str(exc.explanation or "").lower():
                    return None
                raise
    except EngineNotFound:
        return None
    state = data.get("State") or {}
    running = bool(state.get("Running")) and not state.get("Dead")
    return ContainerState(
        id=data["Id"], running=running, exit_code=None if running else state.get("ExitCode"),
        status=state.get("Status", ""), labels=(data.get("Config") or {}).get("Labels") or {},
        host_config=data.get("HostConfig") or {}, image=str(data.get("Image") or ""),
        env=dict(e.split("=", 1) for e in (data.get("Config") or {}).get("Env") or () if "=" in e),
        published=_published((data.get("NetworkSettings") or {}).get("Ports") or {}),
    )


def _published(ports: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """``NetworkSettings.Ports`` (``{"8888/tcp": [{"HostIp": .., "HostPort": ..}]}``) as plain numbers."""
    out: dict[int, tuple[str, int]] = {}
    for key, bindings in ports.items():
        number, _, proto = key.partition("/")
        if proto == "tcp" and bindings:
            out[int(number)] = (bindings[0].get("HostIp") or "", int(bindings[0].get("HostPort") or 0))
    return out


def kill(container_id: str, signum: int = _signal.SIGKILL) -> bool:
    """Send ``signum`` to the container's PID 1 (docker-init forwards it); False if it is gone."""
    client, errors = api(), _docker().errors
    try:
        client.kill(container_id, signal=int(signum))
        return True
    except errors.NotFound:
        return False
    except errors.APIError as exc:
        # "is not running" (409) means it already ended: not an error for a kill.
        if exc.status_code == 409:
            return False
        with translated(f"signalling container {container_id[:12]}"):
            raise


def remove(container_id: str) -> None:
    """Remove a container, running or not; no error when it is already gone."""
    client, errors = api(), _docker().errors
    try:
        client.remove_container(container_id, force=True)
    except errors.NotFound:
        pass
    except errors.APIError as exc:
        # 409 "removal already in progress" from auto_remove racing us.
        if exc.status_code != 409:
            with translated(f"removing container {container_id[:12]}"):
                raise


def run(image: str, command: list[str], *, labels: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run a short command in a new container; its exit status and stdout. Always removed."""
    container_id = create(image, command, labels=labels, host_config={"network_mode": "none"})
    client = api()
    try:
        with translated(f"running {command[0]} in {image}"):
            client.start(container_id)
            status = client.wait(container_id, timeout=timeout).get("StatusCode", 1)
            out = client.logs(container_id, stdout=True, stderr=False).decode(errors="replace")
        return int(status), out
    finally:
        remove(container_id)


def put_archive(container_id: str, path: str, data: bytes) -> None:
    """Unpack the tar ``data`` at ``path`` in the container (created or running): ``docker cp``."""
    with translated(f"copying files into container {container_id[:12]}"):
        if not api().put_archive(container_id, path, data):
            raise EngineError(f"copying files into container {container_id[:12]}: the engine refused the archive")


def get_archive(container_id: str, path: str) -> Iterator[bytes]:
    """The tar of ``path`` in the container (running or stopped), as a stream of chunks."""
    with translated(f"copying {path} out of container {container_id[:12]}"):
        stream, _ = api().get_archive(container_id, path)
    return iter(stream)


def logs(container_id: str, *, tail: int | None = None) -> str:
    """The container's output (stdout and stderr), its last ``tail`` lines when given."""
    with translated(f"reading the log of container {container_id[:12]}"):
        data = api().logs(container_id, tail="all" if tail is None else tail)
    return bytes(data).decode(errors="replace")


def find(labels: dict[str, str | None]) -> list[ContainerState]:
    """Containers (running or stopped) carrying ``labels`` (a None value matches any value)."""
    filters = [k if v is None else f"{k}={v}" for k, v in labels.items()]
    with translated("listing containers"):
        found = api().containers(all=True, filters={"label": filters})
    return [
        ContainerState(id=c["Id"], running=c.get("State") == "running", exit_code=None,
                       status=c.get("State", ""), labels=c.get("Labels") or {}, host_config={},
                       name=(c.get("Names") or [c["Id"][:12]])[0].lstrip("/"), created=float(c.get("Created") or 0))
        for c in found
    ]


__all__ = ["ContainerState", "attach", "create", "find", "frames", "get_archive", "inspect", "kill", "logs", "missing_init",
           "put_archive", "remove", "run", "start"]
