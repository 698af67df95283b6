"""The only part of envkit that imports ``docker``: a connection and error translation.

``connect()`` reaches whatever engine ``DOCKER_HOST`` or the current Docker context names
(Podman's Docker-compatible socket and remote hosts included) and fails within about two
seconds with one message saying what was tried and how to start an engine. Sub-modules hold
one Engine API area each (images, containers, registry); every docker exception is turned
into an ``EnvkitError`` here, at the boundary.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, EngineNotFound, EngineUnavailable, EnvkitError
from . import ssh

if TYPE_CHECKING:
    import docker

CONNECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class _Context:
    """The current ``docker context`` (when not ``default``): its endpoint and TLS material."""

    name: str
    host: str
    skip_tls_verify: bool = False
    tls_dir: Path | None = None  # holds ca.pem, cert.pem, key.pem when the context has TLS


def _current_context() -> _Context | None:
    config_dir = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    try:
        name = os.environ.get("DOCKER_CONTEXT") or json.loads(
            (config_dir / "config.json").read_text()).get("currentContext")
    except (OSError, ValueError):
        name = os.environ.get("DOCKER_CONTEXT")
    if not name or name == "default":
        return None
    for meta in (config_dir / "contexts" / "meta").glob("*/meta.json"):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if data.get("Name") == name:
            endpoint = data.get("Endpoints", {}).get("docker", {})
            if not endpoint.get("Host"):
                return None
            # The docker CLI keeps a context's certificates under the same digest as its metadata.
            tls_dir = config_dir / "contexts" / "tls" / meta.parent.name / "docker"
            return _Context(name=name, host=endpoint["Host"], skip_tls_verify=bool(endpoint.get("SkipTLSVerify")),
                            tls_dir=tls_dir if tls_dir.is_dir() else None)
    return None


def _context_host() -> str | None:
    """The endpoint of the current ``docker context``, when one other than default is set."""
    context = _current_context()
    return context.host if context is not None else None


def engine_url() -> str:
    """What envkit will try: ``DOCKER_HOST``, else the Docker context, else the local socket."""
    return os.environ.get("DOCKER_HOST") or _context_host() or "unix:///var/run/docker.sock"


_lock = threading.RLock()  # re-entrant: _connect may one day need _docker() too
_connected: dict[str, tuple[docker.DockerClient, docker.APIClient]] = {}
_podman_urls: set[str] = set()  # engines whose ping named Podman's libpod
_tunnels: dict[str, ssh.Tunnel] = {}  # ssh:// engines: the ssh master each connection goes through


def _docker() -> ModuleType:
    """docker-py, imported once under a lock.

    docker-py's packages import each other in a circle; two threads importing it for the first
    time at once can see a partially initialized ``docker.types`` (``ImportError: cannot import
    name 'CancellableStream'``), which failed some of 20 kernels started together. Every
    import of docker in envkit goes through here first.
    """
    with _lock:
        import docker
        import docker.constants
        import docker.errors
        import docker.tls
        import docker.types
        import docker.utils
        import docker.utils.socket

        return docker


def _clients(url: str) -> tuple[docker.DockerClient, docker.APIClient]:
    # Checked again under the lock: lru_cache would let concurrent first callers each connect.
    found = _connected.get(url)
    if found is not None:
        return found
    docker_py = _docker()
    with _lock:
        found = _connected.get(url)
        if found is None:
            found = _connected[url] = _connect(docker_py, url)
        return found


def _connect(docker_py: ModuleType, url: str) -> tuple[docker.DockerClient, docker.APIClient]:
    if url.startswith("ssh://"):
        return _connect_ssh(docker_py, url)
    try:
        if os.environ.get("DOCKER_HOST") or url == "unix:///var/run/docker.sock":
            # DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as docker-py's from_env reads them.
            kwargs = docker_py.utils.kwargs_from_env()
        else:
            kwargs = {"base_url": url, "tls": _context_tls(docker_py, url)}
        if not kwargs.get("tls"):
            # Not docker-py's version "auto", which asks /version: Podman 4.3 answers that in
            # 3-5 s here (it gathers all of `podman info`); the ping below tells the version.
            high = docker_py.DockerClient(**kwargs, timeout=CONNECT_TIMEOUT,
                                          version=docker_py.constants.MINIMUM_DOCKER_API_VERSION)
        else:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the engine's own CA
            # (its session-level verify loses to the environment): a TLS engine is then refused
            # wherever those name the system bundle. The API version is asked once that is off.
            high = docker_py.DockerClient(**kwargs, timeout=CONNECT_TIMEOUT,
                                          version=docker_py.constants.MINIMUM_DOCKER_API_VERSION)
            high.api.trust_env = False
            high.api._version = high.api._retrieve_server_version()
        _ping(high.api, url)
    except (docker_py.errors.DockerException, OSError) as exc:
        raise _unavailable(url, exc) from exc
    # Pings are quick; real operations (builds, pushes) need no client-side timeout.
    high.api.timeout = None
    return high, high.api


def _ping(client: docker.APIClient, url: str) -> None:
    """Ping the engine: its answer's headers give the API version to speak and say if it is Podman.

    Both engines send ``Api-Version``; Podman adds ``Libpod-Api-Version`` (``engine.system.is_podman``).
    """
    response = client._get(client._url("/_ping", versioned_api=False))  # the version is not known yet
    client._raise_for_status(response)
    if response.headers.get("Api-Version"):
        client._version = response.headers["Api-Version"]
    else:  # an engine that does not say: ask it, as docker-py's "auto" does
        client._version = client._retrieve_server_version()
    if response.headers.get("Libpod-Api-Version"):
        _podman_urls.add(url)
    else:
        _podman_urls.discard(url)


def _connect_ssh(docker_py: ModuleType, url: str) -> tuple[docker.DockerClient, docker.APIClient]:
    """An ssh:// engine through envkit's own ssh master (``envkit.engine.ssh``: why not docker-py's)."""
    tunnel = ssh.Tunnel(url).open()
    try:
        high = docker_py.DockerClient(base_url=f"unix://{tunnel.socket}", timeout=CONNECT_TIMEOUT * 5)
        high.ping()
    except (docker_py.errors.DockerException, OSError) as exc:
        tunnel.close()
        user = tunnel.target.user or "your user"
        raise EngineUnavailable(f"no container engine answered at {url}: the SSH login works, but nothing "
                                f"answered at {tunnel.remote_endpoint} on {tunnel.target.host}",
                                f"start Docker on {tunnel.target.host} and let {user} use its socket "
                                "(the docker group)") from exc
    except BaseException:
        tunnel.close()
        raise
    high.api.timeout = None
    _tunnels[url] = tunnel
    return high, high.api


def ssh_tunnel() -> ssh.Tunnel | None:
    """The ssh master of the configured engine when it is an ssh:// one (connecting first), else None."""
    url = engine_url()
    if not url.startswith("ssh://"):
        return None
    _clients(url)
    return _tunnels.get(url)


def _context_tls(docker_py: ModuleType, url: str) -> Any:
    """The current context's TLS settings for ``url`` (its ca/cert/key files), else False."""
    context = _current_context()
    if context is None or context.host != url or context.tls_dir is None:
        return False
    files = {name: context.tls_dir / f"{name}.pem" for name in ("ca", "cert", "key")}
    cert = (str(files["cert"]), str(files["key"])) if files["cert"].is_file() and files["key"].is_file() else None
    ca = str(files["ca"]) if files["ca"].is_file() else None
    return docker_py.tls.TLSConfig(client_cert=cert, ca_cert=ca, verify=not context.skip_tls_verify and ca is not None)


def shares_files(url: str | None = None) -> bool:
    """True when the engine sees this client's files at the same paths (bind mounts work).

    An engine reached through a local socket runs on this machine; one reached over tcp:// or
    ssh:// (directly or through a Docker context) is treated as another machine, even on
    127.0.0.1: it may run in a mount namespace of its own. Files then move through the
    Engine API (archives), never bind mounts of client paths.
    """
    url = url or engine_url()
    return url.startswith(("unix://", "npipe://")) or url.startswith("/")


def engine_hostname(url: str | None = None) -> str:
    """The host name of a tcp:// or ssh:// engine URL ('' for a local socket)."""
    from urllib.parse import urlsplit

    url = url or engine_url()
    if shares_files(url):
        return ""
    return urlsplit(url if "://" in url else f"tcp://{url}").hostname or ""


def _os_error(exc: BaseException) -> OSError | None:
    """The operating system's error under docker-py's and requests' wrappers, if any.

    docker-py re-raises with ``from``; requests and urllib3 keep the original in ``args`` or
    ``reason``. Found by type, so the message's wording (or language) does not matter.
    """
    stack, seen = [exc], set()
    while stack:
        err = stack.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, PermissionError | FileNotFoundError | ConnectionRefusedError):
            return err
        stack += [x for x in (err.__cause__, err.__context__, getattr(err, "reason", None), *err.args)
                  if isinstance(x, BaseException)]
    return None


def _unavailable(url: str, exc: BaseException) -> EngineUnavailable:
    reason = str(exc)
    cause = _os_error(exc)
    if isinstance(cause, PermissionError):
        why = "permission denied on the engine's socket"
        hint = "add yourself to the 'docker' group (then log in again), or use rootless Docker/Podman"
    elif cause is not None:  # no such socket, or nothing accepting connections on it
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
    with _lock:
        _connected.clear()
        _podman_urls.clear()
        while _tunnels:
            _tunnels.popitem()[1].close()


atexit.register(reset)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn docker-py exceptions raised inside the block into envkit errors naming ``action``.

    A missing object (HTTP 404) becomes ``EngineNotFound``, so callers tell it apart by type;
    a connection refused or broken mid-answer becomes ``EngineGone`` ("stopped answering during
    ``action``"), see ``envkit.engine.faults``.
    """
    _docker()
    from docker.errors import APIError, DockerException, NotFound

    try:
        yield
    except NotFound as exc:  # ImageNotFound is a NotFound
        raise EngineNotFound(f"{action}: not found ({exc.explanation or exc})") from exc
    except APIError as exc:
        raise EngineError(f"{action}: the engine refused ({exc.explanation or exc})") from exc
    except DockerException as exc:
        raise EngineError(f"{action}: {exc}") from exc
    except EnvkitError:  # already one of ours: connecting inside the block failed (_clients)
        raise
    except Exception as exc:
        # Inside this block the engine had answered (connecting happens in _clients): a
        # connection refused or broken now means it stopped answering (envkit.engine.faults).
        from .faults import broke_off, gone

        if broke_off(exc):
            raise gone(engine_url(), action) from exc
        raise


__all__ = ["api", "connect", "engine_hostname", "engine_url", "reset", "shares_files", "ssh_tunnel", "translated"]
