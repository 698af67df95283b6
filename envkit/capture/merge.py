"""Merging what static capture read with what a live kernel has loaded.

The rule, per distribution, from weakest to strongest:

1. **A bare import** (``import pandas``) gives a requirement without a specifier: a guess.
2. **An explicit install specifier** (``%pip install "pandas>=2"``, a PEP 723 block) beats that
   guess: it is what the author asked for.
3. **A live version pins it**: when the running kernel has the distribution loaded, the
   requirement becomes ``==X.Y.Z`` with the version read from ``importlib.metadata``, whatever
   the specifier said, because that is the version the notebook actually ran with. A
   distribution installed from a URL, a local path or in editable mode (PEP 610) keeps its
   specifier and is flagged with ``direct`` (the URL) instead: an index cannot reproduce it.
   When the kernel loaded the module from a different distribution than static capture guessed
   (``cv2`` from ``opencv-python-headless``), the loaded one replaces the guess.
4. Requirements the kernel has not loaded (cells not run yet, optional imports) stay as static
   capture gave them; the Python version becomes the kernel's ``X.Y``.
"""

from __future__ import annotations

from dataclasses import replace

from ..spec import EnvSpec, Requirement, Source
from .live import LiveVersions


def merge_live(static: EnvSpec, live: LiveVersions) -> EnvSpec:
    """``static`` with live versions applied by the rule above."""
    merged: dict[str, Requirement] = {}
    for req in static.requirements:
        pin = live.pin_for(req.name)
        if pin is None:
            merged.setdefault(req.name, req)
            continue
        seen = Source(kind="live", text=f"{pin.name} {pin.version} loaded in the kernel"
                      + (f" from {pin.direct}" if pin.direct else ""))
        if pin.direct:
            new = replace(req, name=pin.name, direct=pin.direct, sources=(*req.sources, seen))
        else:
            new = replace(req, name=pin.name, specifier=f"=={pin.version}", url="", sources=(*req.sources, seen))
        if pin.name in merged:  # two guesses led to the same loaded distribution
            new = replace(new, sources=tuple(dict.fromkeys((*merged[pin.name].sources, *new.sources))))
        merged[pin.name] = new
    python = ".".join(live.python.split(".")[:2]) or static.python
    return static.with_changes(python=python, requirements=tuple(merged.values()))
