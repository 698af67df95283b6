"""EnvSpec and Lock: what a notebook needs, and the exact set that satisfies it.

Frozen keyword-only dataclasses with canonical JSON and content digests. The spec digest covers
only what changes the image (Python version, requirements, system packages, base image), never
where a requirement was seen, so re-running cells, editing outputs or moving cells around does
not change it. No docker, IPython or jinja2 here.

Everything read back with ``from_json`` is checked against its grammar (``envkit.validate``):
a damaged or hand-edited record raises ``validate.Invalid`` naming the field, e.g.
``spec.requirements[3].specifier``. The constructors check what reaches a Dockerfile or a
``requirements.txt`` (names, versions, specifiers, markers, URLs, hashes, Python version, base
image, system packages) too, so a spec built in code cannot inject an instruction either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508
from packaging.utils import canonicalize_name

from . import validate as v
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

    def __post_init__(self) -> None:
        # Shown in a terminal: a line of code never carries a control character out of capture.
        object.__setattr__(self, "text", v.comment(self.text))
        if self.file is not None:
            object.__setattr__(self, "file", v.comment(self.file))

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: Any, field: str = "source") -> Source:
        d = v.obj(data, field, allowed=("kind", "text", "cell", "file"))
        return cls(kind=v.text(d.get("kind"), f"{field}.kind", limit=40, empty=False),
                   text=v.text(d.get("text", ""), f"{field}.text", limit=10_000_000),
                   cell=None if d.get("cell") is None else v.integer(d["cell"], f"{field}.cell", minimum=1),
                   file=None if d.get("file") is None else v.text(d["file"], f"{field}.file"))

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
        object.__setattr__(self, "name", canonicalize_name(v.distribution_name(self.name, "name")))
        # PEP 685: extras compare normalised, like names.
        extras = {canonicalize_name(v.distribution_name(e, f"extras[{i}]")) for i, e in enumerate(self.extras)}
        object.__setattr__(self, "extras", tuple(sorted(extras)))
        v.specifier(self.specifier, "specifier")
        v.marker(self.marker, "marker")
        v.url(self.url, "url")
        v.text(self.direct, "direct")
        v.requirement(self.pep508(), "")  # one line of requirements.txt, exactly one requirement

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
    def from_json(cls, data: Any, field: str = "requirement") -> Requirement:
        d = v.obj(data, field, allowed=("name", "specifier", "extras", "marker", "url", "optional", "direct",
                                        "sources"))
        if "name" not in d:
            raise v.Invalid(f"{field}.name", "missing")
        extras = v.array(d.get("extras", []), f"{field}.extras", limit=100)
        sources = v.array(d.get("sources", []), f"{field}.sources")
        with v.within(field):
            return cls(name=v.distribution_name(d["name"], "name"),
                       specifier=v.text(d.get("specifier", ""), "specifier"),
                       extras=tuple(v.text(e, f"extras[{i}]") for i, e in enumerate(extras)),
                       marker=v.text(d.get("marker", ""), "marker"),
                       url=v.text(d.get("url", ""), "url"),
                       optional=v.boolean(d.get("optional", False), "optional"),
                       direct=v.text(d.get("direct", ""), "direct"),
                       sources=tuple(Source.from_json(s, f"sources[{i}]") for i, s in enumerate(sources)))


@dataclass(frozen=True, kw_only=True)
class Unresolved:
    """An import that could not be mapped to a distribution; reported, never dropped."""

    module: str
    reason: str
    sources: tuple[Source, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return _drop_defaults(self)

    @classmethod
    def from_json(cls, data: Any, field: str = "unresolved") -> Unresolved:
        d = v.obj(data, field, allowed=("module", "reason", "sources"))
        sources = v.array(d.get("sources", []), f"{field}.sources")
        return cls(module=v.text(d.get("module"), f"{field}.module", empty=False),
                   reason=v.text(d.get("reason", ""), f"{field}.reason", limit=100_000),
                   sources=tuple(Source.from_json(s, f"{field}.sources[{i}]") for i, s in enumerate(sources)))


@dataclass(frozen=True, kw_only=True)
class EnvSpec:
    """What a notebook needs: Python version (``"3.11"``), requirements, system packages."""

    python: str
    requirements: tuple[Requirement, ...] = ()
    system_packages: tuple[str, ...] = ()
    base_image: str = ""
    unresolved: tuple[Unresolved, ...] = ()
    # The date the requirements were resolved as of (ISO), and why that date (envkit.era).
    as_of: str = ""
    as_of_reason: str = ""

    def __post_init__(self) -> None:
        v.python_version(self.python, "python")
        if self.as_of:
            v.iso_date(self.as_of, "as_of")
        v.text(self.as_of_reason, "as_of_reason", limit=300)
        if self.base_image:
            v.image_reference(self.base_image, "base_image")
        for i, package in enumerate(self.system_packages):
            v.debian_package(package, f"system_packages[{i}]")
        reqs = tuple(sorted(self.requirements, key=lambda r: (r.name, r.marker)))
        object.__setattr__(self, "requirements", reqs)
        object.__setattr__(self, "system_packages", tuple(sorted(set(self.system_packages))))
        object.__setattr__(self, "unresolved", tuple(sorted(self.unresolved, key=lambda u: u.module)))

    def digest(self) -> str:
        """Content digest over what changes the image; stable under cell order and outputs."""
        fields: dict[str, Any] = {
            "python": self.python,
            "requirements": [r.identity() for r in self.requirements],
            "system_packages": list(self.system_packages),
            "base_image": self.base_image,
        }
        if self.as_of:  # only when set: the digests of specs made before eras stay as they were
            fields["as_of"] = self.as_of
        return sha256_digest(fields)

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
    def from_json(cls, data: Any, field: str = "spec") -> EnvSpec:
        d = v.obj(data, field, allowed=("python", "requirements", "system_packages", "base_image", "unresolved",
                                          "as_of", "as_of_reason"))
        if "python" not in d:
            raise v.Invalid(f"{field}.python", "missing")
        reqs = v.array(d.get("requirements", []), f"{field}.requirements")
        packages = v.array(d.get("system_packages", []), f"{field}.system_packages", limit=10_000)
        unresolved = v.array(d.get("unresolved", []), f"{field}.unresolved")
        with v.within(field):
            return cls(
                python=v.python_version(d["python"], "python"),
                requirements=tuple(Requirement.from_json(r, f"requirements[{i}]") for i, r in enumerate(reqs)),
                system_packages=tuple(v.debian_package(p, f"system_packages[{i}]") for i, p in enumerate(packages)),
                base_image=v.image_reference(d["base_image"], "base_image") if d.get("base_image", "") != "" else "",
                unresolved=tuple(Unresolved.from_json(u, f"unresolved[{i}]") for i, u in enumerate(unresolved)),
                as_of=v.iso_date(d["as_of"], "as_of") if d.get("as_of", "") != "" else "",
                as_of_reason=v.text(d.get("as_of_reason", ""), "as_of_reason", limit=300),
            )


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One exact distribution in a lock; ``hashes`` as ``sha256:<hex>`` when known."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()
    url: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonicalize_name(v.distribution_name(self.name, "name")))
        v.version(self.version, "version")
        for i, h in enumerate(self.hashes):
            v.sha256(h, f"hashes[{i}]")
        v.url(self.url, "url")
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
    def from_json(cls, data: Any, field: str = "pin") -> Pin:
        d = v.obj(data, field, allowed=("name", "version", "hashes", "url"))
        hashes = v.array(d.get("hashes", []), f"{field}.hashes", limit=1000)
        with v.within(field):
            return cls(name=v.distribution_name(d.get("name"), "name"), version=v.version(d.get("version"), "version"),
                       hashes=tuple(v.sha256(h, f"hashes[{i}]") for i, h in enumerate(hashes)),
                       url=v.url(d.get("url", ""), "url"))


@dataclass(frozen=True, kw_only=True)
class Lock:
    """The exact package set that satisfies a spec, as installed in an image or a kernel.

    ``spec_digest`` names the spec it was made for; ``python`` is the full version
    (``3.11.7``); ``source`` says where the pins came from (``image``, ``kernel``, or ``era``:
    resolved on the host as of the spec's ``as_of`` date, installed by a resolving build).
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
    def from_json(cls, data: Any, field: str = "lock") -> Lock:
        d = v.obj(data, field, allowed=("spec_digest", "python", "packages", "source", "platform"))
        packages = v.array(d.get("packages", []), f"{field}.packages")
        with v.within(field):
            return cls(
                spec_digest=v.sha256(d.get("spec_digest"), "spec_digest"),
                python=v.python_full_version(d.get("python"), "python"),
                packages=tuple(Pin.from_json(p, f"packages[{i}]") for i, p in enumerate(packages)),
                source=v.one_of(d.get("source", "image"), "source", ("image", "kernel", "era")),
                platform=v.platform(d.get("platform", ""), "platform"),
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
    def from_json(cls, data: Any, field: str = "image") -> ImageRecord:
        d = v.obj(data, field, allowed=("id", "tag", "spec_digest", "repo_digest", "size"))
        optional = {"tag": v.image_reference, "spec_digest": v.sha256, "repo_digest": v.image_reference}
        return cls(id=v.image_id(d.get("id"), f"{field}.id"),
                   **{k: check(d[k], f"{field}.{k}") for k, check in optional.items() if d.get(k, "") != ""},
                   size=v.integer(d.get("size", 0), f"{field}.size"))


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
    def from_json(cls, data: Any, field: str = "metadata.envkit") -> EnvkitMetadata:
        """Read ``metadata.envkit``; raises ``validate.Invalid`` naming the first damaged field."""
        v.obj(data, field)
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise NotebookError(
                f"envkit metadata schema {v.shown(schema)} is not supported (this envkit reads {SCHEMA_VERSION})",
                "upgrade envkit, or run 'envkit capture --write' to store a fresh spec",
            )
        known = {"schema", "spec", "spec_digest", "lock", "image"}
        if data.get("spec_digest") is not None:
            v.sha256(data["spec_digest"], f"{field}.spec_digest")
        spec, lock, image = (data.get(k) for k in ("spec", "lock", "image"))
        return cls(
            spec=EnvSpec.from_json(spec, f"{field}.spec") if spec not in (None, {}) else None,
            lock=Lock.from_json(lock, f"{field}.lock") if lock not in (None, {}) else None,
            image=ImageRecord.from_json(image, f"{field}.image") if image not in (None, {}) else None,
            extra={k: val for k, val in data.items() if k not in known},
        )

    def replace(self, **changes: Any) -> EnvkitMetadata:
        return replace(self, **changes)
