"""Import name → distribution, in a fixed order, never by asking a package index.

1. The standard library (``sys.stdlib_module_names``, plus Python 2 names and modules removed
   from recent Pythons, so old notebooks don't leak ``urllib2`` or ``cPickle``) is not a
   requirement; neither are platform-only modules (``google.colab``, ``kaggle_secrets``).
2. Installed metadata (``importlib.metadata.packages_distributions()``): what the user actually
   has. A top-level name shared by several distributions (namespace packages such as
   ``google.*``) is resolved by which distribution's file list holds the imported module.
3. The shipped table ``envkit/data/import_names.json`` (longest dotted prefix wins:
   ``google.cloud.storage`` → ``google-cloud-storage``, ``sklearn`` → ``scikit-learn``).
4. Namespace-family rules in ``envkit/data/rules.json`` (``google.cloud.X`` → ``google-cloud-X``,
   ``azure.mgmt.X`` → ``azure-mgmt-X``...).
5. A bare top-level name is taken as the distribution of the same name only when that name is
   in ``envkit/data/known_distributions.txt`` (the 15,000 most-downloaded distributions, minus
   generic names such as ``utils`` that are more often a local module). Anything else is
   *unresolved*, with a reason: an index will happily answer for ``grpc`` or ``skimage`` with an
   unrelated or empty project, so a name nobody vouches for is reported, not guessed.

Distributions that every Jupyter kernel brings (``ipython``, ``ipykernel``...) are mapped but
flagged ``kernel``: acceptable, never required.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True, kw_only=True)
class Mapped:
    """Where an import leads: ``kind`` is dist, stdlib, platform, kernel or unresolved."""

    kind: str
    name: str = ""  # the distribution (PEP 503) for dist/kernel
    reason: str = ""
    via: str = ""  # installed | data | family | known


@lru_cache(maxsize=1)
def load_rules() -> dict[str, Any]:
    """The shipped rules (families, platform-only modules, Python 2 names, conda names...)."""
    return json.loads((DATA / "rules.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def import_names() -> dict[str, str]:
    """The shipped import-name table (dotted keys allowed)."""
    return json.loads((DATA / "import_names.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def known_distributions() -> frozenset[str]:
    text = (DATA / "known_distributions.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def system_packages_map() -> dict[str, list[str]]:
    """Distribution → Debian packages it needs at run time in a slim image."""
    data = json.loads((DATA / "system_packages.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


@lru_cache(maxsize=1)
def stdlib_names() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | frozenset(load_rules()["python2_stdlib"])


def is_stdlib(module: str) -> bool:
    """True for standard-library modules of any Python (3.x, plus 2.x names)."""
    return module.split(".")[0] in stdlib_names()


def _longest_prefix(module: str, table: dict[str, Any]) -> tuple[str, Any] | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in table:
            return key, table[key]
    return None


def system_packages_for(dists: list[str]) -> list[str]:
    """Debian packages the given distributions need (sorted, unique)."""
    table = system_packages_map()
    return sorted({p for d in dists for p in table.get(canonicalize_name(d), [])})


def _importable(top: str) -> bool:
    """True when a top-level module can be found on ``sys.path`` (found, not imported)."""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


class Mapper:
    """Maps module names to distributions; ``installed=False`` ignores the running environment."""

    def __init__(self, *, installed: bool = True) -> None:
        self.installed = installed
        self._owners: dict[str, list[tuple[str, str]]] = {}
        self._cache: dict[str, Mapped] = {}
        self._installed_index: dict[str, list[str]] | None = None

    def _packages_distributions(self) -> dict[str, list[str]]:
        # Read once per Mapper: sys.path may change between captures (a new venv, a test).
        if self._installed_index is None:
            self._installed_index = dict(metadata.packages_distributions())
        return self._installed_index

    def map(self, module: str) -> Mapped:
        """Map ``module`` (``a.b.c``) to a distribution or say why not."""
        if module not in self._cache:
            self._cache[module] = self._map(module)
        return self._cache[module]

    def _map(self, module: str) -> Mapped:
        top = module.split(".")[0]
        rules = load_rules()
        if not top or not top.isidentifier():
            return Mapped(kind="unresolved", reason="not a module name")
        hit = _longest_prefix(module, rules["platform_only"])
        if hit:
            return Mapped(kind="platform", reason=hit[1])
        if is_stdlib(module):
            return Mapped(kind="stdlib", reason="standard library")
        found = self._installed(module) if self.installed else None
        if found is None:
            found = self._shipped(module)
        if found is None:
            return Mapped(kind="unresolved", reason=self._why_not(top))
        provided = rules["kernel_provided"].get(found.name)
        if provided:
            return Mapped(kind="kernel", name=found.name, reason=provided, via=found.via)
        return found

    def _installed(self, module: str) -> Mapped | None:
        top = module.split(".")[0]
        if not _importable(top):  # not installed: skip reading every distribution's metadata
            return None
        dists = sorted({canonicalize_name(d) for d in self._packages_distributions().get(top, [])})
        shared = top in load_rules()["namespace_roots"]
        if len(dists) == 1 and not shared:
            return Mapped(kind="dist", name=dists[0], via="installed")
        if dists:  # namespace package: who owns the imported module's files?
            owner = self._file_owner(module, top)
            if owner:
                return Mapped(kind="dist", name=owner, via="installed")
        return None

    def _file_owner(self, module: str, top: str) -> str | None:
        if top not in self._owners:
            rows: list[tuple[str, str]] = []
            for name in self._packages_distributions().get(top, []):
                try:
                    files = metadata.distribution(name).files or []
                except metadata.PackageNotFoundError:
                    continue
                for f in files:
                    path = str(f)
                    if path.startswith(top + "/") and path.endswith((".py", ".so", ".pyd")):
                        rows.append((path, canonicalize_name(name)))
            self._owners[top] = rows
        wanted = module.replace(".", "/")
        best: tuple[int, str] | None = None
        for path, dist in self._owners[top]:
            stem = re.sub(r"(/__init__)?\.(py|so|pyd)$|\.cpython.*$|\.abi3.*$", "", path)
            if wanted == stem or wanted.startswith(stem + "/") or stem.startswith(wanted + "/"):
                depth = min(stem.count("/"), wanted.count("/")) + 1
                if best is None or depth > best[0]:
                    best = (depth, dist)
        # Only a match below the shared top level says anything (``google`` alone is everyone's).
        return best[1] if best and best[0] > 1 else None

    def _shipped(self, module: str) -> Mapped | None:
        hit = _longest_prefix(module, import_names())
        if hit:
            return Mapped(kind="dist", name=canonicalize_name(hit[1]), via="data")
        for rule in load_rules()["families"]:
            prefix = rule["prefix"] + "."
            if module.startswith(prefix):
                rest = module[len(prefix):].split(".")[: rule["parts"]]
                if len(rest) == rule["parts"] and all(rest):
                    parts = [re.sub(r"_v\d+(p\d+)?((alpha|beta)\d*)?$", "", p) for p in rest]
                    name = rule["template"].format("-".join(parts))
                    return Mapped(kind="dist", name=canonicalize_name(name), via="family")
        top = module.split(".")[0]
        if top in load_rules()["namespace_roots"]:
            return None  # a namespace's bare root (``google.foo``) is no distribution by itself
        if canonicalize_name(top) in known_distributions():
            return Mapped(kind="dist", name=canonicalize_name(top), via="known")
        return None

    @staticmethod
    def _why_not(top: str) -> str:
        if top in load_rules()["generic_local_names"]:
            return f"'{top}' is not installed, not a local module next to the notebook, and too generic to guess"
        return (f"no installed distribution provides '{top}' and no known distribution is named so; "
                "install it in the notebook (%pip install NAME) so envkit can see it")
