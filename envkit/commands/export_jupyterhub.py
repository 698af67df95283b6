"""``envkit export jupyterhub NB [--spawner docker|swarm|kube]``: a hub profile by image digest.

Builds (or reuses) the notebook's hub image, pushes it next to the image ``envkit push``
recorded (or to ``--to``), and prints the ``jupyterhub_config.py`` lines for the spawner. With
``--image NAME@sha256:…`` nothing is built or pushed: that image is used as it is.
"""

from __future__ import annotations

import argparse

from ..ui import UI
from . import add_notebook_argument, notebook_path

HELP = "print a JupyterHub spawner profile (DockerSpawner, SwarmSpawner, KubeSpawner) for the notebook"


def add_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options of the jupyterhub form (shared with ``envkit export jupyterhub``)."""
    p.add_argument("--spawner", choices=("docker", "swarm", "kube"), default="docker",
                   help="DockerSpawner, SwarmSpawner or KubeSpawner (default: docker)")
    p.add_argument("--hub-version", default=None, metavar="VERSION",
                   help="the hub's JupyterHub version; the image gets jupyterhub-singleuser of that major")
    p.add_argument("--to", default=None, metavar="REPOSITORY",
                   help="push the hub image here (default: the repository 'envkit push' recorded)")
    p.add_argument("--image", default=None, metavar="NAME@sha256:DIGEST",
                   help="use this hub image as it is (no build, no push)")
    p.add_argument("--pull-secret", action="append", default=[], metavar="NAME",
                   help="Kubernetes image pull secret (repeatable)")
    p.add_argument("--mem-limit", help="memory per user server, e.g. 4g (kernel option form)")
    p.add_argument("--cpus", type=float, help="CPUs per user server, e.g. 2 or 0.5")
    p.add_argument("--gpus", help="GPUs: a count ('all' or device ids with --spawner docker)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    add_options(p)


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..errors import UsageError
    from ..hub import JUPYTERHUB_MAJOR, check_digest_reference, hub_requirement, push_hub_image
    from ..kernels.options import KernelOptions
    from ..spawners import HubProfile, memory_bytes, render_config

    path = notebook_path(args, ui).resolve()
    if not path.is_file():
        raise UsageError(f"envkit export jupyterhub: {path}: no such notebook",
                         "name the notebook the hub image serves, e.g. 'envkit export jupyterhub analysis.ipynb'")
    gpus = args.gpus
    # The kernel options' own checks first: one set of rules for kernels and hub servers.
    options = KernelOptions(image=args.image or "hub", mem_limit=args.mem_limit, cpus=args.cpus,
                            gpus=int(gpus) if gpus and gpus.isdigit() else gpus)
    if args.image:
        image = check_digest_reference(args.image, what="--image")
        jupyterhub = hub_requirement(args.hub_version) if args.hub_version else ""
    else:
        with ui.progress(f"hub image for {path.name}") as progress:
            pushed = push_hub_image(path, to=args.to, hub_version=args.hub_version, progress=progress)
        image, jupyterhub = pushed.repo_digest, pushed.jupyterhub
    profile = HubProfile(image=image, notebook=path.name, mem_bytes=memory_bytes(options.mem_limit),
                         cpus=options.cpus, gpus=options.gpus, pull_secrets=tuple(args.pull_secret),
                         jupyterhub=jupyterhub or f"jupyterhub {JUPYTERHUB_MAJOR}.x assumed")
    ui.text_block(render_config(profile, args.spawner, notebook_name=path.name))
    return 0
