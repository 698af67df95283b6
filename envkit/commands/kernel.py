"""``envkit kernel install|list|remove``: kernelspecs whose kernels run in a notebook's image.

In a notebook, ``%envkit kernel`` with no action installs the kernelspec for this notebook and
says which kernel to pick.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..ui import UI
from . import add_as_of_argument

HELP = "install, list or remove Jupyter kernelspecs that run a notebook's kernel in its container"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    inst = sub.add_parser("install", help="install a kernelspec for a notebook or an image")
    inst.add_argument("target", nargs="?", metavar="NOTEBOOK|IMAGE",
                      help="a notebook (its image is built if needed) or an image reference "
                           "(default: the current notebook in Jupyter)")
    _install_options(inst)
    sub.add_parser("list", help="list the installed envkit kernelspecs")
    rm = sub.add_parser("remove", help="remove an envkit kernelspec")
    rm.add_argument("name", help="the kernelspec name (see 'envkit kernel list')")


def _install_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", default="", help="run this image instead of the notebook's")
    p.add_argument("--name", help="kernelspec name (default: envkit-<notebook or image name>)")
    p.add_argument("--display-name", help="shown in the kernel picker (default: 'Python X.Y (envkit: NAME)')")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", default=True, help="install for this user (default)")
    where.add_argument("--prefix", help="install under PREFIX/share/jupyter/kernels (e.g. a venv)")
    p.add_argument("--argv-only", action="store_true",
                   help="plain argv launcher only, for front ends that ignore kernel provisioners")
    p.add_argument("--mem-limit", help="memory limit of the kernel's container, e.g. 4g "
                                       "(default: 3/4 of the engine's memory; 0: none)")
    p.add_argument("--pids-limit", type=int, help="process limit of the kernel's container (default 4096; -1: none)")
    p.add_argument("--cpus", type=float, help="CPU limit, e.g. 2 or 0.5")
    p.add_argument("--gpus", help="GPUs: 'all', a count, or comma-separated device ids")
    p.add_argument("--network", choices=("auto", "host", "bridge"), default="auto",
                   help="host networking (auto: on Linux) or ports published on 127.0.0.1")
    p.add_argument("--base-image", default="", help="base image of the notebook's image, stored in its spec (see 'envkit build')")
    add_as_of_argument(p)


def run(args: argparse.Namespace, ui: UI) -> int:
    action = args.action or ("install" if ui.interactive_notebook else None)
    if action is None:
        raise UsageError("envkit kernel: say install, list or remove", "see 'envkit kernel --help'")
    if action == "list":
        return _list(ui)
    if action == "remove":
        from ..kernels.kernelspec import remove

        path = remove(args.name)
        ui.message(f"removed kernelspec {args.name} ({path})")
        return 0
    return _install(args, ui)


def _install(args: argparse.Namespace, ui: UI) -> int:
    from ..kernels import kernelspec, targets
    from ..kernels.options import KernelOptions

    target = getattr(args, "target", None)
    if not target:
        found = ui.default_notebook()
        if found is None and not getattr(args, "image", ""):
            raise UsageError("envkit kernel install: name a notebook or an image",
                             "e.g. 'envkit kernel install analysis.ipynb'")
        target = str(found) if found else args.image
    t = _resolve(targets, target, args, ui)
    options = KernelOptions(  # KernelOptions parses --gpus ("all", a count, ids), as for a kernelspec
        image=t.image, network=getattr(args, "network", "auto"), mem_limit=getattr(args, "mem_limit", None),
        cpus=getattr(args, "cpus", None), gpus=getattr(args, "gpus", None),
        pids_limit=getattr(args, "pids_limit", None),
    )
    name = getattr(args, "name", None) or kernelspec.kernel_name(t.label)
    display = getattr(args, "display_name", None) or f"Python {t.python} (envkit: {t.label})"
    installed = kernelspec.install(options, name=name, display_name=display,
                                   prefix=getattr(args, "prefix", None),
                                   argv_only=getattr(args, "argv_only", False))
    ui.message(f"installed kernelspec {installed.name} ({installed.path}) for {t.image}")
    ui.message(f"pick the kernel \"{installed.display_name}\" (Kernel > Change Kernel), "
               f"or: jupyter lab --MappingKernelManager.default_kernel_name={installed.name}")
    return 0


def _resolve(targets, target: str, args: argparse.Namespace, ui: UI):  # type: ignore[no-untyped-def]
    image, base = getattr(args, "image", ""), getattr(args, "base_image", "")
    if target.endswith(".ipynb") and not image:
        # Only a notebook may need a build: show progress for that one.
        with ui.progress("kernel image") as progress:
            return targets.resolve(target, base_image=base, live=ui.interactive_notebook,
                                   as_of=getattr(args, "as_of", ""), progress=progress)
    return targets.resolve(target, image=image, base_image=base)


def _list(ui: UI) -> int:
    from ..kernels.kernelspec import list_installed

    rows = [(k.name, k.display_name, k.image, "argv" if k.argv_only else "provisioner", k.path)
            for k in list_installed()]
    if not rows:
        ui.message("no envkit kernelspecs installed ('envkit kernel install NOTEBOOK' adds one)")
        return 0
    ui.table(("name", "display name", "image", "form", "path"), rows)
    return 0
