"""``devcontainer.json`` for a notebook: VS Code or Codespaces opens its image by digest.

The image is the one ``envkit push`` recorded (``name@sha256:…``), so a teammate's editor runs
exactly the environment the notebook was built in, with the Jupyter and Python extensions and
the venv's interpreter selected. The repository holding the ``.devcontainer`` folder is mounted
at ``/workspaces/<name>`` (the spec's default) and the notebook's folder is the workspace; the
container runs as the image's non-root user.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import RegistryError, UsageError

EXTENSIONS = ("ms-toolsai.jupyter", "ms-python.python")
MOUNT_ROOT = "/workspaces/${localWorkspaceFolderBasename}"


@dataclass(frozen=True, kw_only=True)
class DevcontainerExport:
    """The file written and what it opens."""

    path: Path
    image: str
    user: str
    workspace_folder: str


def workspace_root(folder: Path) -> Path:
    """The folder VS Code opens: the parent of the ``.devcontainer`` folder ``folder`` is (or is in)."""
    for candidate in (folder, *folder.parents):
        if candidate.name == ".devcontainer":
            return candidate.parent
    return folder.parent


def devcontainer_config(*, image: str, user: str, notebook_folder: PurePosixPath, name: str) -> dict[str, Any]:
    """The ``devcontainer.json`` content; ``notebook_folder`` is relative to the workspace root."""
    from .dockerfile import VENV
    from .hub import check_digest_reference

    check_digest_reference(image)
    if not user or user in ("root", "0") or any(c in user for c in ":\n\"'"):
        raise UsageError(f"image user {user!r}: a devcontainer needs the image's non-root user",
                         "rebuild the image with 'envkit build', which makes the user envkit")
    if notebook_folder.is_absolute() or ".." in notebook_folder.parts:
        raise UsageError(f"{notebook_folder}: the notebook's folder must be inside the workspace")
    rel = notebook_folder.as_posix()
    return {
        "name": f"{name} (envkit)",
        "image": image,
        "workspaceMount": f"source=${{localWorkspaceFolder}},target={MOUNT_ROOT},type=bind",
        "workspaceFolder": MOUNT_ROOT if rel in ("", ".") else f"{MOUNT_ROOT}/{rel}",
        "containerUser": user,
        "remoteUser": user,
        # VS Code gives the container user the host user's uid, so the mounted files stay writable.
        "updateRemoteUserUID": True,
        "init": True,
        "customizations": {"vscode": {
            "extensions": list(EXTENSIONS),
            "settings": {"python.defaultInterpreterPath": f"{VENV}/bin/python"},
        }},
    }


def _image_user(image_id: str) -> str:
    """The image's ``USER`` when it is on this engine, else envkit's (every envkit image has it)."""
    from .engine.images import inspect_image

    info = inspect_image(image_id) if image_id else None
    return (info.user if info else "") or "envkit"


def export_devcontainer(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> DevcontainerExport:
    """Write ``folder/devcontainer.json`` for the notebook at ``path`` (its pushed image by digest)."""
    from .notebook import atomic_write_text, read_notebook

    nb = Path(path).resolve()
    meta = read_notebook(nb).envkit()
    image = meta.image if meta is not None else None
    if image is None or not image.repo_digest:
        raise RegistryError(f"{nb}: no pushed image is recorded in it; a devcontainer opens an image by digest",
                            f"push it first: envkit push {nb} --to REPOSITORY")
    if meta is not None and meta.spec is not None and image.spec_digest and image.spec_digest != meta.spec.digest():
        raise RegistryError(f"{nb}: the pushed image was built for an older spec",
                            f"build and push it again: envkit build {nb} && envkit push {nb} --to REPOSITORY")
    out = Path(folder).resolve()
    root = workspace_root(out)
    try:
        rel = nb.parent.relative_to(root)
    except ValueError:
        raise UsageError(f"{nb.name}: the notebook is outside {root}, the folder VS Code will open",
                         f"write the devcontainer into the notebook's repository, e.g. {nb.parent / '.devcontainer'}") from None
    user = _image_user(image.id)
    config = devcontainer_config(image=image.repo_digest, user=user, notebook_folder=PurePosixPath(rel.as_posix()),
                                 name=nb.stem)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "devcontainer.json"
    atomic_write_text(target, json.dumps(config, indent=2) + "\n")
    return DevcontainerExport(path=target, image=image.repo_digest, user=user, workspace_folder=config["workspaceFolder"])


__all__ = ["DevcontainerExport", "EXTENSIONS", "devcontainer_config", "export_devcontainer", "workspace_root"]
