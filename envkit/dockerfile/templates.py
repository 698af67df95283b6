"""envkit's jinja2 templates, with user override folders searched first.

Override folders come in as arguments (``envkit.settings.template_dirs`` reads
``ENVKIT_TEMPLATES``); envkit's own templates stay reachable as ``envkit/<name>``, so an
override can ``{% extends "envkit/Dockerfile.j2" %}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ..errors import UsageError
from ..validate import FILTERS

_PACKAGE = Path(__file__).resolve().parent.parent


def packaged_templates() -> Path:
    """envkit's own templates: inside the wheel, or the repository's top-level folder."""
    inside = _PACKAGE / "templates"
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / "templates"


@lru_cache(maxsize=4)
def _environment(overrides: tuple[str, ...]) -> jinja2.Environment:
    own = jinja2.FileSystemLoader(str(packaged_templates()))
    loader = jinja2.ChoiceLoader([
        *(jinja2.FileSystemLoader(d) for d in overrides),
        own,
        jinja2.PrefixLoader({"envkit": own}),
    ])
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False)
    # Every value reaches Dockerfile text through one of these escaping filters (envkit.validate).
    env.filters.update(FILTERS)
    return env


def render_template(name: str, *, template_dirs: Sequence[Path] = (), **variables: Any) -> str:
    """Render template ``name`` (e.g. ``jupyterlab.Dockerfile.j2``) with ``variables``.

    ``template_dirs`` are searched before envkit's own templates. Undefined variables are
    errors (StrictUndefined), never silently empty.
    """
    env = _environment(tuple(str(d) for d in template_dirs))
    try:
        return env.get_template(name).render(**variables)
    except jinja2.TemplateNotFound as exc:
        raise UsageError(f"template {name!r} not found",
                         f"looked in {', '.join(str(d) for d in template_dirs)}"
                         f"{' and ' if template_dirs else ''}{packaged_templates()}") from exc
    except jinja2.UndefinedError as exc:
        raise UsageError(f"template {name!r}: {exc.message}",
                         "an override template uses a variable envkit does not provide") from exc


__all__ = ["packaged_templates", "render_template"]
