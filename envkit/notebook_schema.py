"""Checking a notebook against nbformat's own JSON schema, without nbformat's import cost.

``import nbformat`` imports jsonschema, whose format checkers import ``rfc3987_syntax`` when it is
installed (it comes with JupyterLab through jupyter-events): that module builds ~35 Earley
grammars at import, 4 s measured here (jsonschema #1428, opendatahub-io/notebooks #3532), before
a single notebook is checked. nbformat itself decides validity with fastjsonschema (its default
``NBFORMAT_VALIDATOR``) and calls jsonschema only to word an error. ``schema_error`` does the
same without the import: it compiles the very schema file nbformat would pick with
fastjsonschema, and only when that says no, or when the notebook is one nbformat treats
specially (a minor version newer than its schemas, which it checks relaxed), asks
``nbformat.validate`` itself, so the verdict and the message are nbformat's.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any


def _schema_file(major: int, minor: int) -> Path | None:
    """nbformat's schema for ``major.minor`` (its ``nbformat_schema`` table), found without importing it."""
    spec = importlib.util.find_spec("nbformat")  # a top-level package: found, not executed
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / f"v{major}" / f"nbformat.v{major}.{minor}.schema.json"
    return path if path.is_file() else None


@cache
def _compiled(path: Path) -> Callable[[Any], Any]:
    """fastjsonschema's validator for ``path``, compiled as nbformat compiles it (default formats)."""
    import fastjsonschema

    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


def _fast_verdict(raw: dict[str, Any]) -> bool | None:
    """True when the notebook passes nbformat's schema; None when only nbformat can tell."""
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor", 0)
    if type(major) is not int or type(minor) is not int or major < 4:
        return None
    path = _schema_file(major, minor)
    if path is None:  # a minor newer than nbformat's schemas: nbformat relaxes the newest one
        return None
    from fastjsonschema import JsonSchemaException

    try:
        _compiled(path)(raw)
    except JsonSchemaException:
        return None  # nbformat repairs some things (missing cell ids) first, and words the error
    return True


def schema_error(raw: dict[str, Any]) -> str | None:
    """What nbformat says is wrong with the notebook ``raw`` (its first line), or None when valid.

    A copy is checked, as JSON would read it back (fastjsonschema may fill in schema defaults,
    and nbformat repairs cell ids in place). A valid notebook is checked in milliseconds after a
    one-off compile; any other answer comes from ``nbformat.validate``, word for word.
    """
    minor = raw.get("nbformat_minor", 0)
    if type(minor) is not int:  # nbformat.validate fails an assert on this (a traceback, no words)
        return f"nbformat_minor is {json.dumps(minor)}, not a whole number"
    copy = json.loads(json.dumps(raw))
    if _fast_verdict(copy):
        return None
    import nbformat

    try:
        nbformat.validate(nbformat.from_dict(json.loads(json.dumps(raw))))
    except nbformat.ValidationError as exc:
        return str(exc).splitlines()[0]
    return None
