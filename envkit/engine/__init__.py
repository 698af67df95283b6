"""The only part of envkit that imports ``docker``: a connection and error translation.

``connect()`` reaches whatever engine ``DOCKER_HOST`` or the current Docker context names
(Podman's Docker-compatible socket and remote hosts included) and fails within about two
seconds with one message saying what was tried and how to start an engine. Sub-modules hold
one Engine API area each (images, containers, registry); every docker exception is turned
into an ``EnvkitError`` here, at the boundary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EngineError, EngineUnavailable

if TYPE_CHECKING:
    import docker

CONNECT_TIMEOUT = 2.0


def _context_host() -> str | None:
    """The endpoint of the current ``docker context``, when one other than default is set."""
    config_dir = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    try:
        name = os.environ.get("DOCKER_CONTEXT") or json.loads(
            (config_dir / "config.json").read_text()).get("currentContext")
    except (OSError, ValueError):
        return None
    if not name or name == "default":
        return None
    for meta in (config_dir / "contexts" / "meta").glob("*/meta.json"):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if data.get("Name") == name:
            return data.get("Endpoints", {}).get("docker", {}).get("Host")
    return None


def engine_url() -> str:
    """What envkit will try: ``DOCKER_HOST``, else the Docker context, else the local socket."""
    return os.environ.get("DOCKER_HOST") or _context_host() or "unix:///var/run/docker.sock"


@lru_cache(maxsize=1)
def _clients(url: str) -> tuple[docker.DockerClient, docker.APIClient]:
    import docker
    from docker.errors import DockerException

    try:
        if os.environ.get("DOCKER_HOST") or url == "unix:///var/run/docker.sock":
            high = docker.from_env(timeout=CONNECT_TIMEOUT)
        else:
            high = docker.DockerClient(base_url=url, timeout=CONNECT_TIMEOUT)
        high.ping()
    except (DockerException, OSError) as exc:
        raise _unavailable(url, exc) from exc
    # Pings are quick; real operations (builds, pushes) need no client-side timeout.
    high.api.timeout = None
    return high, high.api


def _unavailable(url: str, exc: BaseException) -> EngineUnavailable:
    reason = str(exc)
    if "Permission denied" in reason:
        why = "permission denied on the engine's socket"
        hint = "add yourself to the 'docker' group (then log in again), or use rootless Docker/Podman"
    elif "No such file" in reason or "FileNotFoundError" in reason or "Connection refused" in reason:
        why = "nothing is listening there"
        hint = ("start Docker (Docker Desktop, or 'sudo systemctl start docker'), "
                "or point DOCKER_HOST at a running engine (Podman: 'systemctl --user start podman.socket')")
    else:
        why = reason.splitlines()[0][:200] if reason else type(exc).__name__
        hint = "check that the engine is running and DOCKER_HOST / 'docker context' name it"
    return EngineUnavailable(f"no container engine answered at {url}: {why}", hint)


def connect() -> docker.DockerClient:
    """The high-level docker client for the configured engine (cached; pinged once)."""
    return _clients(engine_url())[0]


def api() -> docker.APIClient:
    """The low-level client, for streamed builds, pushes and pulls."""
    return _clients(engine_url())[1]


def reset() -> None:
    """Forget the cached connection (after DOCKER_HOST changes, or in tests)."""
    _clients.cache_clear()


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn docker-py exceptions raised inside the block into envkit errors naming ``action``."""
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from requests.exceptions import ConnectionError as RequestsConnectionError

    try:
        yield
    except (ImageNotFound, NotFound) as exc:
        raise EngineError(f"{action}: not found ({exc.explanation or exc})") from exc
    except APIError as exc:
        raise EngineError(f"{action}: the engine refused ({exc.explanation or exc})") from exc
    except RequestsConnectionError as exc:
        raise _unavailable(engine_url(), exc) from exc
    except DockerException as exc:
        raise EngineError(f"{action}: {exc}") from exc


__all__ = ["api", "connect", "engine_url", "reset", "translated"]
