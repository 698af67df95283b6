"""envkit: a Jupyter notebook that carries its own environment.

Capture what a notebook needs, lock it, render a Dockerfile, build the image through the
Docker Engine API, and run the notebook's kernel inside a container of it.
``%load_ext envkit`` loads the ``%envkit`` magics; ``envkit`` is the terminal front end.
"""

from __future__ import annotations

from .errors import EnvkitError
from .spec import EnvSpec, Lock, Pin, Requirement
from .version import __version__

__all__ = [
    "EnvSpec",
    "EnvkitError",
    "Lock",
    "Pin",
    "Requirement",
    "__version__",
    "load_ipython_extension",
]


def load_ipython_extension(ipython) -> None:  # type: ignore[no-untyped-def]
    """``%load_ext envkit``: register the ``%envkit`` magics (nothing heavy is imported)."""
    from . import frontend
    from .magics import EnvkitMagics

    ipython.register_magics(EnvkitMagics(shell=ipython))
    frontend.connect(ipython)  # JupyterLab / Notebook 7 with envkit's extension answers


def unload_ipython_extension(ipython) -> None:  # type: ignore[no-untyped-def]
    """``%unload_ext envkit``: close the front end's comm (IPython drops the magics)."""
    from . import frontend

    frontend.disconnect()
