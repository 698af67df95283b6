"""Images through the Engine API: streamed builds, inspect, tag, read a file, list and remove.

Builds use a dedicated low-level ``APIClient`` per build, always with ``rm=True, forcerm=True``
(docker-py's defaults leave intermediate containers behind), and turn the engine's JSON stream
into progress events: ``Step`` for "Step n/m", ``Log`` for output, ``Note`` for cached layers,
``Transfer`` for base-image pulls. In-band ``{"error": ...}`` messages become ``BuildFailed``.
An interrupted build closes its stream and removes the container the builder was running.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BuildFailed, EngineError, Interrupted
from ..events import Log, Note, Progress, Step, Transfer, emit
from ..labels import LABEL, base_labels
from . import api, engine_url, translated

if TYPE_CHECKING:
    import docker

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})")
# The classic builder wraps a RUN's stderr in colour codes (ESC[91m ... ESC[0m).
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TAIL = 20


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    """What envkit shows about an image: id, tags, labels, size and creation time (epoch)."""

    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    size: int
    created: float


def _fresh_api() -> docker.APIClient:
    """A client of its own for one build, so closing it on Ctrl-C ends only that build."""
    import os

    import docker

    api()  # connect (and fail fast, with the usual message) through the shared client first
    if os.environ.get("DOCKER_HOST"):
        return docker.from_env(timeout=None).api  # type: ignore[arg-type]
    return docker.APIClient(base_url=engine_url(), timeout=None)  # type: ignore[arg-type]


@dataclass
class _BuildState:
    step: str = ""
    container: str = ""
    image_id: str = ""
    tail: deque[str] | None = None
    cached: list[str] = field(default_factory=list)
    pending: str = ""  # a line the engine has sent only part of so far


def _flush(state: _BuildState, progress: Progress | None) -> None:
    if state.pending:
        _line(state.pending, state, progress)
        state.pending = ""


def _handle(chunk: Mapping[str, Any], state: _BuildState, progress: Progress | None) -> None:
    if "error" in chunk or "errorDetail" in chunk:
        _flush(state, progress)
        detail = chunk.get("errorDetail") or {}
        raise _Failure(str(chunk.get("error") or detail.get("message") or "build failed"))
    if "aux" in chunk and isinstance(chunk["aux"], dict) and chunk["aux"].get("ID"):
        state.image_id = chunk["aux"]["ID"]
        return
    if "status" in chunk:
        emit(progress, Transfer(id=str(chunk.get("id", "")), status=str(chunk["status"]),
                                current=int((chunk.get("progressDetail") or {}).get("current") or 0),
                                total=int((chunk.get("progressDetail") or {}).get("total") or 0)))
        return
    text = chunk.get("stream")
    if not isinstance(text, str):
        return
    # The engine forwards output as the builder's process wrote it, so one line can arrive in
    # several chunks (uv writes "+ idna==3.10" piecewise): only complete lines become events.
    *complete, state.pending = (state.pending + text).split("\n")
    for line in complete:
        _line(line, state, progress)


def _line(raw: str, state: _BuildState, progress: Progress | None) -> None:
    assert state.tail is not None
    for line in ANSI.sub("", raw).splitlines():
        line = line.rstrip()
        if not line.strip():
            continue
        step = STEP.match(line)
        if step:
            state.step, state.container = line, ""
            state.tail.clear()  # the tail a failure reports is the failing step's own output
            emit(progress, Step(n=int(step.group(1)), total=int(step.group(2)), text=step.group(3)))
            continue
        running = RUNNING_IN.match(line)
        if running:
            state.container = running.group(1)
        elif line == " ---> Using cache":
            state.cached.append(state.step.split(" : ", 1)[0].removeprefix("Step ").split("/")[0])
        if not line.startswith((" ---> ", "Removing intermediate container")):
            state.tail.append(line)
        emit(progress, Log(line=line))


class _Failure(Exception):
    """An in-band build error, turned into BuildFailed with the step and log tail."""


def build_image(context: bytes, *, labels: Mapping[str, str], no_cache: bool = False, platform: str = "",
                progress: Progress | None = None, what: str = "image") -> tuple[str, list[str]]:
    """Build a context tar; returns the image ID and the last lines of the log.

    The image is not tagged here: callers tag it only once the build has succeeded, so a
    failed build leaves earlier tags where they were.
    """
    client = _fresh_api()
    state = _BuildState(tail=deque(maxlen=TAIL))
    kwargs: dict[str, Any] = {"fileobj": io.BytesIO(context), "custom_context": True, "rm": True,
                              "forcerm": True, "nocache": no_cache, "decode": True, "labels": dict(labels)}
    if platform:
        kwargs["platform"] = platform
    stream: Iterator[dict[str, Any]] | None = None
    try:
        with translated(f"building {what}"):
            stream = client.build(**kwargs)
            for chunk in stream:
                _handle(chunk, state, progress)
            _flush(state, progress)
    except _Failure as exc:
        raise BuildFailed(f"building {what} failed: {exc}", step=state.step or None,
                          log_tail=list(state.tail or ())) from None
    except KeyboardInterrupt:
        _abort(client, stream, state)
        raise Interrupted(f"building {what} was interrupted; nothing was tagged",
                          "the build's container was removed; run the build again when ready") from None
    finally:
        client.close()
    if state.cached:
        emit(progress, Note(text=f"reused {len(state.cached)} cached layer(s): steps {', '.join(state.cached)}"))
    if not state.image_id:
        raise BuildFailed(f"building {what}: the engine reported no image ID", step=state.step or None,
                          log_tail=list(state.tail or ()))
    return state.image_id, list(state.tail or ())


def _abort(client: docker.APIClient, stream: Iterator[Any] | None, state: _BuildState) -> None:
    """Close the build's connection (the engine then cancels it) and remove its container."""
    import docker

    if stream is not None and hasattr(stream, "close"):
        stream.close()
    client.close()
    if not state.container:
        return
    shared = api()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            shared.remove_container(state.container, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:  # "removal already in progress"
            if exc.status_code != 409:
                return
        time.sleep(0.2)


def inspect_image(ref: str) -> dict[str, Any] | None:
    """The engine's inspect data for ``ref``, or None when there is no such image."""
    import docker

    try:
        with translated(f"inspecting image {ref}"):
            return api().inspect_image(ref)
    except EngineError as exc:
        if isinstance(exc.__cause__, docker.errors.NotFound):
            return None
        raise


def tag_image(image_id: str, ref: str) -> None:
    """Point ``ref`` (``repo:tag``) at ``image_id``."""
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    with translated(f"tagging {image_id[:19]} as {ref}"):
        api().tag(image_id, repo, tag)


def _info(data: Mapping[str, Any]) -> ImageInfo:
    created = data.get("Created", 0)
    return ImageInfo(id=data["Id"], tags=tuple(t for t in (data.get("RepoTags") or ()) if t != "<none>:<none>"),
                     labels=dict(data.get("Labels") or (data.get("Config") or {}).get("Labels") or {}),
                     size=int(data.get("Size") or 0), created=float(created) if isinstance(created, int | float) else 0.0)


def list_images(labels: Mapping[str, str] | None = None) -> list[ImageInfo]:
    """envkit's images (label ``dev.envkit``), narrowed by ``labels``; newest first."""
    filters = [LABEL] + [f"{k}={v}" for k, v in (labels or {}).items()]
    with translated("listing images"):
        found = api().images(filters={"label": filters})
    return sorted((_info(d) for d in found), key=lambda i: i.created, reverse=True)


def remove_image(ref: str, *, force: bool = False) -> None:
    """Remove an image (``force`` also removes it when several tags point at it)."""
    with translated(f"removing image {ref}"):
        api().remove_image(ref, force=force, noprune=False)


def containers_using(image_id: str) -> list[str]:
    """Names of containers (running or not) created from ``image_id``."""
    with translated("listing containers"):
        found = api().containers(all=True, filters={"ancestor": image_id})
    return [(c.get("Names") or [c["Id"][:12]])[0].lstrip("/") for c in found]


def read_files(image: str, path: str) -> dict[str, bytes]:
    """The files at ``path`` (a file or a folder) inside ``image``, by name relative to its parent.

    Read through a created, never started, labelled container that is removed at once.
    """
    client = api()
    with translated(f"reading {path} from image {image[:19]}"):
        container = client.create_container(image, command=["true"], labels=base_labels("build"))
        try:
            chunks, _ = client.get_archive(container["Id"], path)
            data = b"".join(chunks)
        finally:
            client.remove_container(container["Id"], force=True)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                files[member.name] = extracted.read()
    return files


def read_file(image: str, path: str) -> bytes:
    """The bytes of the file ``path`` inside ``image``."""
    files = read_files(image, path)
    if len(files) != 1:
        raise EngineError(f"reading {path} from image {image[:19]}: not a single file")
    return next(iter(files.values()))


__all__ = ["ImageInfo", "build_image", "containers_using", "inspect_image", "list_images", "read_file", "read_files",
           "remove_image", "tag_image"]
