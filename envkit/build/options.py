"""Build options with the default rules applied, the same for every front end."""

from __future__ import annotations

from dataclasses import replace

from ..plan import BuildOptions
from ..settings import default_uid


def resolve_options(options: BuildOptions) -> BuildOptions:
    """``options`` with the uid rule applied (``settings.default_uid``) when no uid was chosen.

    The uid is part of the build key: were one front end to pick another default, one spec
    would give two images.
    """
    return options if options.uid is not None else replace(options, uid=default_uid())


__all__ = ["resolve_options"]
