"""Reading an ``.envkit.tar`` before anything reaches the engine, and the stream that is loaded.

An archive is someone else's file. ``docker load`` trusts it: it applies every tag the
archive's own ``manifest.json`` (``RepoTags``), ``repositories`` file or OCI ``index.json``
names, so an archive can move a base image's tag, or the notebook's, to an image of its
choosing. So ``inspect_archive`` reads the members first, without loading: the member names
(no absolute paths, no ``..``, no link leaving the archive, no devices), envkit's manifest, the
notebook, the image's ``manifest.json`` and its config blob. The image ID is the sha256 of that
config, so it is checked against envkit's manifest, and the config's spec label against the
notebook's spec. Only then ``load_stream`` yields the image tar rewritten on the fly: no
``RepoTags``, no ``repositories``, no name annotations; layers are copied in chunks, never held
in memory. Tags are applied afterwards by envkit alone.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import ArchiveError
from .labels import LABEL_SPEC
from .spec import EnvkitMetadata

MANIFEST = "envkit-manifest.json"
IMAGE_MEMBER = "image.tar"
NOTEBOOK_DIR = "notebook/"
CHUNK = 1 << 20
_SMALL = 16 << 20  # manifests, configs and notebooks larger than this are not believed
# OCI annotations from which an engine names a loaded image (containerd store, Docker >= 25).
NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


@dataclass(frozen=True, kw_only=True)
class ArchiveContents:
    """What an archive holds, checked: its image (by ID and config), notebook and spec."""

    path: Path
    manifest: dict[str, Any]
    image_id: str
    spec_digest: str
    notebook_name: str
    notebook_data: bytes
    metadata: EnvkitMetadata
    image_offset: int
    image_size: int


class _Slice:
    """A read-only, seekable window ``[start, start + size)`` of an open file (one tar member)."""

    def __init__(self, f: IO[bytes], start: int, size: int) -> None:
        self._f, self._start, self._size, self._pos = f, start, size, 0

    def read(self, n: int = -1) -> bytes:
        left = self._size - self._pos
        n = left if n is None or n < 0 else min(n, left)
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, min(self._size, base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def _refuse(path: Path, why: str) -> ArchiveError:
    return ArchiveError(f"{path}: refused, {why}; nothing was loaded",
                         "the archive is damaged or was altered; ask for a fresh 'envkit export'")


def check_member(path: Path, where: str, member: tarfile.TarInfo) -> None:
    """Refuse a member whose name or link target could leave the archive, or that is a device."""
    name = member.name
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or ".." in parts or not name.strip("/"):
        raise _refuse(path, f"{where} has an unsafe member name {name!r}")
    if member.isdev() or member.isfifo():
        raise _refuse(path, f"{where} has a device or pipe member {name!r}")
    if member.issym() or member.islnk():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target) if member.issym() else target)
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise _refuse(path, f"{where} has a link {name!r} pointing out of it ({target!r})")


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo | None, path: Path, what: str) -> bytes:
    if member is None or not member.isfile():
        raise _refuse(path, f"it has no {what}")
    if member.size > _SMALL:
        raise _refuse(path, f"its {what} is implausibly large ({member.size} bytes)")
    f = tar.extractfile(member)
    assert f is not None
    return f.read()


def _json(data: bytes, path: Path, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"its {what} is not valid JSON ({exc})") from exc


def _notebook_metadata(path: Path, name: str, data: bytes) -> EnvkitMetadata:
    raw = _json(data, path, f"notebook {name}")
    envkit = (raw.get("metadata") or {}).get("envkit") if isinstance(raw, dict) else None
    if not isinstance(envkit, dict):
        raise _refuse(path, f"its notebook {name} has no envkit metadata")
    try:
        meta = EnvkitMetadata.from_json(envkit)
    except Exception as exc:  # noqa: BLE001 - any damage in someone else's file is one refusal
        raise _refuse(path, f"its notebook {name} has damaged envkit metadata ({exc})") from exc
    if meta.spec is None:
        raise _refuse(path, f"its notebook {name} records no spec")
    return meta


def _image_config(path: Path, tar: tarfile.TarFile) -> tuple[str, dict[str, Any]]:
    """The image ID (sha256 of the config blob) and the config, from the image's manifest.json."""
    members = {m.name.rstrip("/"): m for m in tar.getmembers()}
    for m in members.values():
        check_member(path, IMAGE_MEMBER, m)
    entries = _json(_read_small(tar, members.get("manifest.json"), path, "image manifest.json"), path,
                    "image manifest.json")
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise _refuse(path, "its image manifest.json does not describe exactly one image")
    config_name = str(entries[0].get("Config") or "")
    config_member = members.get(posixpath.normpath(config_name)) if config_name else None
    if config_member is not None and config_member.issym():  # OCI layouts link legacy names to blobs
        config_member = members.get(posixpath.normpath(
            posixpath.join(posixpath.dirname(config_member.name), config_member.linkname)))
    blob = _read_small(tar, config_member, path, f"image config {config_name!r}")
    config = _json(blob, path, "image config")
    if not isinstance(config, dict):
        raise _refuse(path, "its image config is not a JSON object")
    return "sha256:" + hashlib.sha256(blob).hexdigest(), config


def inspect_archive(archive: str | Path) -> ArchiveContents:
    """Read and check an archive without loading anything; a ``ArchiveError`` names the fault."""
    path = Path(archive)
    try:
        outer = tarfile.open(path, "r:")
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveError(f"{path}: not an envkit archive ({exc})",
                            "make one with 'envkit export NB -o X.envkit.tar'") from exc
    with outer:
        try:
            members = outer.getmembers()
        except tarfile.TarError as exc:
            raise _refuse(path, f"it is not a readable tar ({exc})") from exc
        for m in members:
            check_member(path, "the archive", m)
        by_name = {m.name: m for m in members}
        if MANIFEST not in by_name:
            raise ArchiveError(f"{path}: not an envkit archive (no {MANIFEST})",
                                "make one with 'envkit export NB -o X.envkit.tar'")
        manifest = _json(_read_small(outer, by_name[MANIFEST], path, MANIFEST), path, MANIFEST)
        if not isinstance(manifest, dict):
            raise _refuse(path, f"its {MANIFEST} is not a JSON object")
        notebook_name = posixpath.basename(str(manifest.get("notebook") or ""))
        expected = str(manifest.get("image_id") or "")
        if not notebook_name.endswith(".ipynb") or not expected.startswith("sha256:"):
            raise ArchiveError(f"{path}: not an envkit archive (its {MANIFEST} names no notebook or image ID)",
                                "make one with 'envkit export NB -o X.envkit.tar'")
        notebook_data = _read_small(outer, by_name.get(NOTEBOOK_DIR + notebook_name), path,
                                    f"notebook {notebook_name}")
        meta = _notebook_metadata(path, notebook_name, notebook_data)
        image = by_name.get(IMAGE_MEMBER)
        if image is None or not image.isfile():
            raise _refuse(path, f"it has no {IMAGE_MEMBER}")
        offset, size = image.offset_data, image.size
        f = outer.fileobj
        assert f is not None
        try:
            with tarfile.open(fileobj=_Slice(f, offset, size), mode="r:") as inner:  # type: ignore[arg-type]
                image_id, config = _image_config(path, inner)
        except tarfile.TarError as exc:
            raise _refuse(path, f"its {IMAGE_MEMBER} is not a readable image tar ({exc})") from exc
    if image_id != expected:
        raise _refuse(path, f"its image is {image_id[:19]}, not the {expected[:19]} its manifest records")
    spec_label = str(((config.get("config") or {}).get("Labels") or {}).get(LABEL_SPEC) or "")
    assert meta.spec is not None
    notebook_digest = meta.spec.digest()
    if spec_label != notebook_digest or str(manifest.get("spec_digest") or "") != notebook_digest:
        raise _refuse(path, f"its image was built for spec {spec_label[:19] or '(none)'}, "
                            f"but its notebook's spec is {notebook_digest[:19]}")
    return ArchiveContents(path=path, manifest=manifest, image_id=image_id, spec_digest=notebook_digest,
                           notebook_name=notebook_name, notebook_data=notebook_data, metadata=meta,
                           image_offset=offset, image_size=size)


def _untagged(name: str, data: bytes) -> bytes | None:
    """A small member's bytes with every naming field removed; None drops the member."""
    if name == "repositories":
        return None
    doc = json.loads(data)
    if name == "manifest.json":
        for entry in doc:
            entry["RepoTags"] = None
    elif name == "index.json":
        for desc in doc.get("manifests") or ():
            annotations = desc.get("annotations") or {}
            for key in NAME_ANNOTATIONS:
                annotations.pop(key, None)
    return json.dumps(doc).encode()


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def load_stream(contents: ArchiveContents) -> Iterator[bytes]:
    """The archive's image tar with no names in it, as chunks (for a chunked ``docker load``)."""
    with open(contents.path, "rb") as f:
        with tarfile.open(fileobj=_Slice(f, contents.image_offset, contents.image_size),  # type: ignore[arg-type]
                          mode="r:") as inner:
            for member in inner.getmembers():
                check_member(contents.path, IMAGE_MEMBER, member)  # the file may have changed since
                name = member.name.rstrip("/")
                if name in ("manifest.json", "repositories", "index.json") and member.isfile():
                    source = inner.extractfile(member)
                    assert source is not None
                    data = _untagged(name, source.read())
                    if data is None:
                        continue
                    out = tarfile.TarInfo(member.name)
                    out.size, out.mode, out.mtime = len(data), member.mode, member.mtime
                    yield out.tobuf(tarfile.PAX_FORMAT) + data + _padding(len(data))
                    continue
                header = member.tobuf(tarfile.PAX_FORMAT)
                if not member.isfile():
                    yield header
                    continue
                yield header
                source = inner.extractfile(member)
                assert source is not None
                while chunk := source.read(CHUNK):
                    yield chunk
                yield _padding(member.size)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


__all__ = ["ArchiveContents", "IMAGE_MEMBER", "MANIFEST", "check_member", "inspect_archive", "load_stream"]
