"""``envkit export NB`` in its forms: ``-o X.envkit.tar`` (image + notebook), ``--binder DIR``
(repo2docker files), ``--devcontainer DIR`` (VS Code / Codespaces), and ``envkit export
jupyterhub NB`` (a spawner profile; its options live in ``export_jupyterhub``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..ui import UI
from . import export_jupyterhub, notebook_path

HELP = ("export the notebook with its image to a tar (-o), as a Binder folder (--binder DIR), as a "
        "devcontainer (--devcontainer DIR), or as a hub profile ('export jupyterhub NB')")
FORMS = ("jupyterhub",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebook", nargs="?", help="the notebook (default: the current notebook in Jupyter), "
                                               "or 'jupyterhub' followed by the notebook")
    p.add_argument("form_notebook", nargs="?", metavar="NOTEBOOK", help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", metavar="FILE", help="write image and notebook to FILE (.envkit.tar)")
    p.add_argument("--binder", metavar="DIR",
                   help="write repo2docker files (requirements.txt, runtime.txt, apt.txt) to DIR")
    p.add_argument("--devcontainer", metavar="DIR",
                   help="write DIR/devcontainer.json opening the pushed image by digest (e.g. DIR=.devcontainer)")
    export_jupyterhub.add_options(p.add_argument_group("export jupyterhub NB"))


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.notebook in FORMS and not Path(args.notebook).is_file():
        if args.output or args.binder or args.devcontainer:
            raise UsageError("envkit export jupyterhub: -o, --binder and --devcontainer are other forms",
                             "e.g. 'envkit export jupyterhub analysis.ipynb --spawner kube'")
        args.notebook = args.form_notebook
        return export_jupyterhub.run(args, ui)
    if args.form_notebook:
        raise UsageError(f"envkit export: unexpected {args.form_notebook!r}",
                         f"name one notebook; the forms are: {', '.join(FORMS)}")
    if sum(map(bool, (args.output, args.binder, args.devcontainer))) != 1:
        raise UsageError("envkit export: give exactly one of -o FILE, --binder DIR or --devcontainer DIR",
                         "e.g. 'envkit export analysis.ipynb -o analysis.envkit.tar'")
    path = notebook_path(args, ui)
    if args.binder:
        from ..binder import export_binder

        result = export_binder(path, args.binder)
        ui.table(["file", "lines"], [[str(f), n] for f, n in result.files],
                 title=f"Binder files for {path.name} (pins from the {result.pins_from}):")
        return 0
    if args.devcontainer:
        from ..devcontainer import export_devcontainer

        written = export_devcontainer(path, args.devcontainer)
        ui.message(f"wrote {written.path} (image {written.image}, workspace {written.workspace_folder})")
        return 0
    from ..share import export_notebook

    with ui.progress(f"export {path.name}") as progress:
        exported = export_notebook(path, args.output, progress=progress)
    ui.message(f"wrote {exported.path} ({exported.size / 1e6:.1f} MB, image {exported.image_id[:19]})")
    return 0
