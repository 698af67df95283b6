"""``envkit images``: envkit's images with their notebooks, sizes and ages."""

from __future__ import annotations

import argparse
import time

from ..ui import UI

HELP = "list envkit's images (notebook, tags, size, age)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def age(seconds: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..engine.images import list_images
    from ..labels import LABEL_KIND, LABEL_NOTEBOOK, LABEL_SPEC

    images = list_images()
    now = time.time()
    if args.json:
        ui.json([{"id": i.id, "tags": list(i.tags), "notebook": i.labels.get(LABEL_NOTEBOOK, ""),
                  "kind": i.labels.get(LABEL_KIND, ""), "spec_digest": i.labels.get(LABEL_SPEC, ""),
                  "size": i.size, "created": i.created} for i in images])
        return 0
    if not images:
        ui.message("no envkit images on this engine")
        return 0
    rows = [[", ".join(i.tags) or "<none>", i.id[7:19], i.labels.get(LABEL_KIND, ""),
             i.labels.get(LABEL_NOTEBOOK, "") or "-", f"{i.size / 1e6:.0f} MB", age(now - i.created)]
            for i in images]
    ui.table(["image", "id", "kind", "notebook", "size", "age"], rows)
    return 0
