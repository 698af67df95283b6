"""Binder export: repo2docker's own files for a notebook, and a mybinder.org launch link.

repo2docker (the builder behind mybinder.org and BinderHub) reads ``requirements.txt``,
``runtime.txt`` and ``apt.txt`` from a ``binder/`` folder. envkit writes them from the notebook's
lock (exact pins) or, with no lock yet, from its spec, so the Binder image matches the envkit
image as far as repo2docker can express it (its own base image, Python from ``runtime.txt``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import NotebookError
from .notebook import atomic_write_text, read_notebook
from .spec import EnvSpec, Lock

BINDER_HOST = "https://mybinder.org"
BADGE_IMAGE = f"{BINDER_HOST}/badge_logo.svg"
# repo2docker brings its own installer tooling; pinning it from the image's lock only fights it.
_TOOLING = frozenset({"pip", "setuptools", "wheel"})


@dataclass(frozen=True, kw_only=True)
class BinderExport:
    """The files written (path, number of lines) and where the pins came from."""

    folder: Path
    files: tuple[tuple[Path, int], ...]
    pins_from: str  # "lock" | "spec"


def requirements_lines(spec: EnvSpec, lock: Lock | None) -> list[str]:
    """``requirements.txt`` lines: the lock's exact pins, or the spec's requirements."""
    if lock is not None and lock.packages:
        return [p.line(with_hashes=False) for p in lock.packages if p.name not in _TOOLING]
    return [r.pep508() for r in spec.requirements if r.name not in _TOOLING]


def runtime_line(spec: EnvSpec, lock: Lock | None) -> str:
    """``python-X.Y`` (repo2docker reads only major.minor)."""
    version = lock.python if lock is not None and lock.python else spec.python
    return "python-" + ".".join(version.split(".")[:2])


def export_binder(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> BinderExport:
    """Write ``requirements.txt``, ``runtime.txt`` and ``apt.txt`` for the notebook into ``folder``."""
    nb = read_notebook(path)
    meta = nb.envkit()
    if meta is None or meta.spec is None:
        raise NotebookError(f"{nb.path}: has no envkit spec to export",
                            f"capture it first: envkit capture --write {nb.path}")
    lock = meta.lock if meta.lock is not None and meta.lock.spec_digest == meta.spec.digest() else None
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    contents = {
        "requirements.txt": requirements_lines(meta.spec, lock),
        "runtime.txt": [runtime_line(meta.spec, lock)],
        "apt.txt": list(meta.spec.system_packages),
    }
    written = []
    for name, lines in contents.items():
        target = out / name
        atomic_write_text(target, "".join(line + "\n" for line in lines))
        written.append((target, len(lines)))
    return BinderExport(folder=out, files=tuple(written), pins_from="lock" if lock else "spec")


def binder_url(repo: str, ref: str = "HEAD", path: str | None = None) -> str:
    """mybinder.org's launch URL: ``/v2/gh/OWNER/NAME/REF?labpath=PATH``."""
    owner, sep, name = repo.strip("/").partition("/")
    if not sep or not owner or not name or "/" in name:
        from .errors import UsageError

        raise UsageError(f"--repo {repo!r}: expected OWNER/NAME of a GitHub repository")
    url = f"{BINDER_HOST}/v2/gh/{quote(owner)}/{quote(name)}/{quote(ref, safe='')}"
    if path:
        url += "?labpath=" + quote(path.lstrip("/"), safe="")
    return url


def badge_markdown(url: str) -> str:
    """The "launch binder" badge in Markdown, as mybinder.org suggests it."""
    return f"[![Binder]({BADGE_IMAGE})]({url})"


__all__ = ["BinderExport", "badge_markdown", "binder_url", "export_binder", "requirements_lines",
           "runtime_line"]
