"""Resolving a notebook's requirements as of its era, for a build (``envkit build/run --as-of``).

``era.choose_as_of`` decides (keep the record, now, infer, a date); this module gathers the era
(``era_sources.notebook_era``), resolves the requirements plus ipykernel on the host with uv for
the image's Python (``era_sources.resolve_as_of``), and returns the spec with its ``as_of`` date
and reason and a lock of source ``era`` that a build installs, resolving (``plan.plan_install``).
The build then reads the installed set back into the notebook's lock, so the next build keeps it.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508

from .era import AsOf, Era, choose_as_of, resolves_as_of_now
from .errors import PackageError, UsageError
from .events import Note, Progress, emit
from .releases import resolution_line, unhonourable_pin
from .spec import EnvSpec, Lock, Pin

KERNEL = "ipykernel"


def uv_command() -> str | None:
    """uv next to this Python (a venv's), else on PATH; None when there is none."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def pins_of(lines: tuple[str, ...]) -> tuple[Pin, ...]:
    """``name==version`` lines of a uv resolution as pins (options and other lines left out)."""
    pins = []
    for line in lines:
        try:
            req = PEP508(line)
        except InvalidRequirement:
            continue
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if exact and not req.url:
            pins.append(Pin(name=req.name, version=exact[0]))
    return tuple(pins)


def base_python(base: str) -> str | None:
    """The Python ``X.Y`` a base image runs, when the engine has the image and says; else None.

    envkit's own label, then ``PYTHON_VERSION`` (the ``python`` images), then where the image's
    ``python3`` links to (Debian's ``/usr/bin/python3`` → ``python3.11``). An image not pulled
    yet, or an engine that does not answer, leaves the choice to the spec's Python.
    """
    from .engine.images import inspect_image, link_target
    from .errors import EngineError, EngineUnavailable
    from .labels import LABEL

    try:
        info = inspect_image(base)
        if info is None:
            return None
        version = info.labels.get(f"{LABEL}.python", "") or info.env.get("PYTHON_VERSION", "")
        for link in ("/usr/local/bin/python3", "/usr/bin/python3"):
            if version:
                break
            target = link_target(base, link) or ""
            version = target.rsplit("python", 1)[-1] if target.startswith(("python3.", "/usr/bin/python3.")) else ""
    except (EngineError, EngineUnavailable):  # no engine (``envkit dockerfile`` needs none): the spec's
        return None
    found = re.match(r"^(\d+)\.(\d+)", version)
    return f"{found.group(1)}.{found.group(2)}" if found else None


def era_choice(option: str, *, recorded: bool, today: date | None = None) -> AsOf:
    """``era.choose_as_of`` for today, a bad ``--as-of`` value as a usage error."""
    try:
        return choose_as_of(option, recorded=recorded, today=today or datetime.now(timezone.utc).date())
    except ValueError as exc:
        raise UsageError(str(exc), "pass --as-of YYYY-MM-DD, auto or now") from exc


def honour_pins(spec: EnvSpec, *, progress: Progress | None = None,
                python: Callable[[], str] | None = None) -> EnvSpec:
    """``spec`` without the exact pins no distribution of which installs on its Python (``python()``,
    the image's, when given; asked only when there is a pin), each named in a warning: the era's
    (or today's) version of the package is resolved instead."""
    kept, dropped = [], []
    for req in spec.requirements:
        if "==" not in req.specifier or req.url or req.direct:
            kept.append(req)
            continue
        from .era_sources import fetch_releases

        try:
            why = unhonourable_pin(req.specifier, fetch_releases(req.name), python() if python else spec.python)
        except PackageError:
            why = None  # the index did not answer: leave the pin to the build
        if why is None:
            kept.append(req)
        else:
            dropped.append(req.name)
            kept.append(replace(req, specifier=""))
            emit(progress, Note(text=f"{req.name}{why}; resolving the era's version instead", level="warning"))
    return spec.with_changes(requirements=tuple(kept)) if dropped else spec


def era_resolve(path: Path, spec: EnvSpec, choice: AsOf, *, progress: Progress | None = None,
                today: date | None = None, base: str = "") -> tuple[EnvSpec, Lock | None]:
    """``spec`` as of the era ``choice`` names, with the lock that pins it; ``(spec, None)`` for now.

    The resolution is for the Python the image will run: the base image's (``base_python``)
    when ``base`` names one the engine has, else the spec's (``python:X.Y-slim``). Wheels for
    the notebook's own Python are no use in an image with another one: the build would compile
    their sources and fail.

    An inferred era that cannot be resolved (no uv, no index, nothing installs) falls back to
    today's resolution with a warning; a date the user gave is an error instead.
    """
    if choice.mode == "keep":
        return spec, None
    # the image's Python, asked of the engine only when something is resolved
    python = cache(lambda: (base_python(base) if base else None) or spec.python)
    spec = honour_pins(spec, progress=progress, python=python)
    if choice.mode == "now":
        return spec, None
    today = today or datetime.now(timezone.utc).date()
    if choice.mode == "date":
        era = Era(when=choice.when, reason="--as-of")
    else:
        from .era_sources import notebook_era

        era = notebook_era(path, today=today)
    if era.when is None or resolves_as_of_now(era, inferred=choice.mode == "infer", today=today):
        return spec, None  # nothing old about it: today's resolution, said nowhere (it is the usual)
    if any(r.url or r.direct for r in spec.requirements):
        emit(progress, Note(text=f"resolved as of now, not {era.when}: the notebook installs from URLs",
                            level="warning"))
        return spec, None
    requirements = [r.pep508() for r in spec.requirements]
    if spec.requirement(KERNEL) is None:
        requirements.append(KERNEL)
    try:
        uv = uv_command()
        if uv is None:
            raise PackageError("uv is not installed", "pip install uv")
        from .era_sources import resolve_as_of

        resolution = resolve_as_of(requirements, era, python(), uv=uv)
    except PackageError as exc:
        if choice.mode == "date":
            raise UsageError(f"--as-of {era.when}: {exc.message}", exc.hint) from exc
        emit(progress, Note(text=f"resolved as of now, not {era.when} ({era.reason}): {exc.message.splitlines()[0]}",
                            level="warning"))
        return spec, None
    spec = spec.with_changes(as_of=era.when.isoformat(), as_of_reason=era.reason[:300])
    lock = Lock(spec_digest=spec.digest(), python=python(), packages=pins_of(resolution.pins), source="era")
    emit(progress, Note(text=resolution_line(era, resolution.moves, resolution.floored)))
    return spec, lock
