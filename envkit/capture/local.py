"""Local modules: code beside the notebook (or on a ``sys.path`` it adds) is not a requirement.

A module is local when the notebook's folder, a folder it puts on ``sys.path``, or a parent
folder up to the project root holds ``name.py``, a package ``name/__init__.py``, an extension
``name.*.so``, or (in the notebook's own folder and the ``sys.path`` folders only, where Python
would really find it) a namespace package: a folder with ``.py`` files in it. Modules the
notebook writes itself (``%%writefile name.py``) are local too. Local modules are followed: their
files are returned so the caller can count their imports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

_MAX_PACKAGE_FILES = 200  # a vendored library beside a notebook should not stall the scan


@dataclass
class LocalModules:
    """Where to look for local modules, and the ones the notebook writes itself."""

    direct: list[Path]  # folders on sys.path: the notebook's own, and sys.path additions
    parents: list[Path] = field(default_factory=list)  # parent folders up to the project root
    written: dict[str, str] = field(default_factory=dict)  # relative path -> body (%%writefile)

    def add_path(self, base: Path, entry: str) -> None:
        """``sys.path.append(entry)`` seen in code running in ``base``."""
        folder = (base / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
        if folder.is_dir() and folder not in self.direct:
            self.direct.append(folder)

    def write(self, filename: str, body: str) -> None:
        self.written[filename.replace("\\", "/").removeprefix("./")] = body

    def written_top(self) -> set[str]:
        tops = set()
        for name in self.written:
            first = name.split("/")[0]
            if name.endswith(".py"):
                tops.add(first.removesuffix(".py"))
        return tops

    def is_local(self, top: str) -> bool:
        """True when ``top`` (a top-level module name) is the project's own code."""
        if top in self.written_top():
            return True
        for folder in self.direct:
            if _module_at(folder, top, namespace=True):
                return True
        return any(_module_at(folder, top, namespace=False) for folder in self.parents)

    def files(self, module: str, names: tuple[str, ...] = ()) -> list[tuple[str, Path | None, str | None]]:
        """The files to follow for ``import module`` / ``from module import names``.

        Each entry is (display name, path or None, text for written modules or None).
        """
        parts = module.split(".")
        out: list[tuple[str, Path | None, str | None]] = []
        for rel, body in self.written.items():
            stem = rel.removesuffix(".py").removesuffix("/__init__")
            if stem.split("/")[0] == parts[0]:
                out.append((rel, None, body))
        for folder in [*self.direct, *self.parents]:
            root = _module_at(folder, parts[0], namespace=folder in self.direct)
            if root is None:
                continue
            if root.is_file():
                return out + [(root.name, root, None)]
            found = _package_files(root, parts[1:], names)
            return out + [(str(p.relative_to(folder)), p, None) for p in found]
        return out


@lru_cache(maxsize=4096)
def _listing(folder: Path) -> frozenset[str]:
    """Names in ``folder`` (read once per scan: many notebooks share a folder)."""
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()


def forget_listings() -> None:
    """Drop cached folder listings (each capture reads folders afresh)."""
    _listing.cache_clear()


def _module_at(folder: Path, top: str, *, namespace: bool) -> Path | None:
    """The file or package folder of module ``top`` in ``folder``, or None."""
    names = _listing(folder)
    if f"{top}.py" in names and (folder / f"{top}.py").is_file():
        return folder / f"{top}.py"
    package = folder / top
    if top in names and (package / "__init__.py").is_file():
        return package
    if any(n.startswith(f"{top}.") and n.endswith((".so", ".pyd")) for n in names):
        return folder / f"{top}.so"
    if namespace and top in names and package.is_dir() and any(n.endswith(".py") for n in _listing(package)):
        return package
    return None


def _package_files(root: Path, sub: list[str], names: tuple[str, ...]) -> list[Path]:
    """``__init__.py`` files along the dotted path, plus the imported submodule(s)."""
    if not root.is_dir():
        return []
    out: list[Path] = []
    here = root
    for part in [None, *sub]:
        if part is not None:
            here = here / part
        init = here / "__init__.py"
        if init.is_file():
            out.append(init)
        if part is not None and here.with_suffix(".py").is_file():
            out.append(here.with_suffix(".py"))
            return out
    for name in names:  # from pkg import sub: sub may be a module
        if (here / f"{name}.py").is_file():
            out.append(here / f"{name}.py")
        elif (here / name / "__init__.py").is_file():
            out.append(here / name / "__init__.py")
    if not sub and not names and not out:  # namespace package imported whole
        out = sorted(root.rglob("*.py"))[:_MAX_PACKAGE_FILES]
    return out
