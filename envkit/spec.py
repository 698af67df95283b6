"""EnvSpec and Lock: what a notebook needs, and the exact set that satisfies it.

Frozen keyword-only dataclasses with canonical JSON and content digests. The spec digest covers
only what changes the image (Python version, requirements, system packages, base image), never
where a requirement was seen, so re-running cells, editing outputs or moving cells around does
not change it. No docker, IPython or jinja2 here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508
from packaging.utils import canonicalize_name

from .errors import NotebookError, PackageError

SCHEMA_VERSION = 1


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: the input of every digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_digest(data: Any) -> str:
    """``sha256:<hex>`` of ``data``'s canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(data).encode()).hexdigest()


def _drop_defaults(obj: Any) -> dict[str, Any]:
    """Fields of a dataclass, with empty/default values left out (keeps metadata short)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value in ((), "", None, False, {}, []):
            continue
        if isinstance(value, tuple):
            value = [v.to_json() if hasattr(v, "to_json") else v for v in value]
        out[f.name] = value
    return out


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a need was seen: ``cell`` is 1-based over all cells; ``file`` when not the notebook."""

    kind: str  # "import" | "install" | "load_ext" | "pep723" | "live" | "run" | "manual"
    text: str
    cell: int | None = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        return cls(**data)

    def describe(self) -> str:
        where = f"cell {self.cell}" if self.cell is not None else ""
        if self.file:
            where = f"{self.file}" + (f" ({where})" if where else "")
        return f"{where}: {self.text}" if where else self.text


@dataclass(frozen=True, kw_only=True)
class Requirement:
    """One distribution the notebook needs.

    ``name`` is PEP 503-normalised. ``direct`` holds a PEP 610 URL (editable, VCS or local
    install) that an index cannot reproduce; such requirements are flagged, never pinned.
    """

    name: str
    specifier: str = ""
    extras: tuple[str, ...] = ()
    marker: str = ""
    url: str = ""
    optional: bool = False
    direct: str = ""
    sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonicalize_name(self.name))
        # PEP 685: extras compare normalised, like names.
        object.__setattr__(self, "extras", tuple(sorted({canonicalize_name(e) for e in self.extras})))

    @classmethod
    def parse(cls, text: str, *, sources: tuple[Source, ...] = (), optional: bool = False) -> Requirement:
        """Parse a PEP 508 string (``pandas>=2``, ``xarray[io]; python_version>'3.9'``, URLs)."""
        try:
            req = PEP508(text)
        except InvalidRequirement as exc:
            raise PackageError(f"not a valid requirement: {text!r} ({exc})",
                               "write it as PEP 508, e.g. 'pandas>=2.0'") from exc
        return cls(
            name=req.name,
            specifier=str(req.specifier),
            extras=tuple(req.extras),
            marker=str(req.marker) if req.marker else "",
            url=req.url or "",
            optional=optional,
            sources=sources,
        )

    def pep508(self) -> str:
        """The requirement as a line of ``requirements.txt``."""
        text = self.name + (f"[{','.join(self.extras)}]" if self.extras else "")
        text += f" @ {self.url}" if self.url else self.specifier
        if self.marker:
            text += ("; " if not self.url else " ; ") + self.marker
        return text

    def identity(self) -> dict[str, Any]:
        """What this requirement changes in an image: everything but where it was seen."""
        return {"name": self.name, "specifier": self.specifier, "extras": list(self.extras),
                "marker": self.marker, "url": self.url, "direct": self.direct}

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Requirement:
        data = dict(data)
        data["extras"] = tuple(data.get("extras", ()))
        data["sources"] = tuple(Source.from_json(s) for s in data.get("sources", ()))
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class Unresolved:
    """An import that could not be mapped to a distribution; reported, never dropped."""

    module: str
    reason: str
    sources: tuple[Source, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Unresolved:
        data = dict(data)
        data["sources"] = tuple(Source.from_json(s) for s in data.get("sources", ()))
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class EnvSpec:
    """What a notebook needs: Python version (``"3.11"``), requirements, system packages."""

    python: str
    requirements: tuple[Requirement, ...] = ()
    system_packages: tuple[str, ...] = ()
    base_image: str = ""
    unresolved: tuple[Unresolved, ...] = ()

    def __post_init__(self) -> None:
        reqs = tuple(sorted(self.requirements, key=lambda r: (r.name, r.marker)))
        object.__setattr__(self, "requirements", reqs)
        object.__setattr__(self, "system_packages", tuple(sorted(set(self.system_packages))))
        object.__setattr__(self, "unresolved", tuple(sorted(self.unresolved, key=lambda u: u.module)))

    def digest(self) -> str:
        """Content digest over what changes the image; stable under cell order and outputs."""
        return sha256_digest({
            "python": self.python,
            "requirements": [r.identity() for r in self.requirements],
            "system_packages": list(self.system_packages),
            "base_image": self.base_image,
        })

    def requirement(self, name: str) -> Requirement | None:
        key = canonicalize_name(name)
        return next((r for r in self.requirements if r.name == key), None)

    def with_changes(self, **changes: Any) -> EnvSpec:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = _drop_defaults(self)
        data["python"] = self.python
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnvSpec:
        return cls(
            python=str(data["python"]),
            requirements=tuple(Requirement.from_json(r) for r in data.get("requirements", ())),
            system_packages=tuple(data.get("system_packages", ())),
            base_image=data.get("base_image", ""),
            unresolved=tuple(Unresolved.from_json(u) for u in data.get("unresolved", ())),
        )


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One exact distribution in a lock; ``hashes`` as ``sha256:<hex>`` when known."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()
    url: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonicalize_name(self.name))
        object.__setattr__(self, "hashes", tuple(sorted(set(self.hashes))))

    def line(self, *, with_hashes: bool = True) -> str:
        """A ``requirements.txt`` line: ``name==version`` with ``--hash`` options."""
        if self.url:
            return f"{self.name} @ {self.url}"
        text = f"{self.name}=={self.version}"
        if with_hashes and self.hashes:
            text += "".join(f" \\\n    --hash={h}" for h in self.hashes)
        return text

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pin:
        data = dict(data)
        data["hashes"] = tuple(data.get("hashes", ()))
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class Lock:
    """The exact package set that satisfies a spec, as installed in an image or a kernel.

    ``spec_digest`` names the spec it was made for; ``python`` is the full version
    (``3.11.7``); ``source`` says where the pins came from (``image`` or ``kernel``).
    """

    spec_digest: str
    python: str
    packages: tuple[Pin, ...] = ()
    source: str = "image"
    platform: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "packages", tuple(sorted(self.packages, key=lambda p: p.name)))

    def digest(self) -> str:
        return sha256_digest({"python": self.python,
                              "packages": [p.to_json() for p in self.packages]})

    def pin(self, name: str) -> Pin | None:
        key = canonicalize_name(name)
        return next((p for p in self.packages if p.name == key), None)

    def requirements_txt(self, *, with_hashes: bool = True) -> str:
        """The lock as a ``requirements.txt``; hashes only when every pin has them (pip's rule)."""
        hashed = with_hashes and bool(self.packages) and all(p.hashes for p in self.packages)
        return "".join(p.line(with_hashes=hashed) + "\n" for p in self.packages)

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lock:
        return cls(
            spec_digest=data["spec_digest"],
            python=str(data["python"]),
            packages=tuple(Pin.from_json(p) for p in data.get("packages", ())),
            source=data.get("source", "image"),
            platform=data.get("platform", ""),
        )


@dataclass(frozen=True, kw_only=True)
class ImageRecord:
    """The image built for a notebook: local ID, tags, and the registry digest after a push."""

    id: str
    tag: str = ""
    spec_digest: str = ""
    repo_digest: str = ""
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageRecord:
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class EnvkitMetadata:
    """Everything envkit keeps at ``metadata.envkit`` in a notebook."""

    spec: EnvSpec | None = None
    lock: Lock | None = None
    image: ImageRecord | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": SCHEMA_VERSION, **self.extra}
        if self.spec is not None:
            data["spec"] = self.spec.to_json()
            data["spec_digest"] = self.spec.digest()
        if self.lock is not None:
            data["lock"] = self.lock.to_json()
        if self.image is not None:
            data["image"] = self.image.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnvkitMetadata:
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise NotebookError(
                f"envkit metadata schema {schema!r} is not supported (this envkit reads {SCHEMA_VERSION})",
                "upgrade envkit, or run 'envkit capture --write' to store a fresh spec",
            )
        known = {"schema", "spec", "spec_digest", "lock", "image"}
        return cls(
            spec=EnvSpec.from_json(data["spec"]) if data.get("spec") else None,
            lock=Lock.from_json(data["lock"]) if data.get("lock") else None,
            image=ImageRecord.from_json(data["image"]) if data.get("image") else None,
            extra={k: v for k, v in data.items() if k not in known},
        )

    def replace(self, **changes: Any) -> EnvkitMetadata:
        return replace(self, **changes)
