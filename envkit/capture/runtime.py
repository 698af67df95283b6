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


def _text_pattern(rule: dict[str, Any]) -> str:
    """What the rule's call looks like as text: most cells fail this and are never parsed."""
    name = re.escape(rule["name"])
    if rule["match"] == "attribute":
        return rf"\.{name}\b"
    if rule["match"] == "keyword":
        value = rule["value"]
        shown = re.escape(value) if isinstance(value, str) else re.escape(repr(value))
        return rf"\b{name}\s*=\s*['\"]?{shown}"
    if rule["match"] in {"url", "model"}:
        return rf"\b{name}\s*\(\s*[rbuf]?['\"]"
    return rf"\b{name}\s*\("


@lru_cache(maxsize=64)
def _prefilter(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(patterns))


def applicable(imported: Iterable[str]) -> list[dict[str, Any]]:
    """The rules whose enabling package is among the notebook's imported top-level modules."""
    have = set(imported)
    # "after" narrowed to what is imported, so the reason names it (geopandas, not pandas).
    # A rule whose packages the notebook imports anyway (matplotlib for .plot()) adds nothing:
    # skipping it spares parsing most plotting cells.
    return [dict(r, after=[a for a in r["after"] if a in have]) for r in load_runtime_rules()
            if have & set(r["after"]) and not (r.get("needs") and set(r["needs"]) <= have)]


def prefilter(rules: list[dict[str, Any]]) -> re.Pattern[str]:
    """One pattern for ``rules``: a cell it does not match needs no parse."""
    return _prefilter(tuple(sorted({_text_pattern(r) for r in rules})))


def runtime_needs(source: str, rules: list[dict[str, Any]], *, tree: ast.Module | None = None,
                  pattern: re.Pattern[str] | None = None) -> list[RuntimeNeed]:
    """The run-time needs of one cell under ``rules`` (from ``applicable``); unparsable cells give none.

    ``tree`` is the cell already parsed (``source`` then is the code it was parsed from);
    ``pattern`` is ``prefilter(rules)``, computed once per notebook.
    """
    if not rules or not (pattern or prefilter(rules)).search(source):
        return []
    if tree is None:
        try:
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError):
                source = transform(source)
                tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
    lines = source.splitlines()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        by_name.setdefault(rule["name"], []).append(rule)
    found: list[RuntimeNeed] = []
    not_styler: set[int] = set()
    for node in ast.walk(tree):  # breadth first: a parent is seen before its children
        if isinstance(node, ast.Attribute):
            if node.attr in _NOT_STYLER and isinstance(node.value, ast.Attribute):
                not_styler.add(id(node.value))
            for rule in by_name.get(node.attr, ()):
                if rule["match"] == "attribute" and id(node) not in not_styler:
                    found.extend(_needs(rule, rule["needs"], _line(lines, node), after=rule["after"][0]))
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            candidates = [r for r in by_name.get(called, ()) if r["match"] in {"call", "url", "model"}]
            candidates += [r for kw in node.keywords if kw.arg for r in by_name.get(kw.arg, ())
                           if r["match"] == "keyword"]
            for rule in candidates:
                found.extend(_match(rule, node, lines))
    return list(dict.fromkeys(found))


def _match(rule: dict[str, Any], node: ast.Call, lines: list[str]) -> list[RuntimeNeed]:
    kind, name = rule["match"], rule["name"]
    line = _line(lines, node)
    after = rule["after"][0]
    if kind == "keyword":
        for kw in node.keywords:
            if (kw.arg == name and isinstance(kw.value, ast.Constant) and kw.value.value == rule["value"]
                    and type(kw.value.value) is type(rule["value"])):  # True is not 1
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
