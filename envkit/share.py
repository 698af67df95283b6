"""Sharing a notebook's image: push/pull by digest through a registry, export/import as a tar.

The notebook is the unit of sharing: after a push its metadata holds the repository digest
(``name@sha256:…``), so a teammate pulls exactly that image and envkit checks that the image's
spec label matches the notebook's spec. Without a registry, ``export`` writes one tar holding
``docker save`` output, the notebook and a manifest; ``import`` checks it before loading anything
(``share_archive``) and never applies the archive's own tags.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .engine import registry
from .engine.images import ImageInfo, inspect_image, tag_image
from .errors import ArchiveError, NotebookError, RegistryError
from .events import Done, Progress, Step, emit
from .labels import LABEL_SPEC
from .notebook import read_notebook, update_envkit
from .share_archive import IMAGE_MEMBER, MANIFEST, NOTEBOOK_DIR
from .spec import EnvkitMetadata, ImageRecord
from .version import __version__

ARCHIVE_FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class PushResult:
    """A pushed image: its repository digest (``name@sha256:…``) and local ID."""

    repo_digest: str
    image_id: str


@dataclass(frozen=True, kw_only=True)
class PullResult:
    """A pulled image, checked against the notebook's spec."""

    repo_digest: str
    image_id: str
    spec_digest: str


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """An ``.envkit.tar`` written: its path, size and the image it carries."""

    path: Path
    size: int
    image_id: str


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """An archive loaded: the image ID, and the notebook restored (or left as it was)."""

    image_id: str
    notebook: Path
    notebook_written: bool
    tag: str = ""


def _rebuild_hint(path: Path) -> str:
    return f"rebuild it from the notebook's lock instead: envkit build {path}"


def _metadata(path: Path) -> EnvkitMetadata:
    meta = read_notebook(path).envkit()
    if meta is None or meta.spec is None:
        raise NotebookError(f"{path}: has no envkit environment yet",
                            f"capture and build it first: envkit build {path}")
    return meta


def _local_image(path: Path, meta: EnvkitMetadata) -> ImageInfo:
    """The notebook's image as recorded in its metadata, checked against its spec."""
    record = meta.image
    info = None
    for ref in (record.id, record.tag) if record else ():
        if ref and (info := inspect_image(ref)) is not None:
            break
    if info is None:
        raise RegistryError(f"{path}: its image is not on this engine",
                            f"build it with 'envkit build {path}' (or 'envkit pull {path}' if it was pushed)")
    assert meta.spec is not None
    if info.labels.get(LABEL_SPEC) != meta.spec.digest():
        raise RegistryError(f"{path}: the image {info.id[:19]} was built for another spec "
                            f"({info.labels.get(LABEL_SPEC, 'no spec label')})",
                            f"rebuild it: envkit build {path}")
    return info


def default_tag(spec_digest: str) -> str:
    """The tag a push uses when none is given: the spec digest's first 12 hex digits."""
    return "envkit-" + spec_digest.removeprefix("sha256:")[:12]


def push_notebook(path: str | os.PathLike[str], to: str, *, tag: str | None = None,
                  progress: Progress | None = None) -> PushResult:
    """Push the notebook's image to repository ``to`` and record the repository digest in it."""
    nb = Path(path)
    meta = _metadata(nb)
    info = _local_image(nb, meta)
    repository, given_tag, digest = registry.split_reference(to)
    if digest:
        raise RegistryError(f"push to {to}: name a repository (and tag), not a digest",
                            "e.g. --to registry.example.com/team/analysis")
    assert meta.spec is not None
    tag = tag or given_tag or default_tag(meta.spec.digest())
    emit(progress, Step(n=1, total=2, text=f"pushing {repository}:{tag}"))
    tag_image(info.id, f"{repository}:{tag}")
    repo_digest = registry.push(repository, tag, progress=progress)
    emit(progress, Step(n=2, total=2, text="recording the digest in the notebook"))
    record = meta.image or ImageRecord(id=info.id)
    update_envkit(nb, image=replace(record, id=info.id, spec_digest=meta.spec.digest(),
                                    repo_digest=repo_digest, size=info.size))
    emit(progress, Done(text=f"pushed {repo_digest}"))
    return PushResult(repo_digest=repo_digest, image_id=info.id)


def pull_notebook(path: str | os.PathLike[str], *, progress: Progress | None = None) -> PullResult:
    """Pull exactly the digest the notebook records and check its spec label against the notebook."""
    nb = Path(path)
    meta = _metadata(nb)
    assert meta.spec is not None
    ref = meta.image.repo_digest if meta.image else ""
    if not ref:
        raise NotebookError(f"{nb}: no pushed image is recorded in it",
                            f"push it first (envkit push {nb} --to REPOSITORY), or {_rebuild_hint(nb)}")
    emit(progress, Step(n=1, total=2, text=f"pulling {ref}"))
    try:
        info = registry.pull(ref, progress=progress)
    except RegistryError as exc:
        raise RegistryError(exc.message, f"{exc.hint + '; or ' if exc.hint else ''}{_rebuild_hint(nb)}") from exc
    emit(progress, Step(n=2, total=2, text="checking the image's spec label"))
    label = info.labels.get(LABEL_SPEC, "")
    if label != meta.spec.digest():
        raise RegistryError(f"{nb}: the pulled image {ref} was built for spec {label or '(none)'}, "
                            f"but the notebook's spec is {meta.spec.digest()}",
                            f"the notebook changed since the push; {_rebuild_hint(nb)}")
    if meta.image and meta.image.tag and meta.image.tag not in info.tags:
        # A pull by digest leaves the image nameless; give it the name the notebook records.
        repository, tag, _ = registry.split_reference(meta.image.tag)
        tag_image(info.id, f"{repository}:{tag or 'latest'}")
    if meta.image and meta.image.id != info.id:
        update_envkit(nb, image=replace(meta.image, id=info.id))
    emit(progress, Done(text=f"pulled {ref} ({info.id[:19]})"))
    return PullResult(repo_digest=ref, image_id=info.id, spec_digest=label)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, fileobj=io.BytesIO(data))


def export_notebook(path: str | os.PathLike[str], output: str | os.PathLike[str], *,
                    progress: Progress | None = None) -> ExportResult:
    """Write ``output`` (``.envkit.tar``): the image (docker save), the notebook and a manifest."""
    nb = Path(path)
    meta = _metadata(nb)
    info = _local_image(nb, meta)
    assert meta.spec is not None
    out = Path(output)
    manifest = {"format": ARCHIVE_FORMAT, "envkit": __version__, "notebook": nb.name,
                "image_id": info.id, "spec_digest": meta.spec.digest(),
                "repo_digest": meta.image.repo_digest if meta.image else "",
                "tags": list(info.tags)}
    emit(progress, Step(n=1, total=2, text=f"saving image {info.id[:19]}"))
    # A tar member needs its size up front, so the image goes to a temporary file first.
    with tempfile.TemporaryFile(dir=out.parent if out.parent.exists() else None) as tmp:
        # docker save keeps one name: the notebook's own tag when it has one.
        recorded = meta.image.tag if meta.image else ""
        name = recorded if recorded in info.tags else (info.tags[0] if info.tags else info.id)
        registry.save(name, tmp, progress=progress)
        tmp.seek(0)
        emit(progress, Step(n=2, total=2, text=f"writing {out}"))
        partial = out.with_name(f".{out.name}.partial")
        try:
            with tarfile.open(partial, "w") as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
                _add_bytes(tar, f"{NOTEBOOK_DIR}{nb.name}", nb.read_bytes())
                member = tarfile.TarInfo(IMAGE_MEMBER)
                member.size = os.fstat(tmp.fileno()).st_size
                member.mode = 0o644
                tar.addfile(member, fileobj=tmp)
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    size = out.stat().st_size
    emit(progress, Done(text=f"exported {nb.name} and its image to {out} ({size / 1e6:.1f} MB)"))
    return ExportResult(path=out, size=size, image_id=info.id)


def import_archive(archive: str | os.PathLike[str], *, dest: str | os.PathLike[str] | None = None,
                   progress: Progress | None = None) -> ImportResult:
    """Check an ``.envkit.tar`` without loading it, load its image untagged, tag it, restore the notebook.

    Nothing reaches the engine before the archive passed every check (``share_archive``); the
    archive's own tags are never applied: the image gets only the content tag envkit computes
    for the notebook (``envkit/<stem>:<spec digest>``), which the checked spec label vouches for.
    """
    from .build import BuildOptions, image_tags, notebook_label
    from .share_archive import inspect_archive, load_stream

    src = Path(archive)
    folder = Path(dest) if dest is not None else src.parent
    contents = inspect_archive(src)
    expected = contents.image_id
    emit(progress, Step(n=1, total=2, text=f"loading image {expected[:19]}"))
    registry.load(load_stream(contents), progress=progress)
    info = inspect_image(expected)
    if info is None or info.id != expected:
        raise ArchiveError(f"{src}: the engine did not load the image {expected[:19]} the archive holds",
                            "the archive is damaged or was altered; export it again")
    assert contents.metadata.spec is not None
    target = folder / contents.notebook_name
    _, content_tag = image_tags(contents.metadata.spec, notebook_label(target), BuildOptions())
    tag_image(info.id, content_tag)
    emit(progress, Step(n=2, total=2, text="restoring the notebook"))
    written = not target.exists()
    if written:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(contents.notebook_data)
    emit(progress, Done(text=f"imported {expected[:19]} as {content_tag}"
                        + (f"; notebook restored at {target}" if written else f"; {target} exists, left as it was")))
    return ImportResult(image_id=info.id, notebook=target, notebook_written=written, tag=content_tag)


__all__ = ["ExportResult", "ImportResult", "PullResult", "PushResult", "default_tag", "export_notebook",
           "import_archive", "pull_notebook", "push_notebook"]
