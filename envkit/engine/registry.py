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
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from ..errors import RegistryError
from ..events import Log, Progress, Transfer, emit
from . import _docker, api, stream, translated
from .images import ImageInfo, inspect_image, split_reference

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def registry_of(reference: str) -> str:
    """The registry host of ``reference`` (``docker.io`` when it names none)."""
    first = reference.split("/", 1)[0]
    if "/" in reference and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


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


def _messages(chunks: Iterable[Mapping[str, Any]], reference: str, action: str,
              progress: Progress | None) -> Iterator[stream.Output | stream.Status | stream.Aux]:
    """The stream's messages (``stream.read``), an in-band error raised as a RegistryError."""
    try:
        yield from stream.read(chunks, progress)
    except stream.InBandError as exc:
        raise _classify(str(exc), reference, action) from None


def _api_call(fn: Any, reference: str, action: str) -> Any:
    """Call ``fn`` turning docker-py's HTTP errors into RegistryError, other failures as usual."""
    errors = _docker().errors
    with translated(f"{action} {reference}"):
        try:
            return fn()
        except errors.APIError as exc:
            raise _classify(str(exc.explanation or exc), reference, action) from exc


def push(repository: str, tag: str, *, progress: Progress | None = None) -> str:
    """Push ``repository:tag``; returns the repository digest ``repository@sha256:…``."""
    reference = f"{repository}:{tag}"
    chunks = _api_call(lambda: api().push(repository, tag=tag, stream=True, decode=True), reference, "push")
    digest = None
    with translated(f"push {reference}"):
        for message in _messages(chunks, reference, "push", progress):
            if isinstance(message, stream.Aux) and message.data.get("Digest"):
                digest = str(message.data["Digest"])
            elif isinstance(message, stream.Status) and not digest and (found := _DIGEST.search(message.text)):
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
        for _ in _messages(chunks, reference, "pull", progress):
            pass
    info = inspect_image(reference)
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
        for message in _messages(chunks, "archive", "load", progress):
            if not isinstance(message, stream.Output):
                continue
            emit(progress, Log(line=message.line))
            for prefix in ("Loaded image ID: ", "Loaded image: "):
                if message.line.startswith(prefix):
                    loaded.append(message.line[len(prefix):].strip())
    return loaded


# split_reference lives with tag_image in .images; re-exported for the callers that split a
# reference they push to or pull from.
__all__ = ["load", "pull", "push", "registry_of", "save", "split_reference"]
