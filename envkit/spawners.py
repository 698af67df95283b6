"""JupyterHub spawner profiles for a notebook's hub image: DockerSpawner, SwarmSpawner, KubeSpawner.

Pure: a ``HubProfile`` (image by digest, resources from the kernel options, pull secrets) in,
``jupyterhub_config.py`` text out. Every value is checked first and printed as a Python literal
(``repr``), never pasted into code; strings the spawners expand with ``str.format``
(``notebook_dir``, ``default_url``) have their braces doubled, so a notebook called ``{x}.ipynb``
stays a file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from .errors import UsageError
from .hub import WORKDIR, check_digest_reference

SPAWNERS = ("docker", "swarm", "kube")
_SPAWNER_CLASS = {"docker": "dockerspawner.DockerSpawner", "swarm": "dockerspawner.SwarmSpawner",
                  "kube": "kubespawner.KubeSpawner"}
_MEMORY = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[bkmgt]?)b?", re.I)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# DockerSpawner 14 splits an image at its last ':' before pulling, so for NAME@sha256:<hex> it
# asks the engine for the tag <hex> and the pull fails (found by tests/integration/test_hub.py).
# The profile names this subclass, which pulls a digest reference as the engine expects.
DOCKER_DIGEST_PULL = '''\
from docker.errors import NotFound
from dockerspawner import DockerSpawner


class EnvkitDockerSpawner(DockerSpawner):
    """DockerSpawner that pulls NAME@sha256:... references by digest (DockerSpawner splits them at ':')."""

    async def pull_image(self, image):
        name, at, digest = image.partition("@")
        if not at or self.pull_policy.lower() in ("skip", "never"):
            return await super().pull_image(image)
        try:
            await self.docker("inspect_image", image)
        except NotFound:
            self.log.info("pulling %s", image)
            await self.docker("pull", name, digest)


c.JupyterHub.spawner_class = EnvkitDockerSpawner
'''
# A Kubernetes Secret name is a DNS-1123 subdomain.
_SECRET = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, kw_only=True)
class HubProfile:
    """What a spawner needs to start the notebook's hub image for a user."""

    image: str                       # name@sha256:…
    notebook: str                    # the notebook's path under WORKDIR, e.g. "analysis.ipynb"
    mem_bytes: int | None = None
    cpus: float | None = None
    gpus: str | int | list[str] | None = None
    pull_secrets: tuple[str, ...] = ()
    jupyterhub: str = ""             # the requirement baked in, for the header

    def __post_init__(self) -> None:
        check_digest_reference(self.image)
        rel = PurePosixPath(self.notebook)
        if rel.is_absolute() or ".." in rel.parts or not self.notebook or "\n" in self.notebook:
            raise UsageError(f"notebook path {self.notebook!r}: expected a path inside the notebook's folder")
        for name in self.pull_secrets:
            if len(name) > 253 or not _SECRET.fullmatch(name):
                raise UsageError(f"--pull-secret {name!r} is not a Kubernetes Secret name",
                                 "lower-case letters, digits, '-' and '.', e.g. team-registry")
        if self.cpus is not None and not self.cpus > 0:
            raise UsageError(f"cpus must be positive, not {self.cpus}")


def memory_bytes(value: str | int | None) -> int | None:
    """Docker's memory forms (``4g``, ``512m``, ``1073741824``) as bytes; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        match = _MEMORY.fullmatch(str(value).strip())
        if match is None:
            raise UsageError(f"memory limit {value!r}: expected a size such as 4g, 512m or a number of bytes")
        n = int(float(match.group("n")) * _UNITS[match.group("unit").lower()])
    if n < 6 << 20:  # docker's own minimum for a container
        raise UsageError(f"memory limit {value!r} is below 6 MB", "e.g. --mem-limit 4g")
    return n


def gpu_count(gpus: str | int | list[str] | None, spawner: str) -> int | None:
    """A GPU count for schedulers that only count (Swarm's generic resources, Kubernetes)."""
    if gpus is None or gpus == 0 or gpus == "0":
        return None
    if isinstance(gpus, int) or str(gpus).isdigit():
        return int(gpus)
    raise UsageError(f"--gpus {gpus!r}: the {spawner} spawner requests GPUs by count",
                     "pass a number, e.g. --gpus 1 ('all' and device ids work only with --spawner docker)")


def _docker_device_requests(gpus: str | int | list[str]) -> list[dict[str, Any]]:
    """docker-py ``DeviceRequest`` keyword forms (``create_host_config`` accepts dicts)."""
    if gpus == "all":
        return [{"count": -1, "capabilities": [["gpu"]]}]
    if isinstance(gpus, int) or str(gpus).isdigit():
        return [{"count": int(gpus), "capabilities": [["gpu"]]}]
    ids = gpus if isinstance(gpus, list) else str(gpus).split(",")
    for i in ids:
        if not re.fullmatch(r"[A-Za-z0-9-]+", str(i)):
            raise UsageError(f"--gpus: {i!r} is not a GPU id", "use 'all', a count, or ids such as 0,1")
    return [{"device_ids": [str(i) for i in ids], "capabilities": [["gpu"]]}]


def _braces(text: str) -> str:
    """``text`` safe from the spawner's ``str.format`` expansion of {username} and friends."""
    return text.replace("{", "{{").replace("}", "}}")


def settings(profile: HubProfile, spawner: str) -> list[tuple[str, Any]]:
    """``(Class.trait, value)`` pairs for ``spawner`` (``docker``, ``swarm`` or ``kube``)."""
    if spawner not in SPAWNERS:
        raise UsageError(f"--spawner {spawner!r}: expected one of {', '.join(SPAWNERS)}")
    cls = _SPAWNER_CLASS[spawner].rsplit(".", 1)[1]
    url = "/lab/tree/" + quote(profile.notebook)
    out: list[tuple[str, Any]] = [
        ("JupyterHub.spawner_class", _SPAWNER_CLASS[spawner]),
        (f"{cls}.image", profile.image),
        (f"{cls}.cmd", ["jupyterhub-singleuser"]),
        (f"{cls}.notebook_dir", _braces(WORKDIR)),
        (f"{cls}.default_url", _braces(url)),
    ]
    if spawner == "kube":
        out += [(f"{cls}.image_pull_policy", "IfNotPresent"), (f"{cls}.working_dir", WORKDIR)]
        if profile.pull_secrets:
            out.append((f"{cls}.image_pull_secrets", list(profile.pull_secrets)))
        if profile.mem_bytes is not None:
            # Requests equal to limits: a notebook's kernel gets the memory it was sized for.
            out += [(f"{cls}.mem_guarantee", profile.mem_bytes), (f"{cls}.mem_limit", profile.mem_bytes)]
        if profile.cpus is not None:
            out += [(f"{cls}.cpu_guarantee", profile.cpus), (f"{cls}.cpu_limit", profile.cpus)]
        if (count := gpu_count(profile.gpus, spawner)) is not None:
            out += [(f"{cls}.extra_resource_limits", {"nvidia.com/gpu": str(count)}),
                    (f"{cls}.extra_resource_guarantees", {"nvidia.com/gpu": str(count)})]
        return out
    if spawner == "docker":
        out.append((f"{cls}.pull_policy", "ifnotpresent"))  # SwarmSpawner's own default, skip, is right
    if profile.mem_bytes is not None:
        out.append((f"{cls}.mem_limit", profile.mem_bytes))
    if profile.cpus is not None:
        out.append((f"{cls}.cpu_limit", profile.cpus))
    if spawner == "docker":
        out.append((f"{cls}.remove", True))
        if profile.gpus not in (None, 0, "0"):
            out.append((f"{cls}.extra_host_config", {"device_requests": _docker_device_requests(profile.gpus)}))
    elif (count := gpu_count(profile.gpus, spawner)) is not None:
        # Swarm schedules GPUs as generic resources the nodes advertise (dockerd --node-generic-resource).
        out.append((f"{cls}.extra_resources_spec", {"generic_resources": {"NVIDIA-GPU": count}}))
    return out


def render_config(profile: HubProfile, spawner: str, *, notebook_name: str = "") -> str:
    """A ``jupyterhub_config.py`` fragment: comments, then one ``c.X.y = <literal>`` per setting."""
    lines = [f"# envkit: {spawner} spawner profile for {(notebook_name or profile.notebook)!r}",
             f"# image: the notebook's hub image ({profile.jupyterhub or 'jupyterhub-singleuser'}), pinned by digest"]
    if spawner in ("docker", "swarm"):
        lines.append("# registry credentials: the engine's ('docker login' on the hub's host); "
                     + ("pull secrets are a Kubernetes setting" if profile.pull_secrets else "none needed here"))
    if spawner == "swarm":
        lines.append("# set c.SwarmSpawner.network_name to the overlay network the hub is attached to")
    for key, value in settings(profile, spawner):
        if spawner == "docker" and key == "JupyterHub.spawner_class":
            lines.append(DOCKER_DIGEST_PULL)
            continue
        lines.append(f"c.{key} = {value!r}")
    return "\n".join(lines) + "\n"


__all__ = ["DOCKER_DIGEST_PULL", "HubProfile", "SPAWNERS", "gpu_count", "memory_bytes", "render_config", "settings"]
