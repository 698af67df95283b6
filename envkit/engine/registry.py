"""Registry and archive operations of the Engine API: push, pull, save, load.

Push, pull and load answer HTTP 200 and then report failures inside the streamed JSON
(``{"error": …, "errorDetail": …}``); docker-py passes those through as ordinary chunks
(docker-py #3161), so every stream is read to the end here and an in-band error becomes a
``RegistryError``. Layer progress becomes ``Transfer`` events. Credentials are whatever
docker-py reads from the Docker config and its credential helpers (``docker login``); envkit
never asks for, stores or logs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ..errors import RegistryError
from ..events import Log, Progress, Transfer, emit
from . import api, connect, translated

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    """What envkit needs to know about a local image."""

    id: str
    tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    labels: dict[str, str]
    size: int


def registry_of(reference: str) -> str:
    """The registry host of ``reference`` (``docker.io`` when it names none)."""
    first = reference.split("/", 1)[0]
    if "/" in reference and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of ``name[:tag][@sha256:…]``."""
    name, _, digest = reference.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def _classify(message: str, reference: str, action: str) -> RegistryError:
    """An in-band or HTTP error message turned into a RegistryError with what to do next."""
    registry = registry_of(reference)
    low = message.lower()
    first = message.strip().splitlines()[0][:300] if message.strip() else "no reason given"
    if any(s in low for s in ("connection refused", "no such host", "dial tcp", "i/o timeout",
                              "server gave http response to https", "network is unreachable",
                              "no route to host", "tls handshake timeout")):
        return RegistryError(f"{action} {reference}: the registry {registry} could not be reached ({first})",
                             "check the registry address and that it is running")
    if any(s in low for s in ("unauthorized", "denied", "authentication required", "forbidden")):
        return RegistryError(f"{action} {reference}: the registry {registry} refused access ({first})",
                             f"log in with 'docker login {registry}' (envkit uses Docker's credentials)")
    if any(s in low for s in ("manifest unknown", "not found", "does not exist", "no such image")):
        return RegistryError(f"{action} {reference}: the registry {registry} does not have it ({first})",
                             "it may have been deleted or never pushed")
    return RegistryError(f"{action} {reference}: {first}")


def _stream(chunks: Iterable[dict[str, Any]], reference: str, action: str,
            progress: Progress | None) -> Iterator[dict[str, Any]]:
    """Yield the stream's chunks, emit Transfer events, raise on an in-band error."""
    for chunk in chunks:
        if chunk.get("error") or chunk.get("errorDetail"):
            detail = chunk.get("errorDetail") or {}
            raise _classify(str(chunk.get("error") or detail.get("message") or ""), reference, action)
        status = str(chunk.get("status") or "")
        if chunk.get("id") and status:
            detail = chunk.get("progressDetail") or {}
            emit(progress, Transfer(id=str(chunk["id"]), status=status,
                                    current=int(detail.get("current") or 0), total=int(detail.get("total") or 0)))
        elif status or chunk.get("stream"):
            emit(progress, Log(line=(status or str(chunk["stream"])).rstrip()))
        yield chunk


def _api_call(fn: Any, reference: str, action: str) -> Any:
    """Call ``fn`` turning docker-py's HTTP errors into RegistryError, other failures as usual."""
    from docker.errors import APIError

    with translated(f"{action} {reference}"):
        try:
            return fn()
        except APIError as exc:
            raise _classify(str(exc.explanation or exc), reference, action) from exc


def inspect(reference: str) -> ImageInfo | None:
    """The local image named by ``reference`` (ID, tag or digest reference), or None."""
    from docker.errors import ImageNotFound

    with translated(f"inspect image {reference}"):
        try:
            image = connect().images.get(reference)
        except ImageNotFound:
            return None
    attrs = image.attrs
    return ImageInfo(id=image.id, tags=tuple(image.tags), repo_digests=tuple(attrs.get("RepoDigests") or ()),
                     labels=dict((attrs.get("Config") or {}).get("Labels") or {}), size=int(attrs.get("Size") or 0))


def remove_image(reference: str, *, force: bool = False) -> None:
    """Remove a local image or tag; a missing one is not an error."""
    from docker.errors import ImageNotFound

    with translated(f"remove image {reference}"):
        try:
            connect().images.remove(reference, force=force)
        except ImageNotFound:
            pass


def tag(image: str, repository: str, tag: str) -> None:
    """Give ``image`` the name ``repository:tag``."""
    with translated(f"tag {image} as {repository}:{tag}"):
        api().tag(image, repository, tag=tag, force=True)


def push(repository: str, tag: str, *, progress: Progress | None = None) -> str:
    """Push ``repository:tag``; returns the repository digest ``repository@sha256:…``."""
    reference = f"{repository}:{tag}"
    chunks = _api_call(lambda: api().push(repository, tag=tag, stream=True, decode=True), reference, "push")
    digest = None
    with translated(f"push {reference}"):
        for chunk in _stream(chunks, reference, "push", progress):
            aux = chunk.get("aux") or {}
            if aux.get("Digest"):
                digest = aux["Digest"]
            elif not digest and (found := _DIGEST.search(str(chunk.get("status") or ""))):
                digest = found.group(0)
    if not digest:
        raise RegistryError(f"push {reference}: the engine finished without reporting a digest",
                            "push again; if it persists, check the registry's logs")
    return f"{repository}@{digest}"


def pull(reference: str, *, progress: Progress | None = None) -> ImageInfo:
    """Pull ``reference`` (``name@sha256:…`` or ``name:tag``) and return the local image."""
    repository, tag_, digest = split_reference(reference)
    chunks = _api_call(lambda: api().pull(repository, tag=digest or tag_ or "latest", stream=True, decode=True),
                       reference, "pull")
    with translated(f"pull {reference}"):
        for _ in _stream(chunks, reference, "pull", progress):
            pass
    info = inspect(reference)
    if info is None:
        raise RegistryError(f"pull {reference}: the engine reported success but has no such image")
    return info


def save(reference: str, out: IO[bytes], *, progress: Progress | None = None) -> int:
    """Write ``docker save`` of ``reference`` to ``out``; returns the number of bytes."""
    written = reported = 0
    with translated(f"save image {reference}"):
        for chunk in api().get_image(reference, chunk_size=1 << 20):
            out.write(chunk)
            written += len(chunk)
            if written - reported >= 32 << 20:  # one event per 32 MB keeps renderers calm
                reported = written
                emit(progress, Transfer(id=reference, status="Saving", current=written))
    emit(progress, Transfer(id=reference, status="Saved", current=written, total=written))
    return written


def load(data: IO[bytes] | bytes | Iterable[bytes], *, progress: Progress | None = None) -> list[str]:
    """``docker load`` a tar (a file, bytes, or chunks sent as they come); returns what the engine says it loaded (image IDs or names)."""
    chunks = _api_call(lambda: api().load_image(data, quiet=False), "archive", "load")
    loaded: list[str] = []
    with translated("load image archive"):
        for chunk in _stream(chunks, "archive", "load", progress):
            text = str(chunk.get("stream") or "")
            for prefix in ("Loaded image ID: ", "Loaded image: "):
                if text.startswith(prefix):
                    loaded.append(text[len(prefix):].strip())
    return loaded


__all__ = ["ImageInfo", "inspect", "load", "pull", "push", "registry_of", "remove_image", "save",
           "split_reference", "tag"]
