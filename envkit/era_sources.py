"""The I/O behind ``envkit.era`` and ``envkit.releases``: git history, file times, and release data from the package index.

``era.py`` decides; this module only gathers. The index is read through the host's pip settings
(``settings.pip_settings``: index URL and CA bundle), with the JSON form of the simple API
(PEP 691, upload times from PEP 700), the same data uv uses for ``--exclude-newer``.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from .era import Era, NotebookClues, exclude_newer, infer_era, read_clues
from .errors import PackageError
from .releases import Floor, ForwardMove, Release, below_floor, era_floor, move_forward, uv_arguments
from .settings import PipSettings, pip_settings

_ACCEPT = "application/vnd.pypi.simple.v1+json"
KERNEL_PACKAGES = ("ipykernel",)  # the kernel stays current whatever the notebook's era
# Kernel packages (current) that call into a notebook library (of the era) without declaring
# which versions they work with: the bound they need when the notebook needs that library.
# matplotlib-inline 0.2 calls RcParams._get, new in matplotlib 3.7: with an era's matplotlib
# every plot failed ("'RcParams' object has no attribute '_get'"); 0.1.7 works with all of 3.x.
# (Resolving it as of the era instead fails before 2021: it did not exist, and uv then takes
# an ipykernel from 2015 that predates it.)
ERA_BOUNDS = {"matplotlib": ("matplotlib-inline<0.2",)}
_TIMEOUT = 30


def git_commit_date(path: Path) -> date | None:
    """The date of the last commit that touched ``path`` (``git log -1 --format=%cI``), if any."""
    try:
        # Read only: a repository another user owns (a root caller's, a shared checkout) is
        # read as well; git refuses it otherwise ("dubious ownership").
        proc = subprocess.run(["git", "-c", "safe.directory=*", "log", "-1", "--format=%cI", "--", path.name],
                              cwd=path.parent,
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = proc.stdout.strip()
    if proc.returncode != 0 or not text:
        return None  # not a repository, or the file was never committed
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc).date()
    except ValueError:
        return None


def file_date(path: Path) -> date | None:
    """The file's modification date (UTC)."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).date()
    except OSError:
        return None


def notebook_era(path: Path, *, settings: PipSettings | None = None, date_versions: bool = True,
                 today: date | None = None) -> Era:
    """Infer ``path``'s era: read it, ask git and the file system, date printed versions on the index.

    An index that cannot be reached only loses the printed-version evidence (the other kinds
    still decide); ``date_versions=False`` skips the index altogether.
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        from .errors import NotebookError

        raise NotebookError(f"{path}: cannot read the notebook ({exc})") from exc
    clues: NotebookClues = read_clues(nb)
    dates: dict[str, dict[str, date]] = {}
    if date_versions and clues.versions:
        for dist in sorted({v.distribution for v in clues.versions}):
            try:
                dates[canonicalize_name(dist)] = release_dates(fetch_releases(dist, settings=settings))
            except PackageError:
                continue
    return infer_era(clues, release_dates=dates, git=git_commit_date(path), mtime=file_date(path),
                     today=today or datetime.now(timezone.utc).date())


def release_dates(releases: Iterable[Release]) -> dict[str, date]:
    """Version → the date its first file was uploaded."""
    return {r.version: r.uploaded.date() for r in releases if r.files}


def index_url(settings: PipSettings) -> str:
    """The host's index (pip's configured one, else pip's default)."""
    if settings.index_url:
        return settings.index_url.rstrip("/")
    from pip._internal.models.index import PyPI  # pip's default index, whatever it is named

    return PyPI.simple_url.rstrip("/")


def fetch_releases(distribution: str, *, settings: PipSettings | None = None) -> list[Release]:
    """Every release of ``distribution`` on the host's index, with file names and upload times."""
    settings = settings or pip_settings()
    name = canonicalize_name(distribution)
    url = f"{index_url(settings)}/{name}/"
    context = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
    request = urllib.request.Request(url, headers={"Accept": _ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT, context=context) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PackageError(f"{distribution}: cannot read its releases from the index ({exc})",
                           "check pip's index settings (pip config list) and PIP_CERT") from exc
    return parse_simple_json(name, data)


def parse_simple_json(name: str, data: dict) -> list[Release]:
    """Releases from a PEP 691 project page; files without an upload time are left out."""
    files: dict[str, list[tuple[str, datetime]]] = {}
    requires: dict[str, str | None] = {}
    yanked: dict[str, bool] = {}
    for item in data.get("files") or []:
        filename = item.get("filename", "")
        version = _version_of(filename)
        stamp = item.get("upload-time")
        if version is None or not stamp:
            continue
        try:
            uploaded = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        files.setdefault(version, []).append((filename, uploaded))
        requires.setdefault(version, item.get("requires-python") or None)
        yanked[version] = yanked.get(version, True) and bool(item.get("yanked"))
    return [Release(version=v, files=tuple(f), requires_python=requires[v], yanked=yanked[v])
            for v, f in files.items()]


def _version_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, ValueError):
        return None
    return None


# --- resolving as of an era with uv ----------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class EraResolution:
    """A uv resolution as of an era: the pins, the per-package moves, and the options that made it."""

    pins: tuple[str, ...]
    moves: tuple[ForwardMove, ...]
    arguments: tuple[str, ...]
    cutoff: str | None
    floored: tuple[tuple[Floor, str], ...] = ()  # floors the first resolution went under, with what it took


def era_bounds(requirements: Iterable[str]) -> list[str]:
    """The bounds on the kernel's current packages that ``requirements`` call for (``ERA_BOUNDS``)."""
    names = []
    for line in requirements:
        found = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if found:
            names.append(canonicalize_name(found.group(1)))
    return [bound for name in dict.fromkeys(names) for bound in ERA_BOUNDS.get(name, ())]


def resolve_as_of(requirements: Iterable[str], era: Era, python: str, *, uv: str = "uv",
                  settings: PipSettings | None = None, attempts: int = 30,
                  current: Iterable[str] = KERNEL_PACKAGES) -> EraResolution:
    """``uv pip compile`` the requirements as of ``era`` for ``python``, moving packages forward.

    Each round resolves with wheels only (an sdist of an old release is what fails to build);
    a package uv reports as having no usable wheel, or too old for what a moved package depends
    on, moves forward (``releases.move_forward``) and the round repeats. When no package can move,
    the era's cut-off itself moves to the newest move (the image's Python is younger than the
    notebook's world). The ``current`` packages (the kernel's) and everything they depend on
    resolve as of now. Raises ``PackageError`` with uv's last lines when nothing resolves.

    uv can also succeed by going back years instead (a dependency of the era's release has no
    wheel, an old release had no such dependency): when a top-level requirement without a
    version of its own resolved below its floor (``releases.era_floor``), it resolves again with
    every floor as a lower bound, so the blocking dependency moves forward instead.
    """
    settings = settings or pip_settings()
    top = list(requirements)
    reqs = list(top)
    current = _closure(uv, [canonicalize_name(c) for c in current], python, settings) if era.when else []
    reqs += era_bounds(reqs) if era.when else []
    releases: dict[str, list[Release]] = {}
    resolution = _resolve_rounds(reqs, era, python, uv=uv, settings=settings, attempts=attempts,
                                 current=current, releases=releases)
    floors = _floors(top, era, python, settings=settings, skip=current, releases=releases)
    went_under = below_floor(floors, resolution.pins)
    if not went_under:
        return resolution
    try:
        # Past a floor the next versions are often the era's prereleases (ipywidgets 8.0.0a4 for a
        # 2021 era), which the notebook never had: only the ones a requirement asks for explicitly.
        floored = _resolve_rounds(reqs + [f.requirement() for f in floors], era, python, uv=uv, settings=settings,
                                  attempts=attempts, current=current, releases=releases,
                                  extra=["--prerelease", "explicit"])
    except PackageError:
        return resolution  # the floors cannot all hold: the resolution uv found stands
    return replace(floored, floored=tuple(went_under))


def _floors(requirements: Iterable[str], era: Era, python: str, *, settings: PipSettings, skip: Iterable[str],
            releases: dict[str, list[Release]]) -> list[Floor]:
    """The floor of each top-level requirement that names no version (the notebook's own pins and
    bounds are its word) and is not the kernel's; an index that does not answer gives no floor."""
    stamp = era.exclude_newer()
    if stamp is None:
        return []
    cutoff = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    skipped = {canonicalize_name(s) for s in skip}
    floors = []
    for line in requirements:
        try:
            req = PEP508(line)
        except InvalidRequirement:
            continue
        key = canonicalize_name(req.name)
        if req.specifier or req.url or key in skipped:
            continue
        try:
            if key not in releases:
                releases[key] = fetch_releases(key, settings=settings)
        except PackageError:
            continue
        floor = era_floor(key, releases[key], cutoff=cutoff, python=python)
        if floor is not None:
            floors.append(floor)
    return floors


def _resolve_rounds(reqs: list[str], era: Era, python: str, *, uv: str, settings: PipSettings, attempts: int,
                    current: list[str], releases: dict[str, list[Release]],
                    extra: Iterable[str] = ()) -> EraResolution:
    """The rounds of ``resolve_as_of``: compile, move forward what uv blames, compile again."""
    moves: dict[str, ForwardMove] = {}
    now = datetime.now(timezone.utc)
    cutoff = era.exclude_newer()
    last = ""
    for _ in range(attempts):
        args = uv_arguments(era, moves.values(), current=[c for c in current if c not in moves], now=now)
        if args and cutoff:
            args[1] = cutoff  # the era's, or the newest move's when nothing else could move
        proc = _uv_compile(uv, reqs, [*args, *extra], python, settings)
        if proc.returncode == 0:
            pins = tuple(line.strip() for line in proc.stdout.splitlines()
                         if line.strip() and not line.lstrip().startswith("#"))
            return EraResolution(pins=pins, moves=tuple(moves.values()), arguments=(*args, *extra),
                                 cutoff=args[1] if args else None)
        last = proc.stderr
        moved = False
        stamp = datetime.fromisoformat((args[1] if args else exclude_newer(date.today())).replace("Z", "+00:00"))
        for name, specifier in blocked_packages(proc.stderr):
            key = canonicalize_name(name)
            if key in moves and not specifier:
                continue
            if key not in releases:
                releases[key] = fetch_releases(key, settings=settings)
            move = move_forward(key, releases[key], cutoff=stamp, python=python, specifier=specifier)
            if move and moves.get(key) != move:
                moves[key], moved = move, True
        if not moved:
            newest = max((m.exclude_newer for m in moves.values()), default=None)
            if not newest or newest == (args[1] if args else None):
                break
            cutoff = newest
    tail = "\n".join(last.strip().splitlines()[-6:])
    raise PackageError(f"no resolution as of {era.when} for Python {python}:\n{tail}",
                       "pass --as-of now, or a later date")


def _closure(uv: str, names: list[str], python: str, settings: PipSettings) -> list[str]:
    """``names`` and every distribution they depend on today (one resolution, no cut-off)."""
    if not names:
        return []
    proc = _uv_compile(uv, names, [], python, settings)
    if proc.returncode != 0:
        return names
    return list(dict.fromkeys(names + [canonicalize_name(line.split("==")[0]) for line in proc.stdout.splitlines()
                                       if "==" in line and not line.lstrip().startswith("#")]))


_NO_WHEELS = re.compile(r"(?:all versions of |Because |and )([A-Za-z0-9][\w.-]*?)(?:[<>=!~]=?[\w.*]+)? "
                        r"(?:has|have) no usable wheels")
# uv's hints name the package in backticks: "Wheels are required for `scikit-learn`",
# "`threadpoolctl` was filtered by `exclude-newer`".
_HINTED = re.compile(r"(?:Wheels are required for|only found wheels for) `([^`]+)`|`([^`]+)` was filtered by `exclude-newer`")
_TOO_OLD = re.compile(r"only ([A-Za-z0-9][\w.-]*?)[<>=]=?[\w.]+ is available and [\w.-]+(?:[<>=!~]=?[\w.]+)? "
                      r"depends on ([A-Za-z0-9][\w.-]*?)((?:[<>=!~]=?[\w.*]+,?)+)")


def blocked_packages(message: str) -> list[tuple[str, str]]:
    """(package, specifier) pairs uv's resolver error blames: no usable wheel, or only too-old releases."""
    text = " ".join(message.split())
    found: list[tuple[str, str]] = [(m.group(1), "") for m in _NO_WHEELS.finditer(text)]
    found += [(m.group(1) or m.group(2), "") for m in _HINTED.finditer(text)]
    for m in _TOO_OLD.finditer(text):
        if canonicalize_name(m.group(1)) == canonicalize_name(m.group(2)):
            found.append((m.group(2), m.group(3).rstrip(",")))
    return list(dict.fromkeys(found))


def _uv_compile(uv: str, requirements: list[str], args: list[str], python: str,
                settings: PipSettings) -> subprocess.CompletedProcess[str]:
    command = [uv, "pip", "compile", "-", "--python-version", python, "--python-platform",
               "x86_64-manylinux2014", "--no-build", "--no-header", "--no-annotate", "--quiet", *args]
    if settings.index_url:
        command += ["--index-url", settings.index_url]
    for url in settings.extra_index_urls:
        command += ["--extra-index-url", url]
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1")
    if settings.ca_bundle:
        env["SSL_CERT_FILE"] = str(settings.ca_bundle)
    try:
        return subprocess.run(command, input="\n".join(requirements) + "\n", capture_output=True, text=True,
                              env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackageError(f"uv pip compile did not run ({exc})", "install uv (pip install uv)") from exc
