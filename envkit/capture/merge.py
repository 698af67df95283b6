"""Merging what static capture read with what a live kernel has loaded.

The rule, per distribution, from weakest to strongest:

1. **A bare import** (``import pandas``) gives a requirement without a specifier: a guess.
2. **An explicit install specifier** (``%pip install "pandas>=2"``, a PEP 723 block) beats that
   guess: it is what the author asked for.
3. **A live version pins it**: when the running kernel has the distribution loaded, the
   requirement becomes ``==X.Y.Z`` with the version read from ``importlib.metadata``, whatever
   the specifier said, because that is the version the notebook actually ran with. A
   distribution installed from a URL, a local path or in editable mode (PEP 610) keeps its
   specifier and is flagged with ``direct`` (the URL) instead: an index cannot reproduce it.
   When the kernel loaded the module from a different distribution than static capture guessed
   (``cv2`` from ``opencv-python-headless``), the loaded one replaces the guess.
4. Requirements the kernel has not loaded (cells not run yet, optional imports) stay as static
   capture gave them; the Python version becomes the kernel's ``X.Y``.

``merge_stored`` applies the same rule between a fresh capture and the spec stored in the
notebook, so every build, run, kernel and launch follows the code without losing a pin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion

from ..spec import EnvSpec, Requirement, Source
from .live import LiveVersions


def merge_live(static: EnvSpec, live: LiveVersions) -> EnvSpec:
    """``static`` with live versions applied by the rule above."""
    merged: dict[str, Requirement] = {}
    for req in static.requirements:
        pin = live.pin_for(req.name)
        if pin is None:
            merged.setdefault(req.name, req)
            continue
        seen = Source(kind="live", text=f"{pin.name} {pin.version} loaded in the kernel"
                      + (f" from {pin.direct}" if pin.direct else ""))
        if pin.direct:
            new = replace(req, name=pin.name, direct=pin.direct, sources=(*req.sources, seen))
        else:
            new = replace(req, name=pin.name, specifier=f"=={pin.version}", url="", sources=(*req.sources, seen))
        if pin.name in merged:  # two guesses led to the same loaded distribution
            new = replace(new, sources=tuple(dict.fromkeys((*merged[pin.name].sources, *new.sources))))
        merged[pin.name] = new
    python = ".".join(live.python.split(".")[:2]) or static.python
    return static.with_changes(python=python, requirements=tuple(merged.values()))


# ---- a fresh capture against the record stored in the notebook -------------------------------

@dataclass(frozen=True, kw_only=True)
class Refreshed:
    """A fresh capture merged with the stored spec, and what changed, one short item each.

    ``changes`` reads ``+ attrs (cell 7)``, ``- requests``, ``~ pandas >=2 → >=3``,
    ``python 3.11 → 3.12``; empty when the stored spec still says everything.
    """

    spec: EnvSpec
    changes: tuple[str, ...] = ()

    def line(self) -> str:
        """The changes as one line for a person, or ``""`` when there are none."""
        return "the notebook changed: " + ", ".join(self.changes) if self.changes else ""


def merge_stored(stored: EnvSpec | None, fresh: EnvSpec, *, live: bool = False) -> Refreshed:
    """The spec a build uses: ``fresh`` (captured now) merged with ``stored`` (the notebook's record).

    The code decides what is needed: a requirement the code no longer names is dropped (unless it
    was added by hand: source ``manual``, or no source at all, as capture always records one), a
    new one is added. The record keeps what a person or
    a kernel decided: a stored pin or explicit specifier survives a fresh bare import (the merge
    rule: an explicit install beats a guess, a live version pins it), and a stored exact pin
    survives a fresh explicit specifier it still satisfies. A fresh live pin (``live``: captured
    in the kernel running the notebook) beats everything, and so does the kernel's Python.
    The stored base image and system packages are kept (system packages found now are added).
    """
    if stored is None:
        return Refreshed(spec=fresh)
    old = {r.name: r for r in stored.requirements}
    new = {r.name: r for r in fresh.requirements}
    merged: list[Requirement] = []
    changes: list[str] = []
    for name, req in new.items():
        before = old.get(name)
        if before is None:
            merged.append(req)
            changes.append(f"+ {_shown(req)}{_where(req)}")
            continue
        kept = _keep(before, req, live=live)
        merged.append(kept)
        if kept.identity() != before.identity():
            changes.append(f"~ {name} {_spec_text(before)} → {_spec_text(kept)}")
    for name, req in old.items():
        if name in new:
            continue
        if not req.sources or any(s.kind == "manual" for s in req.sources):
            merged.append(req)
        else:
            changes.append(f"- {name}")
    python = fresh.python if live else stored.python
    if python != stored.python:
        changes.append(f"python {stored.python} → {python}")
    system = tuple(sorted(set(stored.system_packages) | set(fresh.system_packages)))
    changes.extend(f"+ apt {p}" for p in system if p not in stored.system_packages)
    spec = stored.with_changes(python=python, requirements=tuple(merged), system_packages=system,
                               unresolved=fresh.unresolved)
    return Refreshed(spec=spec, changes=tuple(changes))


def _keep(before: Requirement, now: Requirement, *, live: bool) -> Requirement:
    """One requirement both specs name: the fresh one, with the stored decision where it still holds.

    Static capture never invents a specifier, so a stored one was decided (an install line, a
    kernel's version, a person): it beats a fresh bare import, and an exact stored pin stays
    while it satisfies a fresh explicit specifier.
    """
    if live and any(s.kind == "live" for s in now.sources):
        return now
    if not (before.specifier or before.url or before.direct):
        return now
    if not (now.specifier or now.url or now.direct):
        return _with_sources(before, now)
    if before.specifier.startswith("==") and not before.url and not before.direct:
        try:
            holds = SpecifierSet(now.specifier).contains(before.specifier.removeprefix("=="), prereleases=True)
        except InvalidVersion:  # a stored "==1.*" is not one version: the fresh specifier decides
            holds = False
        if holds and not now.url:
            return _with_sources(before, now)
    return now


def _with_sources(before: Requirement, now: Requirement) -> Requirement:
    """``before``'s decision with where the code uses it now (and the stored live source)."""
    kept = tuple(s for s in before.sources if s.kind == "live")
    return replace(before, sources=tuple(dict.fromkeys((*now.sources, *kept))))


def _spec_text(req: Requirement) -> str:
    return req.direct or (f"@ {req.url}" if req.url else req.specifier) or "(any version)"


def _shown(req: Requirement) -> str:
    return req.name + (req.specifier if req.specifier and not req.url else "")


def _where(req: Requirement) -> str:
    cell = next((s.cell for s in req.sources if s.cell is not None and not s.file), None)
    if cell is not None:
        return f" (cell {cell})"
    file = next((s.file for s in req.sources if s.file), None)
    return f" ({file})" if file else ""
