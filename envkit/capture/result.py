"""From needs to an ``EnvSpec``: mapping imports, combining sources, choosing the Python version.

Combination rule, per distribution: an explicit specifier (``%pip install``, a PEP 723 block)
beats a bare import; the first explicit one in notebook order wins, later different ones are
noted. A requirement is optional only when every place that needs it is guarded by
``try/except ImportError``. Where an install line names a variant of what an import maps to
(``opencv-python-headless`` for ``cv2``, ``tensorflow-cpu`` for ``tensorflow``), the explicit
variant is kept and the guess dropped.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..errors import PackageError
from ..spec import EnvSpec, Requirement, Source, Unresolved
from .mapping import Mapper, load_rules, system_packages_for
from .scan import Scan, SkippedCell

_INSTALLERS = {"pip", "uv"}
_MAX_SOURCES = 5
OLDEST_PYTHON = "3.10"  # envkit's own floor (requires-python >= 3.10); older ones are end-of-life  # where a requirement was seen: enough to find it, not a log of every cell


@dataclass(frozen=True, kw_only=True)
class CaptureResult:
    """What static capture found: the spec plus everything a user should know about it."""

    spec: EnvSpec
    notebooks: tuple[Path, ...] = ()
    skipped: tuple[SkippedCell, ...] = ()
    local_modules: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    modules: tuple[tuple[str, tuple[str, ...]], ...] = ()  # distribution -> imported modules

    @property
    def unresolved(self) -> tuple[Unresolved, ...]:
        return self.spec.unresolved

    def module_map(self) -> dict[str, tuple[str, ...]]:
        """Distribution → the module names the notebook imports from it (for live capture)."""
        return dict(self.modules)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` output: requirements (each with ``name``), python, unresolved, and more."""
        return {
            "python": self.spec.python,
            "requirements": [r.to_json() for r in self.spec.requirements],
            "unresolved": [u.to_json() for u in self.spec.unresolved],
            "system_packages": list(self.spec.system_packages),
            "skipped_cells": [{"notebook": s.notebook, "cell": s.cell, "reason": s.reason,
                               **({"file": s.file} if s.file else {})} for s in self.skipped],
            "local_modules": list(self.local_modules),
            "notes": list(self.notes),
            "notebooks": [str(p) for p in self.notebooks],
            "spec_digest": self.spec.digest(),
        }


def assemble(scan: Scan, *, mapper: Mapper | None = None) -> CaptureResult:
    """Map the scan's needs to distributions and build the spec."""
    mapper = mapper or Mapper()
    explicit: dict[str, Requirement] = {}
    guessed: dict[str, list[tuple[Source, bool]]] = {}
    sources: dict[str, list[Source]] = {}
    modules: dict[str, set[str]] = {}
    unresolved: dict[str, tuple[str, list[Source]]] = {}
    notes = list(scan.notes)
    for need in scan.needs:
        if need.kind in {"install", "pep723"}:
            try:
                req = Requirement.parse(need.value, sources=(need.source,))
            except PackageError as exc:  # a hand-typed line that is no requirement: a note, not a crash
                notes.append(f"cell {need.source.cell}: {exc}")
                continue
            if req.name in _INSTALLERS:  # "pip install -U pip" prepares the installer, not the notebook
                notes.append(f"cell {need.source.cell}: upgrades the installer ({req.name}); not a requirement")
                continue
            sources.setdefault(req.name, []).append(need.source)
            first = explicit.get(req.name)
            if first is None or (not first.specifier and not first.url):
                explicit[req.name] = req
            elif (req.specifier, req.url) != (first.specifier, first.url) and (req.specifier or req.url):
                notes.append(f"{req.name}: installed as {first.pep508()!r} and as {req.pep508()!r}; kept the first")
            continue
        if need.kind == "colab-install":  # a hint: the package, at the version the era resolves
            try:
                req = Requirement.parse(need.value, sources=(need.source,))
            except PackageError:
                continue
            if req.name not in _INSTALLERS and not req.url:
                guessed.setdefault(req.name, []).append((need.source, False))
                sources.setdefault(req.name, []).append(need.source)
                if req.specifier:
                    notes.append(f"cell {need.source.cell}: {need.value} is installed on Colab only; "
                                 f"a hint, not a pin")
            continue
        if need.kind == "runtime":  # a distribution already (runtime_needs.json names them)
            guessed.setdefault(need.value, []).append((need.source, True))
            sources.setdefault(need.value, []).append(need.source)
            continue
        if need.kind == "runtime-model":  # a spaCy model: a package of its own, not on the index
            model, _, hint = need.value.partition("\t")
            unresolved.setdefault(model, (hint or need.source.text, []))[1].append(need.source)
            continue
        mapped = mapper.map(need.value)
        if mapped.kind in {"dist"}:
            guessed.setdefault(mapped.name, []).append((need.source, need.optional))
            sources.setdefault(mapped.name, []).append(need.source)
            modules.setdefault(mapped.name, set()).add(need.value.split(".")[0])
        elif mapped.kind in {"platform", "kernel"}:
            notes.append(f"{need.value}: not a requirement ({mapped.reason})")
        elif mapped.kind == "unresolved":
            key = need.value.split(".")[0] if not _namespace(need.value) else need.value
            unresolved.setdefault(key, (mapped.reason, []))[1].append(need.source)

    variants = load_rules().get("variants", {})
    requirements = []
    for name, req in explicit.items():
        requirements.append(Requirement(
            name=name, specifier=req.specifier, extras=req.extras, marker=req.marker, url=req.url,
            sources=_dedupe(sources[name])))
    for name, seen in guessed.items():
        if name in explicit:
            continue
        if any(v in explicit for v in variants.get(name, [])):
            notes.append(f"{name}: an install line names a variant of it; kept that one")
            continue
        requirements.append(Requirement(name=name, optional=all(opt for _, opt in seen),
                                        sources=_dedupe(sources[name])))
    python = _python(scan, notes)
    spec = EnvSpec(
        python=python,
        requirements=tuple(requirements),
        system_packages=(*system_packages_for([r.name for r in requirements if not r.optional]),
                         *scan.system_packages),
        unresolved=tuple(Unresolved(module=k, reason=reason, sources=_dedupe(srcs))
                         for k, (reason, srcs) in unresolved.items()),
    )
    return CaptureResult(
        spec=spec, notebooks=tuple(scan.notebooks), skipped=tuple(scan.skipped),
        local_modules=tuple(sorted(scan.local)), notes=tuple(dict.fromkeys(notes)),
        modules=tuple(sorted((k, tuple(sorted(v))) for k, v in modules.items())),
    )


def _namespace(module: str) -> bool:
    return module.split(".")[0] in load_rules()["namespace_roots"]


def _dedupe(items: list[Source]) -> tuple[Source, ...]:
    return tuple(dict.fromkeys(items))[:_MAX_SOURCES]


def _python(scan: Scan, notes: list[str]) -> str:
    """Most common ``X.Y`` among the notebooks (highest on a tie), else this interpreter's."""
    counts = Counter(scan.pythons)
    if counts:
        python = max(counts, key=lambda v: (counts[v], _version_key(v)))
    else:
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if _version_key(python) < _version_key(OLDEST_PYTHON):
        # Python 2 or an end-of-life 3.x: current packages no longer install there.
        notes.append(f"the notebook was saved with Python {python}; using {OLDEST_PYTHON}, the oldest"
                     " Python envkit resolves for by default (a build without a chosen base image takes the"
                     " notebook's own, 3.8 or later, where the engine has its python:X.Y-slim)")
        python = OLDEST_PYTHON
    for requires in scan.requires_python:
        try:
            allowed = SpecifierSet(requires)
        except InvalidSpecifier:
            notes.append(f"requires-python {requires!r} is not a valid specifier; ignored")
            continue
        if not allowed.contains(f"{python}.0", prereleases=True):
            fitting = [f"3.{m}" for m in range(9, 15) if allowed.contains(f"3.{m}.0", prereleases=True)]
            if fitting:
                notes.append(f"python {python} does not satisfy requires-python {requires!r}; using {fitting[0]}")
                python = fitting[0]
    return python


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)
