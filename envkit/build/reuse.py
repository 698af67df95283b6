"""Look-ups on the engine before a build: an image to reuse, a packages layer to build on.

The rules themselves are pure (``envkit.plan``: ``reuse_filter``, ``holds_lock``,
``layer_to_repeat``); this module asks the engine and reads the lock back from an image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..engine.images import inspect_image, list_images, read_file, read_files
from ..errors import EngineError
from ..plan import (
    LAYER_DIR,
    LOCK_FILE,
    BaseLayer,
    BuildOptions,
    holds_lock,
    may_build_on,
    recorded_layer,
    reuse_filter,
    usable_lock,
)
from ..spec import EnvSpec, ImageRecord, Lock, Pin
from .options import resolve_options


def read_lock(image_id: str, spec: EnvSpec, *, known: Lock | None = None,
              wheel_hashes: dict[str, dict[str, str]] | None = None) -> Lock:
    """The installed set recorded in the image (``/opt/envkit/lock.json``) as a Lock.

    Hashes come from the index (recorded during the build), from the lock the build installed,
    or from wheels downloaded on the host, whichever applies; pins without a source have none.
    """
    data = json.loads(read_file(image_id, LOCK_FILE))
    pins = []
    for p in data.get("packages", ()):
        hashes = tuple(p.get("hashes", ()))
        prior = known.pin(p["name"]) if known is not None else None
        if not hashes and prior is not None and prior.version == p["version"]:
            hashes = prior.hashes
        if not hashes and wheel_hashes:
            wheel = (wheel_hashes.get(p["name"]) or {}).get(p["version"])
            hashes = (wheel,) if wheel else ()
        pins.append(Pin(name=p["name"], version=p["version"], hashes=hashes, url=p.get("url", "")))
    return Lock(spec_digest=spec.digest(), python=data["python"], packages=tuple(pins), source="image",
                platform=data.get("platform", ""))


def image_record(image_id: str, spec: EnvSpec, tag: str) -> ImageRecord:
    """The record a notebook keeps of its image: id, readable tag, spec digest and size."""
    info = inspect_image(image_id)
    return ImageRecord(id=image_id, tag=tag, spec_digest=spec.digest(), size=info.size if info else 0)


def find_reusable(spec: EnvSpec, options: BuildOptions, lock: Lock | None = None, *,
                  extra_labels: Mapping[str, str] | None = None) -> tuple[str, Lock] | None:
    """The newest image built from the same spec digest, base, uid and platform, and its lock.

    It must carry ``extra_labels`` too (the configured ones: a test run reuses only its own
    images). When ``lock`` applies to the spec, the image must hold exactly its pins: a lock
    from a live kernel may pin versions an earlier build did not pick.
    """
    options = resolve_options(options)
    wanted = usable_lock(spec, lock, options)
    for image in list_images(reuse_filter(spec, options, extra_labels)):
        found = read_lock(image.id, spec, known=lock)
        if holds_lock(found, wanted):
            return image.id, found
    return None


def previous_layer(ref: str, spec: EnvSpec, options: BuildOptions, *, notebook: str) -> BaseLayer | None:
    """The packages layer of image ``ref`` when it is the same notebook's, with the same base, uid and platform.

    Repeating it lets the engine reuse it from its cache; the build then installs only what
    changed (one added package costs about one package's install, not the whole set).
    """
    options = resolve_options(options)
    info = inspect_image(ref) if ref else None
    if info is None:
        return None
    if not may_build_on(info.labels, spec, options, notebook=notebook):
        return None
    try:
        files = read_files(info.id, LAYER_DIR)
    except EngineError:
        return None  # made by an envkit without layer/ (or a hand-made image under that tag)
    return recorded_layer(files)


__all__ = ["find_reusable", "image_record", "previous_layer", "read_lock"]
