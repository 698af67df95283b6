"""The Python a notebook without an envkit record is built on, when nothing chose a base image.

The notebook says which Python it ran on (``era.read_clues``: ``language_info``, a ``python2``
kernelspec, ``python3.X/site-packages`` paths in its tracebacks); the engine says which
``python:X.Y-slim`` images it has, and gets the wanted one pulled when a registry answers. The
decision itself is ``plan.choose_python`` (pure); this module only asks the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..engine.images import python_slim_images
from ..era import read_clues
from ..errors import EngineGone, EnvkitError, Interrupted
from ..events import Progress
from ..plan import PythonChoice, choose_python, image_python


def host_python() -> str:
    """``X.Y`` of the Python envkit runs on."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def notebook_python(raw: Mapping[str, Any], *, default: str, ask_engine: bool = True,
                    progress: Progress | None = None) -> PythonChoice:
    """The Python for the notebook ``raw`` (its nbformat 4 JSON), and the one line saying why.

    ``default`` is capture's Python (``capture.result``: this machine's when the notebook does
    not say, one a ``requires-python`` allows, a floor for Python 2 notebooks).

    With ``ask_engine`` the engine's ``python:X.Y-slim`` images are listed, and the wanted one
    pulled when it is missing (a failed pull is not an error: the fallback says it in its line);
    without, the notebook's own Python is taken as it is (``envkit dockerfile`` asks no engine).
    """
    clues = read_clues(raw)
    if not ask_engine:
        return choose_python(clues.python, clues.python_source, have=None, default=default, host=host_python())
    have = set(python_slim_images())
    target = image_python(clues.python) or default
    pulled = False
    if target not in have:
        pulled = _pulled(f"python:{target}-slim", progress)
        if pulled:
            have.add(target)
    return choose_python(clues.python, clues.python_source, have=have, default=default, host=host_python(),
                         pulled=pulled)


def _pulled(reference: str, progress: Progress | None) -> bool:
    from ..engine.registry import pull

    try:
        pull(reference, progress=progress)
    except (EngineGone, Interrupted):
        raise
    except EnvkitError:  # no registry reachable, no such tag: the policy's fallback takes over
        return False
    return True


__all__ = ["host_python", "notebook_python"]
