"""The hub flavour of a notebook's image, and its reference by digest for a team's JupyterHub.

A hub spawns one single-user server per user from an image: ``jupyterhub-singleuser`` at the
hub's major version, JupyterLab, and here the notebook's environment (its venv) with the
notebook's folder copied to ``/home/envkit/work``. The layer goes on top of the environment
image exactly like ``envkit launch``'s JupyterLab layer (same template search path, the host's
pip settings and CA bundle forwarded), reused by a content tag. ``push_hub_image`` pushes it next
to the environment image ``envkit push`` recorded and returns the registry digest that the
spawner profiles (``envkit.spawners``) and ``devcontainer.json`` pin.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from .errors import RegistryError, UsageError
from .events import Done, Note, Progress, Step, emit
from .labels import LABEL_KIND, LABEL_SPEC

if TYPE_CHECKING:
    from .build import BuildOptions

# The newest JupyterHub major on the index when this was written (6.1 at the time); a hub of
# another major passes --hub-version, since singleuser and hub must share a major version.
JUPYTERHUB_MAJOR = 6
HUB_REPOSITORY = "envkit-hub"
LABEL_HUB_BASE = "dev.envkit.hub-base"
LABEL_HUB_MAJOR = "dev.envkit.hub-major"
LABEL_HUB_SPEC = "dev.envkit.hub-spec"   # the notebook spec the hub image serves
WORKDIR = "/home/envkit/work"
MAX_FILES_BYTES = 200 << 20
_SKIP = {".git", ".ipynb_checkpoints", "__pycache__", ".venv", "node_modules", ".devcontainer"}

# The image reference grammar of the distribution project (reference/regexp.go), with the
# digest required: a profile pins content, never a tag that can move.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_DIGEST_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::[\w][\w.-]{{0,127}})?@(?P<digest>sha256:[0-9a-f]{{64}})")
_REPOSITORY = re.compile(rf"{_NAME}(?::[\w][\w.-]{{0,127}})?")


@dataclass(frozen=True, kw_only=True)
class HubImage:
    """The hub flavour of a notebook's image: local ID, content tag, and the registry digest once pushed."""

    id: str
    tag: str
    jupyterhub: str          # the requirement installed, e.g. "jupyterhub>=6,<7"
    user: str
    notebook: Path
    spec_digest: str
    repo_digest: str = ""


def _valid_name(name: str) -> bool:
    """Docker's reading: the first part is a registry only with a '.' or ':' or as localhost,
    otherwise it is a path component and must be lower case (``Team/x`` is refused)."""
    first, sep, _ = name.partition("/")
    if sep and not ("." in first or ":" in first or first == "localhost"):
        return re.fullmatch(_COMPONENT, first) is not None and len(name) <= 255
    return len(name) <= 255


def check_digest_reference(reference: str, *, what: str = "image") -> str:
    """``reference`` if it is ``name[:tag]@sha256:<64 hex>`` by the registry grammar, else a UsageError."""
    match = _DIGEST_REFERENCE.fullmatch(reference or "")
    if match is None or not _valid_name(match.group("name")):
        raise UsageError(f"{what} {reference!r} is not an image reference by digest (NAME@sha256:<64 hex digits>)",
                         "push the image first ('envkit push NB --to REPOSITORY') and use the digest it records")
    return reference


def check_repository(repository: str) -> str:
    """``repository`` if it is a valid ``name[:tag]`` (no digest), else a UsageError."""
    from .engine.registry import split_reference

    if not _REPOSITORY.fullmatch(repository or "") or not _valid_name(split_reference(repository)[0]):
        raise UsageError(f"--to {repository!r} is not a repository name",
                         "e.g. registry.example.com/team/analysis (lower case, no digest)")
    return repository


def hub_requirement(hub_version: str | int | None = None) -> str:
    """The ``jupyterhub`` requirement for a hub of ``hub_version`` (``6``, ``5.2``, ``5.2.1``)."""
    if hub_version in (None, ""):
        major = JUPYTERHUB_MAJOR
    else:
        try:
            major = Version(str(hub_version)).major
        except InvalidVersion:
            major = -1
        if major < 4:
            raise UsageError(f"--hub-version {hub_version!r}: expected the hub's JupyterHub version, 4 or newer",
                             "see the hub's 'jupyterhub --version', e.g. --hub-version 5")
    return f"jupyterhub>={major},<{major + 1}"


def project_files(folder: Path) -> dict[str, bytes]:
    """The notebook's folder as context files under ``work/`` (hidden and cache folders left out)."""
    files: dict[str, bytes] = {}
    total = 0
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not any(part in _SKIP or part.startswith(".") for part in rel.parts):
            total += p.stat().st_size
            if total > MAX_FILES_BYTES:
                raise UsageError(f"{folder}: more than {MAX_FILES_BYTES >> 20} MB to copy into the hub image",
                                 "keep data out of the notebook's folder (mount it on the hub instead)")
            files[f"work/{rel.as_posix()}"] = p.read_bytes()
    return files


def hub_dockerfile(env_image: str, user: str, *, jupyterhub: str, spec_digest: str,
                   has_files: bool) -> tuple[str, dict[str, str]]:
    """The hub layer's Dockerfile on top of ``env_image`` and its labels."""
    from . import __version__
    from .build import forwarding_variables
    from .dockerfile import render_template
    from .launch import JUPYTERLAB

    labels = {LABEL_KIND: "hub", LABEL_HUB_BASE: env_image, LABEL_HUB_MAJOR: jupyterhub, LABEL_HUB_SPEC: spec_digest,
              # Blank what envkit's build looks up, so this is never reused as the environment.
              LABEL_SPEC: "", "dev.envkit.build-key": ""}
    text = render_template("hub.Dockerfile.j2", base_image=env_image, jupyterhub=jupyterhub, jupyterlab=JUPYTERLAB,
                           user=user or "envkit", workdir=WORKDIR, has_files=has_files, envkit_version=__version__,
                           labels=sorted(labels.items()), **forwarding_variables())
    return text, labels


def content_tag(text: str, files: dict[str, bytes]) -> str:
    """``envkit-hub:<16 hex>`` over the Dockerfile and every context file (names and bytes)."""
    h = hashlib.sha256(text.encode())
    for name in sorted(files):
        h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return f"{HUB_REPOSITORY}:{h.hexdigest()[:16]}"


def ensure_hub_image(path: str | os.PathLike[str], *, hub_version: str | int | None = None,
                     options: BuildOptions | None = None, progress: Progress | None = None) -> HubImage:
    """The hub image for the notebook at ``path``: its environment image built if needed, the
    hub layer reused by content tag, else built."""
    from .build import BuildOptions, build_dockerfile, ensure_image
    from .engine.images import inspect_image

    nb = Path(path).resolve()
    if not nb.is_file():
        raise UsageError(f"{path}: no such notebook")
    jupyterhub = hub_requirement(hub_version)
    emit(progress, Step(n=1, total=2, text=f"environment image for {nb.name}"))
    record = ensure_image(nb, options=options or BuildOptions(), progress=progress)
    info = inspect_image(record.id)
    user = (info.user if info else "") or "envkit"
    if user in ("root", "0"):
        raise UsageError(f"{nb.name}: its image runs as root; a hub image needs the non-root user envkit's build makes",
                         f"rebuild it with 'envkit build {nb}'")
    files = project_files(nb.parent)
    text, labels = hub_dockerfile(record.id, user, jupyterhub=jupyterhub, spec_digest=record.spec_digest,
                                  has_files=bool(files))
    tag = content_tag(text, files)
    emit(progress, Step(n=2, total=2, text=f"hub image ({jupyterhub}, {len(files)} file(s) of {nb.parent.name}/)"))
    found = inspect_image(tag)
    if found is not None:
        emit(progress, Note(text=f"reusing the hub image {tag}"))
        image_id = found.id
    else:
        image_id = build_dockerfile(text, files, tag=tag, labels=labels, options=options or BuildOptions(),
                                    progress=progress)
    return HubImage(id=image_id, tag=tag, jupyterhub=jupyterhub, user=user, notebook=nb,
                    spec_digest=record.spec_digest)


def hub_repository(path: Path, to: str | None) -> str:
    """Where the hub image goes: ``to``, else the repository ``envkit push`` recorded for the notebook."""
    from .engine.registry import split_reference
    from .notebook import read_notebook

    if to:
        return split_reference(check_repository(to))[0]
    meta = read_notebook(path).envkit()
    recorded = meta.image.repo_digest if meta is not None and meta.image is not None else ""
    if not recorded:
        raise RegistryError(f"{path}: no pushed image is recorded in it, so envkit does not know the team's registry",
                            f"push it first (envkit push {path} --to REPOSITORY) or pass --to REPOSITORY")
    return split_reference(recorded)[0]


def push_hub_image(path: str | os.PathLike[str], *, to: str | None = None, hub_version: str | int | None = None,
                   options: BuildOptions | None = None, progress: Progress | None = None) -> HubImage:
    """Build (or reuse) the notebook's hub image and push it; returns it with its registry digest.

    The tag is ``envkit-<spec digest>-hub<major>``: one per environment and hub version, next to the
    environment image's own tag. A push of unchanged content gives the same digest again.
    """
    from dataclasses import replace

    from .engine import registry
    from .engine.images import tag_image
    from .share import default_tag

    nb = Path(path).resolve()
    repository = hub_repository(nb, to)
    image = ensure_hub_image(nb, hub_version=hub_version, options=options, progress=progress)
    major = image.jupyterhub.split(">=")[1].split(",")[0]
    tag = f"{default_tag(image.spec_digest)}-hub{major}"
    emit(progress, Step(n=0, total=0, text=f"pushing {repository}:{tag}"))
    tag_image(image.id, f"{repository}:{tag}")
    repo_digest = check_digest_reference(registry.push(repository, tag, progress=progress))
    emit(progress, Done(text=f"pushed {repo_digest}"))
    return replace(image, repo_digest=repo_digest)


__all__ = ["HubImage", "JUPYTERHUB_MAJOR", "LABEL_HUB_BASE", "LABEL_HUB_MAJOR", "LABEL_HUB_SPEC", "WORKDIR",
           "check_digest_reference", "check_repository", "content_tag", "ensure_hub_image", "hub_dockerfile",
           "hub_repository", "hub_requirement", "project_files", "push_hub_image"]
