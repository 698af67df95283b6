"""Which release of a package installs on a Python, and moving past an era's cut-off to it (pure).

An era's upload-date cut-off (``envkit.era``) can leave a package with nothing that installs on
the image's Python: numpy 1.16 (2019) has no wheel for Python 3.11. ``move_forward`` finds the
earliest later release that installs and gives that package its own cut-off; ``uv_arguments``
turns the era and the moves into uv's ``--exclude-newer`` / ``--exclude-newer-package``.
``era_floor`` is the other direction: no release older than the one current a year before the
era, so a package uv would backtrack years for (a dependency with no wheel) moves forward instead.
Release data comes from the index through ``envkit.era_sources.fetch_releases``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .era import Era


@dataclass(frozen=True, kw_only=True)
class Release:
    """One release on the index: its files' names and upload times, and its requires-python."""

    version: str
    files: tuple[tuple[str, datetime], ...]  # (filename, upload time)
    requires_python: str | None = None
    yanked: bool = False

    @property
    def uploaded(self) -> datetime:
        return min(t for _, t in self.files)


@dataclass(frozen=True, kw_only=True)
class ForwardMove:
    """A package resolved later than the era: the release chosen and the cut-off that admits it."""

    distribution: str
    version: str
    exclude_newer: str
    reason: str

    def uv_value(self) -> str:
        """``--exclude-newer-package`` takes ``NAME=TIMESTAMP``."""
        return f"{self.distribution}={self.exclude_newer}"


# How far before the era a notebook's package may go back: its author's environment, not the
# resolver's. A year covers a machine set up a while before the notebook was written (releases
# of most packages come every few months); uv's backtracking went five years (ipywidgets 5.2.2,
# 2016, for a 2021 era).
FLOOR_WINDOW = timedelta(days=365)


@dataclass(frozen=True, kw_only=True)
class Floor:
    """The oldest release an era lets a top-level requirement resolve to, and when it was current."""

    distribution: str
    version: str
    uploaded: date

    def requirement(self) -> str:
        """The lower bound uv is given: ``ipywidgets>=7.5.1``."""
        return f"{self.distribution}>={self.version}"


def installs_on(release: Release, python: str) -> bool:
    """True when ``release`` has something pip/uv installs on CPython ``python`` (X.Y) on Linux x86-64.

    A wheel for that Python (``cpXY``, ``abi3`` from an older 3.x, or pure ``py3``) counts; an
    sdist counts only for a project that ships no binary wheels in this release (pure Python,
    builds anywhere). A release with binary wheels for other Pythons only would have to compile
    from source: that is what sinks old pins, so it does not count.
    """
    if release.yanked or not _python_allowed(release.requires_python, python):
        return False
    major, minor = (int(p) for p in python.split(".")[:2])
    wheels = [name for name, _ in release.files if name.endswith(".whl")]
    if not wheels:
        return any(name.endswith((".tar.gz", ".zip", ".tar.bz2")) for name, _ in release.files)
    for name in wheels:
        parts = name[:-4].split("-")
        if len(parts) < 5:
            continue
        pythons, abis, platforms = parts[-3].split("."), parts[-2].split("."), parts[-1].split(".")
        if not any(p == "any" or ("linux" in p and "x86_64" in p) for p in platforms):
            continue
        for tag in pythons:
            if tag in {f"py{major}", "py2.py3", f"py{major}{minor}"} and "none" in abis:
                return True
            if tag == f"cp{major}{minor}":
                return True
            if tag.startswith(f"cp{major}") and "abi3" in abis and _minor(tag) <= minor:
                return True
    return False


def _minor(tag: str) -> int:
    try:
        return int(tag[3:])
    except ValueError:
        return 99


def _python_allowed(requires: str | None, python: str) -> bool:
    if not requires:
        return True
    try:
        return SpecifierSet(requires).contains(f"{python}.0", prereleases=True)
    except InvalidSpecifier:
        return True  # old uploads carry malformed metadata; the installer ignores it too


def _final(release: Release) -> Version | None:
    try:
        version = Version(release.version)
    except InvalidVersion:
        return None
    return None if version.is_prerelease or version.is_devrelease else version


def move_forward(distribution: str, releases: Iterable[Release], *, cutoff: datetime, python: str,
                 specifier: str = "") -> ForwardMove | None:
    """The per-package exception to the era's cut-off, or None when the era's choice installs.

    The resolver takes the newest final release uploaded by ``cutoff`` that allows ``python``
    (and matches ``specifier``). When that one does not install on ``python`` (no wheel for it)
    the package moves forward to the earliest later release that does; the cut-off for the
    package becomes the upload time of that release's newest file.
    """
    allowed = SpecifierSet(specifier) if specifier else SpecifierSet()
    usable = [(v, r) for r in releases if (v := _final(r)) is not None and not r.yanked and r.files
              and allowed.contains(v)]
    usable.sort(key=lambda pair: pair[0])
    before = [(v, r) for v, r in usable if r.uploaded <= cutoff and _python_allowed(r.requires_python, python)]
    if before and installs_on(before[-1][1], python):
        return None
    later = [(v, r) for v, r in usable if r.uploaded > cutoff and installs_on(r, python)]
    if not later:
        return None  # nothing better exists: leave the era's choice and let the build say why
    version, release = min(later, key=lambda pair: (pair[1].uploaded, pair[0]))
    newest_file = max(t for _, t in release.files)
    stamp = (newest_file + timedelta(seconds=1)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if before:
        had = f"{before[-1][0]} has no wheel for Python {python}"
    elif specifier:
        had = f"nothing by then matches {specifier} on Python {python}"
    else:
        had = f"no release by then installs on Python {python}"
    return ForwardMove(distribution=canonicalize_name(distribution), version=str(version), exclude_newer=stamp,
                       reason=f"{had}; {version} ({release.uploaded.date()}) is the first that does")


def era_floor(distribution: str, releases: Iterable[Release], *, cutoff: datetime, python: str,
              window: timedelta = FLOOR_WINDOW) -> Floor | None:
    """The release current ``window`` before ``cutoff``: the newest final one uploaded by then that
    allows ``python``, what a resolver would have taken that day. None when there was none (a
    package younger than the window has no floor).
    """
    then = cutoff - window
    current = [(v, r) for r in releases if (v := _final(r)) is not None and not r.yanked and r.files
               and r.uploaded <= then and _python_allowed(r.requires_python, python)]
    if not current:
        return None
    version, release = max(current, key=lambda pair: pair[0])
    return Floor(distribution=canonicalize_name(distribution), version=str(version), uploaded=release.uploaded.date())


def below_floor(floors: Iterable[Floor], pins: Iterable[str]) -> list[tuple[Floor, str]]:
    """The floors a resolution went under, each with the version it took (``name==version`` pins)."""
    taken: dict[str, Version] = {}
    for line in pins:
        name, _, version = line.partition("==")
        try:
            taken[canonicalize_name(name.strip())] = Version(version.split(";")[0].strip())
        except InvalidVersion:
            continue
    return [(f, str(taken[f.distribution])) for f in floors
            if f.distribution in taken and taken[f.distribution] < Version(f.version)]


def uv_arguments(era: Era, moves: Iterable[ForwardMove], *, current: Iterable[str] = (),
                 now: datetime | None = None) -> list[str]:
    """The uv options for an era: ``--exclude-newer`` and one ``--exclude-newer-package`` per move.

    ``current`` names packages that stay current whatever the era (the kernel's own, ipykernel):
    their cut-off is ``now``.

    uv 0.13.9, the version envkit installs in images, has both (``uv pip compile --help``); an
    empty list means resolve as of now.
    """
    stamp = era.exclude_newer()
    if stamp is None:
        return []
    args = ["--exclude-newer", stamp]
    for move in moves:
        args += ["--exclude-newer-package", move.uv_value()]
    if now is not None:
        stamp_now = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name in current:
            args += ["--exclude-newer-package", f"{canonicalize_name(name)}={stamp_now}"]
    return args


def resolution_line(era: Era, moves: Iterable[ForwardMove], floored: Iterable[tuple[Floor, str]] = ()) -> str:
    """The one line a build shows: ``resolved as of 2019-03-02: last git commit touching the
    notebook; moved forward: pandas 1.5.0 (first with wheels for Python 3.11)``, and the floors
    that kept uv from going back: ``; floor: ipywidgets>=7.5.1 (current a year earlier; uv had taken 5.2.2)``."""
    line = "resolved " + era.describe()
    moved = [f"{m.distribution} {m.version} ({m.reason.rsplit('; ', 1)[0]})" for m in moves]
    held = [f"{f.requirement()} (current a year earlier; uv had taken {was})" for f, was in floored]
    return line + ("; moved forward: " + ", ".join(moved) if moved else "") + ("; floor: " + ", ".join(held) if held else "")


def unhonourable_pin(specifier: str, releases: Iterable[Release], python: str) -> str | None:
    """Why an exact pin (``==1.1.5``) cannot be installed on ``python``, or None when it can.

    Only ``==`` pins are judged, and only when the index has a release they match: a pin the
    index does not know is left to the build to report. A pin whose matching releases have no
    distribution for ``python`` (``installs_on``) cannot be honoured.
    """
    try:
        allowed = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    if not any(s.operator == "==" for s in allowed):
        return None
    matching = []
    for release in releases:
        try:
            if allowed.contains(Version(release.version), prereleases=True) and release.files:
                matching.append(release)
        except InvalidVersion:
            continue
    if not matching or any(installs_on(r, python) for r in matching):
        return None
    return f"{specifier}: no release it allows has a distribution for Python {python}"
