"""Run-time needs: calls whose packages no import names (``df.plot()`` needs matplotlib).

The calls are data, in ``envkit/data/runtime_needs.json``; this module only matches them. A
rule applies only when the notebook imports the package that makes the call possible (pandas
for ``.plot()``, SQLAlchemy for ``create_engine``), so ``ax.plot()`` in a pandas-free notebook
adds nothing. What it finds becomes an optional requirement whose source says why.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .transform import transform

TABLE = Path(__file__).resolve().parent.parent / "data" / "runtime_needs.json"
# ``plt.style.use("ggplot")`` is matplotlib's style sheets, not DataFrame.style.
_NOT_STYLER = {"use", "context", "available", "library", "reload_library", "core"}


@dataclass(frozen=True, kw_only=True)
class RuntimeNeed:
    """One call that needs ``distribution``; ``model`` set for a package the index does not hold."""

    distribution: str
    why: str
    line: str
    model: bool = False
    hint: str = ""


@lru_cache(maxsize=1)
def load_runtime_rules() -> tuple[dict[str, Any], ...]:
    """The rules of ``runtime_needs.json``."""
    return tuple(json.loads(TABLE.read_text(encoding="utf-8"))["rules"])


@lru_cache(maxsize=1)
def _names() -> re.Pattern[str]:
    names = sorted({r["name"] for r in load_runtime_rules()} | {r.get("value", "") for r in load_runtime_rules()} - {""})
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def applicable(imported: Iterable[str]) -> list[dict[str, Any]]:
    """The rules whose enabling package is among the notebook's imported top-level modules."""
    have = set(imported)
    # "after" narrowed to what is imported, so the reason names it (geopandas, not pandas)
    return [dict(r, after=[a for a in r["after"] if a in have]) for r in load_runtime_rules()
            if have & set(r["after"])]


def runtime_needs(source: str, rules: list[dict[str, Any]]) -> list[RuntimeNeed]:
    """The run-time needs of one cell under ``rules`` (from ``applicable``); unparsable cells give none."""
    if not rules or not _names().search(source):
        return []
    try:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            tree = ast.parse(transform(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = source.splitlines()
    found: list[RuntimeNeed] = []
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    for node in ast.walk(tree):
        for rule in rules:
            found.extend(_match(rule, node, parents, lines))
    return list(dict.fromkeys(found))


def _match(rule: dict[str, Any], node: ast.AST, parents: dict[int, ast.AST], lines: list[str]) -> list[RuntimeNeed]:
    kind, name = rule["match"], rule["name"]
    line = _line(lines, node)
    after = rule["after"][0]
    if kind == "attribute":
        if not (isinstance(node, ast.Attribute) and node.attr == name):
            return []
        parent = parents.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.attr in _NOT_STYLER:
            return []
        return _needs(rule, rule["needs"], line, after=after)
    if not isinstance(node, ast.Call):
        return []
    if kind == "keyword":
        for kw in node.keywords:
            if kw.arg == name and isinstance(kw.value, ast.Constant) and kw.value.value == rule["value"]:
                return _needs(rule, rule["needs"], line, after=after)
        return []
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if called != name:
        return []
    first = node.args[0] if node.args else None
    text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    if kind == "call":
        for suffix, other in (rule.get("suffix") or {}).items():
            if text and text.lower().endswith(suffix):
                why = f"calls {name} on a {suffix} file ({after} reads it with {', '.join(other)})"
                return [RuntimeNeed(distribution=d, why=why, line=line) for d in other]
        return _needs(rule, rule["needs"], line, after=after)
    if kind == "url" and text and "://" in text:
        scheme = text.split("://", 1)[0].lower()
        needs = (rule.get("schemes") or {}).get(scheme)
        return _needs(rule, needs, line, after=after, scheme=scheme) if needs else []
    if kind == "model" and text and re.match(rule["pattern"], text):
        return [RuntimeNeed(distribution=text, why=rule["why"].format(arg=text), line=line, model=True,
                            hint=rule.get("hint", "").format(arg=text))]
    return []


def _needs(rule: dict[str, Any], needs: list[str], line: str, **fmt: str) -> list[RuntimeNeed]:
    why = rule["why"].format(**fmt)
    return [RuntimeNeed(distribution=d, why=why, line=line) for d in needs]


def _line(lines: list[str], node: ast.AST) -> str:
    lineno = getattr(node, "lineno", 0)
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
