"""``envkit gc``: remove stale envkit containers (``envkit.orphans``), then images nothing uses (``envkit.cleanup``)."""

from __future__ import annotations

import argparse

from ..ui import UI

HELP = ("remove stopped or orphaned envkit containers and unused envkit images: untagged or older duplicates "
        "with no container (--dry-run to look first)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    p.add_argument("--all", action="store_true", help="also remove tagged images that no container uses")
    p.add_argument("--min-age", type=float, default=10.0,
                   help="only images and ownerless stopped containers older than this many minutes "
                        "(default 10: spares builds in progress)")


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..cleanup import collect_garbage
    from ..orphans import remove_stale_containers

    with ui.progress("gc") as progress:
        # Containers first: an image a stale container was made from is not "unused" until it goes.
        stale = remove_stale_containers(dry_run=args.dry_run, min_age=args.min_age * 60, progress=progress)
        removed = collect_garbage(dry_run=args.dry_run, everything=args.all, min_age=args.min_age * 60,
                                  progress=progress)
    if stale:
        ui.table(["container", "kind", "state", "why"], [[c.name, c.kind, c.status, c.reason] for c in stale],
                 title="would remove:" if args.dry_run else "removed:")
    if not removed:
        if not stale:
            ui.message("nothing to remove")
        return 0
    rows = [[", ".join(g.image.tags) or "<none>", g.image.id[7:19], f"{g.image.size / 1e6:.0f} MB", g.reason]
            for g in removed]
    ui.table(["image", "id", "size", "why"], rows,
             title="would remove:" if args.dry_run else "removed:")
    return 0
