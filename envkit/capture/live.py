"""Live capture: the exact versions a running kernel has loaded for the notebook's imports.

Only distributions that own a module the notebook uses *and* that is in ``sys.modules`` are
pinned (the static set intersected with what is loaded), so a kernel's unrelated packages never
leak in. Versions come from ``importlib.metadata``, never from ``__version__`` (which is often
missing, stale, or a different scheme). A distribution installed from a URL, a local path or in
editable mode (PEP 610 ``direct_url.json``) is flagged with that URL instead of a version: an
index cannot reproduce it.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from packaging.utils import canonicalize_name

from ..spec import EnvSpec, Lock, Pin


@dataclass(frozen=True, kw_only=True)
class LivePin:
    """A distribution loaded in the kernel: ``direct`` is its PEP 610 URL when not from an index.

    ``replaces`` names the static requirement it stands for when the names differ (static capture
    guessed ``opencv-python`` but the kernel loaded ``cv2`` from ``opencv-python-headless``).
    """

    name: str
    version: str
    modules: tuple[str, ...] = ()
    direct: str = ""
    editable: bool = False
    replaces: str = ""


@dataclass(frozen=True, kw_only=True)
class LiveVersions:
    """What the kernel has: its Python (``3.11.7``), pins, and requirements not loaded."""

    python: str
    pins: tuple[LivePin, ...] = ()
    not_loaded: tuple[str, ...] = ()

    def pin_for(self, name: str) -> LivePin | None:
        key = canonicalize_name(name)
        return next((p for p in self.pins if key in {p.name, p.replaces}), None)

    def to_lock(self, spec: EnvSpec) -> Lock:
        """The pins as a ``Lock`` for ``spec`` (``source="kernel"``); direct installs keep their URL."""
        return Lock(spec_digest=spec.digest(), python=self.python, source="kernel",
                    packages=tuple(Pin(name=p.name, version=p.version, url=p.direct) for p in self.pins))

    def to_json(self) -> dict[str, Any]:
        return {"python": self.python, "not_loaded": list(self.not_loaded),
                "pins": [{k: v for k, v in vars(p).items() if v not in ("", (), False)} for p in self.pins]}


def live_versions(spec: EnvSpec, modules: Mapping[str, object] | None = None, *,
                  imports: Mapping[str, tuple[str, ...]] | None = None) -> LiveVersions:
    """Pin the spec's requirements to the versions loaded in this interpreter.

    ``modules`` defaults to ``sys.modules``; ``imports`` maps each requirement to the module
    names the notebook imports from it (``CaptureResult.module_map()``); without it the
    distribution's own top-level modules are used.
    """
    loaded = sys.modules if modules is None else modules
    owners = metadata.packages_distributions()
    imports = imports or {}
    pins: dict[str, LivePin] = {}
    not_loaded = []
    for req in spec.requirements:
        # Editable installs often list no files, so the distribution's own name stands in.
        names = imports.get(req.name) or _top_levels(req.name, owners) or (req.name.replace("-", "_"),)
        present = sorted(m for m in names if m in loaded)
        owner = (_owner(present, owners) or req.name) if present else None
        if owner is None:
            not_loaded.append(req.name)
            continue
        try:
            dist = metadata.distribution(owner)
        except metadata.PackageNotFoundError:
            not_loaded.append(req.name)
            continue
        name = canonicalize_name(dist.metadata["Name"] or owner)
        direct, editable = _direct_url(dist)
        pins[name] = LivePin(name=name, version=dist.version, modules=tuple(present), direct=direct,
                             editable=editable, replaces=req.name if req.name != name else "")
    return LiveVersions(python=platform.python_version(), pins=tuple(pins.values()),
                        not_loaded=tuple(not_loaded))


def _top_levels(dist: str, owners: Mapping[str, list[str]]) -> tuple[str, ...]:
    return tuple(top for top, names in owners.items() if any(canonicalize_name(n) == dist for n in names))


def _owner(present: list[str], owners: Mapping[str, list[str]]) -> str | None:
    """The distribution providing the first loaded module (the only one, for non-namespaces)."""
    for module in present:
        names = owners.get(module.split(".")[0], [])
        if len(names) == 1:
            return names[0]
    return None


def _direct_url(dist: metadata.Distribution) -> tuple[str, bool]:
    """PEP 610: the URL a distribution was installed from when it did not come from an index."""
    text = dist.read_text("direct_url.json")
    if not text:
        return "", False
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return "", False
    url = str(data.get("url", ""))
    vcs = data.get("vcs_info") or {}
    if vcs.get("vcs") and vcs.get("commit_id"):
        url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    editable = bool((data.get("dir_info") or {}).get("editable"))
    return url, editable
