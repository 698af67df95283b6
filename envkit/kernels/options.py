"""How a container kernel runs: image, network, limits and GPUs, from a kernelspec's config."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import KernelError

NETWORKS = ("auto", "host", "bridge")


@dataclass(frozen=True, kw_only=True)
class KernelOptions:
    """The ``config`` of an ``envkit-docker`` kernel provisioner (``kernel.json``).

    ``mem_limit`` takes docker's forms (``"2g"``, bytes); ``cpus`` a float (1.5 CPUs);
    ``gpus`` ``"all"``, a count, or a list of device ids; ``network`` ``auto`` (host networking
    on Linux with a local engine, else ports published on 127.0.0.1), ``host`` or ``bridge``.
    Unset ``mem_limit`` and ``pids_limit`` get envkit's defaults (``envkit.privileges``; ``0``
    and ``-1`` lift them). ``user`` empty: never root (the caller's uid, or for a root caller the
    folder's owner or the image's user); ``"root"`` or ``"uid:gid"`` is an explicit choice.
    """

    image: str
    network: str = "auto"
    mem_limit: str | int | None = None
    pids_limit: int | None = None
    cpus: float | None = None
    gpus: str | int | list[str] | None = None
    cap_add: tuple[str, ...] = ()
    python: str = "python"
    home: str = "/home/envkit"
    user: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.image:
            raise KernelError("the envkit kernel has no image in its configuration",
                              "reinstall the kernelspec: 'envkit kernel install NOTEBOOK'")
        if self.network not in NETWORKS:
            raise KernelError(f"unknown kernel network {self.network!r}", f"use one of {', '.join(NETWORKS)}")
        if self.cpus is not None and self.cpus <= 0:
            raise KernelError(f"cpus must be positive, not {self.cpus}")
        object.__setattr__(self, "gpus", parse_gpus(self.gpus))
        if self.pids_limit is not None and (not isinstance(self.pids_limit, int) or self.pids_limit < -1):
            raise KernelError(f"pids_limit must be a whole number of processes (-1: no limit), not {self.pids_limit!r}")
        if self.user and not re.fullmatch(r"root|[0-9]+(:[0-9]+)?", self.user):
            raise KernelError(f"kernel option user {self.user!r} is not 'root' or uid[:gid]",
                              "leave it empty: envkit picks a non-root user")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KernelOptions:
        """Options from a kernelspec's provisioner config; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise KernelError(f"unknown envkit kernel option(s): {', '.join(unknown)}",
                              f"known options: {', '.join(sorted(known))}")
        data = dict(config)
        if "cap_add" in data:
            data["cap_add"] = tuple(data["cap_add"])
        if data.get("cpus") is not None:
            data["cpus"] = float(data["cpus"])
        if data.get("pids_limit") is not None and str(data["pids_limit"]).lstrip("-").isdigit():
            data["pids_limit"] = int(data["pids_limit"])
        return cls(**data)

    def to_config(self) -> dict[str, Any]:
        """The non-default options, as written into a kernelspec."""
        out: dict[str, Any] = {"image": self.image}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "image" and value not in (None, (), {}, f.default):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def host_config(self) -> dict[str, Any]:
        """Resource and GPU settings as plain ``engine.containers.create`` host-config data.

        A GPU request is a dict of ``DeviceRequest`` arguments, as ``docker run --gpus`` makes:
        ``all`` is ``count=-1``; the engine module builds docker-py's type from it.
        """
        out: dict[str, Any] = {}
        if self.mem_limit is not None:
            out["mem_limit"] = self.mem_limit
        if self.cpus is not None:
            out["nano_cpus"] = int(self.cpus * 1e9)
        if self.gpus is not None and self.gpus != 0:
            request: dict[str, Any] = {"capabilities": [["gpu"]]}
            if self.gpus == "all":
                request["count"] = -1
            elif isinstance(self.gpus, int) or str(self.gpus).isdigit():
                request["count"] = int(self.gpus)
            else:
                ids = self.gpus if isinstance(self.gpus, list) else str(self.gpus).split(",")
                request["device_ids"] = [str(i) for i in ids]
            out["device_requests"] = [request]
        return out


def parse_gpus(value: str | int | list[str] | tuple[str, ...] | None) -> str | int | list[str] | None:
    """``--gpus`` and the kernelspec's ``gpus`` in one form: None, ``"all"``, a count, or device ids.

    The one parser for every front end: ``"all"``; a count (``2``, ``"2"``; 0 means none);
    device ids as a list or comma-separated (``"0,2"``, ``"GPU-3a…"``).
    """
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool):
        raise KernelError(f"gpus must be 'all', a count or device ids, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise KernelError(f"gpus must be 'all', a count or device ids, not {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "all":
            return "all"
        if text.isdigit():
            return int(text) or None
        value = text.split(",")
    ids = [str(i).strip() for i in value if str(i).strip()]
    return ids or None
