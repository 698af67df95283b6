"""Which envkit images are unused, and removing them (``envkit gc``).

An envkit image (label ``dev.envkit``) is *unused* when no container, running or stopped,
was created from it, it is older than ``min_age`` (a build in progress tags its image only at
its end), and one of these holds:

* it has no tag left: a rebuild moved its readable and content tags to a newer image;
* it is an older duplicate: a newer envkit image has the same build key (same spec digest,
  base image, uid and platform), e.g. after ``envkit build --no-cache``;
* ``everything=True`` was asked for (``envkit gc --all``): any image no container uses.

Images without the ``dev.envkit`` label are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from .engine.images import ImageInfo, containers_using, list_images, remove_image
from .errors import EngineError
from .events import Done, Note, Progress, emit
from .labels import LABEL_BUILD_KEY


@dataclass(frozen=True, kw_only=True)
class Garbage:
    """An image ``gc`` removes (or would remove), and why."""

    image: ImageInfo
    reason: str


def find_garbage(*, everything: bool = False, min_age: float = 600.0,
                 labels: Mapping[str, str] | None = None) -> list[Garbage]:
    """The unused envkit images (see the module's docstring), newest first."""
    images = list_images(labels)
    now = time.time()
    newest_by_key: dict[str, str] = {}
    for image in images:  # newest first
        key = image.labels.get(LABEL_BUILD_KEY)
        if key:
            newest_by_key.setdefault(key, image.id)
    found = []
    for image in images:
        if now - image.created < min_age or containers_using(image.id):
            continue
        key = image.labels.get(LABEL_BUILD_KEY)
        if not image.tags:
            reason = "no tag points at it (superseded by a newer build)"
        elif key and newest_by_key.get(key) != image.id:
            reason = f"older duplicate of {newest_by_key[key][7:19]} (same spec and options)"
        elif everything:
            reason = "no container uses it"
        else:
            continue
        found.append(Garbage(image=image, reason=reason))
    return found


def collect_garbage(*, dry_run: bool = False, everything: bool = False, min_age: float = 600.0,
                    labels: Mapping[str, str] | None = None, progress: Progress | None = None) -> list[Garbage]:
    """Remove the unused envkit images (none when ``dry_run``); returns what was (or would be) removed."""
    found = find_garbage(everything=everything, min_age=min_age, labels=labels)
    removed = []
    for item in found:
        if dry_run:
            removed.append(item)
            continue
        try:
            remove_image(item.image.id, force=bool(item.image.tags))
        except EngineError as exc:  # one image in use elsewhere must not stop the rest
            emit(progress, Note(text=f"kept {item.image.id[7:19]}: {exc}", level="warning"))
            continue
        removed.append(item)
    size = sum(g.image.size for g in removed)
    emit(progress, Done(text=f"{'would remove' if dry_run else 'removed'} {len(removed)} image(s), "
                             f"{size / 1e6:.0f} MB"))
    return removed


__all__ = ["Garbage", "collect_garbage", "find_garbage"]
