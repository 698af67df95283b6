"""The notebook's project: the folder a container sees, at the same path, above the notebook's own.

A notebook in ``analysis/2019/`` that does ``sys.path.append('../..')`` or reads
``../data/x.csv`` needs more than its folder. ``choose_root`` (pure) picks the folder to mount:
the git repository's top (when there is one, and it is not the home folder or ``/``), widened to
take in the relative paths the notebook names (``'../data/x.csv'``, ``'../..'``) up to
``MAX_UP`` levels above the notebook's folder. The notebook's folder stays the working directory.
``project_root`` gathers the facts (git, the notebooks' code) for kernels, runs and launch.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

MAX_UP = 3  # as far up as relative paths may widen the mount (capture searches as many parents)
_MAX_NOTEBOOKS = 50  # notebooks read from a kernel's folder when it does not know its notebook
# a string literal that starts by going up: '../data/x.csv', "../..", '..'
_UP = re.compile(r"""(?P<q>['"])(?P<path>\.\.(?:[/\\][^'"\n]*)?)(?P=q)""")


def relative_reaches(sources: Iterable[str]) -> list[str]:
    """The parent-relative paths (``../data/x.csv``) that code names in string literals."""
    found: list[str] = []
    for source in sources:
        for m in _UP.finditer(source):
            path = m.group("path").replace("\\", "/")
            if path not in found:
                found.append(path)
    return found


def choose_root(folder: Path, *, git_root: Path | None, reached: Iterable[str], home: Path | None = None) -> Path:
    """The folder to mount for a notebook in ``folder`` (absolute, resolved paths).

    The git top when it holds ``folder`` (never ``/`` or the home folder itself); then every
    relative path in ``reached`` that leads out of it widens it to the common parent, but never
    more than ``MAX_UP`` levels above ``folder``, nor to ``/`` or the home folder.
    """
    never = {Path(folder.anchor or "/")} | ({home} if home else set())
    root = folder
    if git_root is not None and git_root not in never and folder.is_relative_to(git_root):
        root = git_root
    ceiling = folder
    for _ in range(MAX_UP):
        if ceiling.parent == ceiling or ceiling.parent in never:
            break
        ceiling = ceiling.parent
    for rel in reached:
        target = _normalise(folder, rel)
        if target is None or target.is_relative_to(root):
            continue
        common = _common(root, target)
        if common.is_relative_to(ceiling) and common not in never:
            root = common  # else it leads too far out: mount no more for it
    return root


def _normalise(folder: Path, rel: str) -> Path | None:
    """``folder / rel`` with ``..`` folded (no file system access); None for nonsense."""
    parts = list(folder.parts)
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if len(parts) <= 1:
                return None
            parts.pop()
        else:
            parts.append(part)
    return Path(*parts)


def _common(a: Path, b: Path) -> Path:
    parts = []
    for x, y in zip(a.parts, b.parts, strict=False):
        if x != y:
            break
        parts.append(x)
    return Path(*parts) if parts else Path(a.anchor)


# --- the facts -------------------------------------------------------------------------------

def git_top(folder: Path) -> Path | None:
    """``git rev-parse --show-toplevel`` for ``folder``, if it is in a work tree."""
    try:
        # Read only; a work tree another user owns (a root caller's) is read as well.
        proc = subprocess.run(["git", "-c", "safe.directory=*", "rev-parse", "--show-toplevel"], cwd=folder,
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = proc.stdout.strip()
    return Path(text).resolve() if proc.returncode == 0 and text else None


def notebook_sources(path: Path) -> list[str]:
    """The code cells of a notebook (or a script's text); nothing for a file that cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".ipynb":
            return [text]
        cells = json.loads(text).get("cells") or []
    except (OSError, ValueError, AttributeError):
        return []
    sources = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


def project_root(folder: Path, notebook: Path | None = None) -> Path:
    """The folder to mount for code running in ``folder``: ``notebook``'s project, or (a kernel
    that does not know its notebook) the project of the notebooks in ``folder``."""
    folder = folder.resolve()
    notebooks = [notebook] if notebook is not None else sorted(folder.glob("*.ipynb"))[:_MAX_NOTEBOOKS]
    sources = [s for nb in notebooks for s in notebook_sources(nb)]
    return choose_root(folder, git_root=git_top(folder), reached=relative_reaches(sources), home=Path.home().resolve())
