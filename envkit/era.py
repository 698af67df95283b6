"""The era a notebook belongs to, and how to resolve packages as of it (pure decisions).

An old notebook runs best with the packages of its time: ``read_csv(error_bad_lines=...)`` and
``load_boston`` are gone from today's pandas and scikit-learn. ``infer_era`` weighs what a
notebook says about when it ran, strongest first:

1. run timestamps in its metadata (papermill, Colab ``executionInfo``, JupyterLab's
   ``metadata.execution`` record, the ExecuteTime extension);
2. versions printed in its stored outputs (``pd.__version__``, ``numpy 1.16.2``) or named by
   its warnings (``deprecated in 0.22 and will be removed in 0.24``), dated by the index;
3. the last git commit that touched the file;
4. the Python it ran on (``language_info.version``, ``3.9.2``) when that line is past its end of
   life: about when that patch release was the newest of its line (``python_release_era``), a
   date the notebook carries inside it;
5. the file's modification time (weakest: a copy, a download or a checkout resets it).

and the Python it ran on (``language_info.version``, else ``python3.X/site-packages`` paths in
tracebacks). ``exclude_newer`` turns the date into uv's upload-date cut-off; per-package
exceptions where the image's Python has nothing installable by then are ``envkit.releases``'s.
The I/O that gathers the facts (git, file times, the index) lives in ``envkit.era_sources``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# Evidence kinds, strongest first; the reason string shown to the user comes from here.
KINDS = {
    "metadata": "run times stored in the notebook",
    "versions": "package versions in its stored outputs",
    "git": "last git commit touching the notebook",
    "python": "the Python it ran on",
    "mtime": "the file's modification time",
}
# First releases of each Python line (python.org); from 3.9 on PEP 602 puts one in every October.
_PYTHON_LINES = {(3, 4): date(2014, 3, 16), (3, 5): date(2015, 9, 13), (3, 6): date(2016, 12, 23),
                 (3, 7): date(2018, 6, 27), (3, 8): date(2019, 10, 14), (3, 9): date(2020, 10, 5),
                 (3, 10): date(2021, 10, 4), (3, 11): date(2022, 10, 24), (3, 12): date(2023, 10, 2),
                 (3, 13): date(2024, 10, 7)}
_PATCH_DAYS = 61  # bugfix releases of a line come about every two months
_LINE_YEARS = 5  # and its end of life comes five years after its first release (PEP 602)
# Import or display names printed in outputs → distribution names on the index.
_DISTRIBUTIONS = {"pd": "pandas", "np": "numpy", "sklearn": "scikit-learn", "mpl": "matplotlib",
                  "tf": "tensorflow", "sns": "seaborn", "scipy": "scipy", "torch": "torch",
                  "pandas": "pandas", "numpy": "numpy", "matplotlib": "matplotlib", "seaborn": "seaborn",
                  "scikit-learn": "scikit-learn", "tensorflow": "tensorflow", "keras": "keras",
                  "statsmodels": "statsmodels", "xgboost": "xgboost", "geopandas": "geopandas"}
_NAME = "|".join(sorted((re.escape(k) for k in _DISTRIBUTIONS), key=len, reverse=True))
_VERSION = r"(\d+\.\d+(?:\.\d+)?(?:(?:rc|a|b)\d+)?)"
# "pandas 0.23.4", "sklearn==0.20.1": three-part versions only ("numpy=42.0" is a tensor's repr)
_PRINTED = re.compile(rf"(?<![\w.-])({_NAME})\s*(?:==|:|\s)\s*'?v?(\d+\.\d+\.\d+(?:(?:rc|a|b)\d+)?)\b", re.I)
# "numpy version: 1.16", "pd.__version__ = 0.24.2": the word says it is a version
_NAMED = re.compile(rf"(?<![\w.-])({_NAME})(?:\.__version__|\s+version)\s*(?:[:=]=?|is)?\s*'?v?{_VERSION}\b", re.I)
_DUNDER = re.compile(r"\b(\w+)\.__version__\b")
_BARE = re.compile(rf"^\s*'?{_VERSION}'?\s*$")
_SITE = re.compile(r"python(\d)\.(\d+)/(?:site|dist)-packages/(\w+)")
_REMOVED = re.compile(rf"(?:removed|deprecated and will be removed) in (?:version )?{_VERSION}", re.I)


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """One hint about when the notebook ran: ``kind`` (a key of ``KINDS``), a date, and what said so."""

    kind: str
    when: date
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class PrintedVersion:
    """A package version the notebook's outputs show; ``before`` marks an upper bound (a warning)."""

    distribution: str
    version: str
    cell: int
    before: bool = False


@dataclass(frozen=True, kw_only=True)
class NotebookClues:
    """What the notebook itself says: run times, printed versions, the Python it ran on."""

    stamps: tuple[Evidence, ...] = ()
    versions: tuple[PrintedVersion, ...] = ()
    python: str | None = None
    python_source: str = ""
    python_version: str = ""  # the full version language_info names (``3.9.2``), when it does


@dataclass(frozen=True, kw_only=True)
class Era:
    """The date a notebook is resolved as of, why, and the Python it ran on."""

    when: date | None
    reason: str
    python: str | None = None
    python_source: str = ""
    evidence: tuple[Evidence, ...] = ()

    def describe(self) -> str:
        """The one line shown to the user: ``as of 2019-03-02: last git commit touching the notebook``."""
        if self.when is None:
            return f"as of now: {self.reason}"
        return f"as of {self.when.isoformat()}: {self.reason}"

    def exclude_newer(self) -> str | None:
        """uv's ``--exclude-newer`` value for this era (the end of its day, UTC), or None for now."""
        return exclude_newer(self.when) if self.when else None


def exclude_newer(when: date) -> str:
    """The RFC 3339 timestamp that admits every file uploaded on or before ``when`` (UTC)."""
    end = datetime.combine(when + timedelta(days=1), time(0), tzinfo=timezone.utc)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_as_of(value: str, *, today: date) -> date | None:
    """``--as-of``: an ISO date, ``now`` (None: no cut-off) or ``auto`` (raises: infer it instead)."""
    text = value.strip().lower()
    if text == "now":
        return None
    if text == "auto":
        raise ValueError("'auto' is inferred from the notebook, not parsed")
    try:
        when = date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValueError(f"--as-of {value!r}: expected YYYY-MM-DD, 'auto' or 'now'") from exc
    if when > today:
        raise ValueError(f"--as-of {value!r} is in the future")
    return when


@dataclass(frozen=True, kw_only=True)
class AsOf:
    """What a build does about the era: ``keep`` the notebook's record, resolve ``now``, ``infer``
    the era from the notebook, or resolve as of a given ``date`` (``when``)."""

    mode: str
    when: date | None = None


def choose_as_of(option: str, *, recorded: bool, today: date) -> AsOf:
    """The era decision for a build from ``--as-of`` (``""`` when not given) and the notebook's record.

    A notebook envkit has built (``recorded``) keeps its spec and lock unless ``--as-of`` asks
    otherwise; one without a record is resolved as of its inferred era by default. ``now`` is
    the plain resolution of today. Raises ``ValueError`` naming the option for a bad value.
    """
    text = option.strip().lower()
    if not text:
        return AsOf(mode="keep" if recorded else "infer")
    if text == "auto":
        return AsOf(mode="infer")
    when = parse_as_of(text, today=today)
    return AsOf(mode="now") if when is None else AsOf(mode="date", when=when)


RECENT_DAYS = 30  # an inferred era this recent resolves as of now: the same packages, no detour


def resolves_as_of_now(era: Era, *, inferred: bool, today: date) -> bool:
    """True when a build should resolve as of now: no date, or an inferred one from the last month."""
    return era.when is None or (inferred and era.when >= today - timedelta(days=RECENT_DAYS))


# --- what the notebook says ----------------------------------------------------------------

def read_clues(nb: Mapping[str, Any]) -> NotebookClues:
    """Run times, printed versions and the Python from a notebook's JSON (an nbformat 4 dict)."""
    meta = nb.get("metadata") or {}
    stamps: list[Evidence] = []
    papermill = meta.get("papermill") or {}
    for key in ("end_time", "start_time"):
        when = _parse_time(papermill.get(key))
        if when:
            stamps.append(Evidence(kind="metadata", when=when, detail=f"papermill {key}"))
            break
    for item in (meta.get("colab") or {}).get("provenance") or []:
        when = _parse_time(item.get("timestamp")) if isinstance(item, dict) else None
        if when:
            stamps.append(Evidence(kind="metadata", when=when, detail="Colab provenance"))
    versions: list[PrintedVersion] = []
    python, python_source = _language_python(meta)
    for index, cell in enumerate(nb.get("cells") or [], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        stamps.extend(_cell_stamps(cell.get("metadata") or {}, index))
        source = _join(cell.get("source", ""))
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict):
                continue
            text = _output_text(output)
            versions.extend(_versions(text, source, index))
            if python is None:
                found = _SITE.search(text)
                if found and found.group(1) == "3":
                    python, python_source = f"3.{found.group(2)}", f"site-packages paths in cell {index}"
    full = str((meta.get("language_info") or {}).get("version") or "") if python_source == "language_info" else ""
    return NotebookClues(stamps=tuple(stamps), versions=tuple(dict.fromkeys(versions)), python=python,
                         python_source=python_source, python_version=full)


def python_release_era(version: str, *, today: date) -> date | None:
    """About when Python ``version`` (``3.9.2``) was the newest release of its line, or None.

    Only for a line past its end of life: a notebook saved with 3.9.2 ran after 3.9.2 came out,
    most likely while it was current (the line's first release plus one bugfix cadence per
    patch level, counting the next one too). A line still supported says little: distributions
    keep one patch release for years (Debian's 3.11.2) while their users install today's
    packages. Python 2 and versions without a patch level give None (too wide to date anything).
    """
    found = re.match(r"^(\d+)\.(\d+)\.(\d+)", version.strip())
    if not found or found.group(1) != "3":
        return None
    minor, patch = int(found.group(2)), int(found.group(3))
    first = _PYTHON_LINES.get((3, minor))
    if first is None:
        if minor < min(m for _, m in _PYTHON_LINES):
            return None
        first = date(2011 + minor, 10, 1)  # PEP 602: 3.14 in October 2025, and so on
    end_of_life = first.replace(year=first.year + _LINE_YEARS)
    if end_of_life > today:
        return None
    return min(first + timedelta(days=_PATCH_DAYS * (patch + 1)), end_of_life)


def _language_python(meta: Mapping[str, Any]) -> tuple[str | None, str]:
    info = meta.get("language_info") or {}
    parts = str(info.get("version") or "").split(".")
    if str(info.get("name", "python")).startswith("python") and len(parts) >= 2 and parts[0].isdigit():
        return f"{parts[0]}.{parts[1]}", "language_info"
    name = str((meta.get("kernelspec") or {}).get("name") or "")
    if name == "python2":
        return "2.7", "kernelspec python2"
    return None, ""


def _cell_stamps(meta: Mapping[str, Any], index: int) -> list[Evidence]:
    found: list[Evidence] = []
    execution = meta.get("execution") or {}  # JupyterLab's "record timing" setting
    for key in ("iopub.status.idle", "shell.execute_reply", "iopub.execute_input"):
        when = _parse_time(execution.get(key))
        if when:
            found.append(Evidence(kind="metadata", when=when, detail=f"cell {index} execution time"))
            break
    info = meta.get("executionInfo") or {}  # Colab
    when = _parse_time(info.get("timestamp"))
    if when:
        found.append(Evidence(kind="metadata", when=when, detail=f"cell {index} Colab run time"))
    for key in ("end_time", "start_time"):  # ExecuteTime extension, papermill per cell
        for holder in (meta.get("ExecuteTime") or {}, meta.get("papermill") or {}):
            when = _parse_time(holder.get(key))
            if when:
                found.append(Evidence(kind="metadata", when=when, detail=f"cell {index} {key}"))
                return found
    return found


def _parse_time(value: Any) -> date | None:
    """An ISO timestamp or a Colab epoch in milliseconds, as a date; anything else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and len(value) >= 10:
        try:
            when = date.fromisoformat(value[:10])
        except ValueError:
            return None
        return when if when.year >= 2011 else None  # IPython notebooks do not predate 2011
    return None


def _join(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _output_text(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _join(output.get("text"))
    if kind == "error":
        return "\n".join(_join(line) for line in output.get("traceback") or [])
    data = output.get("data") or {}
    return _join(data.get("text/plain", ""))


def _versions(text: str, source: str, cell: int) -> list[PrintedVersion]:
    out: list[PrintedVersion] = []
    for name, version in _PRINTED.findall(text) + _NAMED.findall(text):
        out.append(PrintedVersion(distribution=_DISTRIBUTIONS[name.lower()], version=version, cell=cell))
    # `pd.__version__` alone in a cell: the output is the bare version
    bare = _BARE.match(text)
    dunder = _DUNDER.findall(source)
    if bare and len(dunder) == 1 and dunder[0] in _DISTRIBUTIONS:
        out.append(PrintedVersion(distribution=_DISTRIBUTIONS[dunder[0]], version=bare.group(1), cell=cell))
    # a warning from site-packages/<pkg>/... saying something "will be removed in X": it ran before X
    for line in text.splitlines():
        site = _SITE.search(line)
        removed = _REMOVED.search(line)
        if site and removed and site.group(3) in _DISTRIBUTIONS:
            out.append(PrintedVersion(distribution=_DISTRIBUTIONS[site.group(3)], version=removed.group(1),
                                      cell=cell, before=True))
    return out


# --- deciding the date ---------------------------------------------------------------------

def infer_era(clues: NotebookClues, *, release_dates: Mapping[str, Mapping[str, date]] | None = None,
              git: date | None = None, mtime: date | None = None, today: date) -> Era:
    """The strongest evidence wins; a warning's "removed in X" caps the date before X's release.

    ``release_dates`` maps distribution → version → first upload date (from the index, see
    ``era_sources.release_dates``); printed versions it cannot date are ignored.
    """
    release_dates = release_dates or {}
    candidates: list[Evidence] = [e for e in clues.stamps if e.when <= today]
    caps: list[Evidence] = []
    for printed in clues.versions:
        when = _release_date(release_dates, printed.distribution, printed.version)
        if when is None:
            continue
        label = f"{printed.distribution} {printed.version} (cell {printed.cell})"
        if printed.before:
            caps.append(Evidence(kind="versions", when=when - timedelta(days=1), detail=f"before {label}"))
        else:
            candidates.append(Evidence(kind="versions", when=when, detail=label))
    if git and git <= today:
        candidates.append(Evidence(kind="git", when=git))
    ran_on = python_release_era(clues.python_version, today=today) if clues.python_version else None
    if ran_on:
        candidates.append(Evidence(kind="python", when=ran_on, detail=f"{clues.python_version}, the newest "
                                   f"{clues.python} about then"))
    if mtime and mtime <= today:
        candidates.append(Evidence(kind="mtime", when=mtime))
    python = clues.python
    evidence = tuple(candidates + caps)
    if not candidates:
        return Era(when=None, reason="no date found in the notebook, its git history or its file",
                   python=python, python_source=clues.python_source, evidence=evidence)
    order = list(KINDS)
    best = min(order.index(e.kind) for e in candidates)
    kind = order[best]
    chosen = [e for e in candidates if e.kind == kind]
    # The latest run time or the newest printed version: the notebook ran with all of them.
    pick = max(chosen, key=lambda e: e.when)
    when, reason = pick.when, KINDS[kind] + (f": {pick.detail}" if kind in {"versions", "python"} else "")
    if caps:
        cap = min(caps, key=lambda e: e.when)
        if cap.when < when:
            when, reason = cap.when, f"{KINDS['versions']}: {cap.detail}"
    return Era(when=when, reason=reason, python=python, python_source=clues.python_source, evidence=evidence)


def _release_date(table: Mapping[str, Mapping[str, date]], dist: str, version: str) -> date | None:
    versions = table.get(canonicalize_name(dist)) or table.get(dist) or {}
    if version in versions:
        return versions[version]
    try:
        wanted = Version(version)
    except InvalidVersion:
        return None
    for known, when in versions.items():  # "1.0" printed, "1.0.0" on the index
        try:
            if Version(known) == wanted:
                return when
        except InvalidVersion:
            continue
    return None
