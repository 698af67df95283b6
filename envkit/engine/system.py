"""What the engine says about itself: its CPU architecture, and whether it is Podman.

Host-downloaded wheels must fit the machine the image runs on, which is the engine's: Docker
Desktop on an Apple Silicon Mac runs ``aarch64`` Linux, a remote engine any machine at all.
"""

from __future__ import annotations

from . import _podman_urls, connect, engine_url, translated

# Docker reports the kernel's name (x86_64, aarch64); Podman reports Go's (amd64, arm64).
_MACHINES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def engine_memory() -> int:
    """The engine's memory in bytes (0 when it does not say)."""
    with translated("reading the engine's memory size"):
        return int(connect().info().get("MemTotal") or 0)


def engine_machine() -> str:
    """The engine's architecture as a wheel tag writes it (``x86_64``, ``aarch64``, ...)."""
    with translated("asking the engine for its architecture"):
        arch = str(connect().info().get("Architecture") or "")
    return _MACHINES.get(arch.lower(), arch.lower())


def is_podman() -> bool:
    """True when the engine is Podman's Docker-compatible service.

    Told by the ping made on connecting (``Libpod-Api-Version``), not by ``/version``, which
    Podman answers slowly. Podman refuses some of Docker's options (the tmpfs ``uid=``/``gid=``).
    """
    connect()
    return engine_url() in _podman_urls


__all__ = ["engine_machine", "engine_memory", "is_podman"]
