"""``envkit build NB``: build (or reuse) the notebook's image and write its lock back."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..ui import UI
from . import add_as_of_argument, add_notebook_argument, notebook_path

if TYPE_CHECKING:
    from ..build import BuildOptions

HELP = "build the notebook's image (or reuse one of the same spec) and store its lock in the notebook"


def add_build_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``build`` and ``dockerfile``."""
    p.add_argument("--base-image", default="",
                   help="image to build FROM, stored in the notebook's spec (default: the stored one, else "
                        "$ENVKIT_BASE_IMAGE, else base_image in ~/.config/envkit/config.toml, else python:X.Y-slim)")
    p.add_argument("--tag", default="", help="readable image name (default: envkit/<notebook>-<hash of its path>:latest)")
    p.add_argument("--platform", default="", help="target platform, e.g. linux/amd64")
    p.add_argument("--uid", type=int, default=None,
                   help="uid of the image's non-root user (default: $ENVKIT_UID, else yours; 1000 for root)")
    add_as_of_argument(p)
    p.add_argument("--no-lock", action="store_true",
                   help="ignore the notebook's lock and any image of the same spec: resolve again")


def build_options(args: argparse.Namespace) -> BuildOptions:
    """BuildOptions from parsed arguments."""
    from ..build import BuildOptions

    # uid None: the one default rule of every front end (envkit.settings.default_uid).
    return BuildOptions(base_image=args.base_image, tag=args.tag, platform=args.platform, uid=args.uid,
                        no_cache=getattr(args, "no_cache", False), use_lock=not args.no_lock,
                        as_of=getattr(args, "as_of", ""))


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    add_build_options(p)
    p.add_argument("--no-cache", action="store_true", help="build every layer again (no reuse, no layer cache)")
    p.add_argument("--dry-run", action="store_true", help="print the Dockerfile and the context's files; build nothing")


def run(args: argparse.Namespace, ui: UI) -> int:
    from dataclasses import replace

    from ..build import build_notebook, render_notebook

    path = notebook_path(args, ui)
    # In a notebook, pin to the versions this kernel has loaded: what %envkit capture shows is
    # what the build installs.
    options = replace(build_options(args), live=ui.interactive_notebook)
    if args.dry_run:
        context = render_notebook(path, options=options)
        ui.text_block(context.dockerfile)
        rows = [[name, len(context.files.get(name, context.dockerfile.encode()))] for name in context.names()]
        ui.table(["context file", "bytes"], rows, title="build context:")
        ui.message(f"packages: {context.install.origin}")
        return 0
    with ui.progress(f"build {path.name}") as progress:
        result = build_notebook(path, options=options, progress=progress)
    how = "reused" if result.reused else "built"
    ui.message(f"{how} {result.image.tag} ({result.image.id[7:19]}, {result.image.size / 1e6:.0f} MB) "
               f"in {result.seconds:.1f}s")
    for tag in result.tags[1:]:
        ui.message(f"also tagged {tag}")
    hashed = sum(1 for p in result.lock.packages if p.hashes)
    ui.message(f"wrote the lock ({len(result.lock.packages)} packages, {hashed} with hashes; "
               f"Python {result.lock.python}) and the image into {path}")
    return 0
