"""Images through the Engine API: streamed builds, inspect, tag, read a file, list and remove.

Builds use a dedicated low-level ``APIClient`` per build, always with ``rm=True, forcerm=True``
(docker-py's defaults leave intermediate containers behind), and turn the engine's JSON stream
(read by ``stream.read``) into progress events: ``Step`` for "Step n/m", ``Log`` for output,
``Note`` for cached layers, ``Transfer`` for base-image pulls. In-band ``{"error": ...}``
messages become ``BuildFailed``. An interrupted build closes its stream and removes the
container the builder was running. ``ImageInfo`` is the one description of a local image that
every part of envkit uses (listings, inspect, push, pull, load, clean-up).
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import BuildFailed, EngineError, EngineGone, EngineNotFound, Interrupted
from ..events import Log, Note, Progress, Step, emit
from ..labels import LABEL, base_labels
from . import _docker, api, engine_url, faults, leftovers, ssh_tunnel, stream, translated

if TYPE_CHECKING:
    import docker

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})")
TAIL = 20


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    """A local image: id, tags, repository digests, labels, size and creation time (epoch).

    ``user`` and ``env`` (the image's configured user and environment) come from
    ``inspect_image``; a listing does not report them and leaves them empty.
    """

    id: str
    tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    size: int = 0
    created: float = 0.0
    user: str = ""
    env: dict[str, str] = field(default_factory=dict)


def _created(value: Any) -> float:
    """Epoch seconds from a listing's integer or inspect's RFC 3339 text (nanoseconds cut)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        text = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def familiar_name(ref: str) -> str:
    """``ref`` as Docker writes it: Podman's fully qualified names made short again.

    Podman answers ``docker.io/envkit/x:latest`` (and ``localhost/x:latest`` for a name
    without a registry) where Docker says ``envkit/x:latest``; compared as-is, envkit would
    never find its own tags there and would rebuild an unchanged spec every time.
    """
    for prefix in ("docker.io/library/", "docker.io/", "localhost/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def image_info(data: Mapping[str, Any]) -> ImageInfo:
    """An ``ImageInfo`` from the engine's inspect data or one entry of its image list."""
    config = data.get("Config") or {}
    env = dict(e.split("=", 1) for e in config.get("Env") or () if "=" in e)
    tags = tuple(familiar_name(t) for t in (data.get("RepoTags") or ()) if t != "<none>:<none>")
    return ImageInfo(id=data["Id"], tags=tags,
                     repo_digests=tuple(d for d in (data.get("RepoDigests") or ()) if d != "<none>@<none>"),
                     labels=dict(data.get("Labels") or config.get("Labels") or {}),
                     size=int(data.get("Size") or 0), created=_created(data.get("Created")),
                     user=str(config.get("User") or ""), env=env)


def _fresh_api() -> docker.APIClient:
    """A client of its own for one build, so closing it on Ctrl-C ends only that build."""
    import os

    # Connect (and fail fast, with the usual message) through the shared client first; its
    # API version is reused, so this client does not ask /version again (slow on Podman).
    version = api().api_version
    docker_py = _docker()
    tunnel = ssh_tunnel()
    if tunnel is not None:  # an ssh:// engine: another connection through the same ssh master
        return docker_py.APIClient(base_url=f"unix://{tunnel.socket}", timeout=None)  # type: ignore[no-any-return]
    if os.environ.get("DOCKER_HOST"):
        return docker_py.from_env(timeout=None, version=version).api  # type: ignore[no-any-return]
    return docker_py.APIClient(base_url=engine_url(), timeout=None, version=version)  # type: ignore[no-any-return]


@dataclass
class _BuildState:
    step: str = ""
    container: str = ""
    image_id: str = ""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL))
    cached: list[str] = field(default_factory=list)
    url: str = ""  # the engine's, for the builder containers noted in envkit.engine.leftovers
    noted: list[str] = field(default_factory=list)


def _follow(chunks: Iterable[Mapping[str, Any]], state: _BuildState, progress: Progress | None) -> None:
    """Read a build's stream into ``state`` and events; raises ``stream.InBandError``."""
    for message in stream.read(chunks, progress):
        if isinstance(message, stream.Aux) and message.data.get("ID"):
            state.image_id = str(message.data["ID"])
        elif isinstance(message, stream.Output):
            _line(message.line, state, progress)


def _line(line: str, state: _BuildState, progress: Progress | None) -> None:
    step = STEP.match(line)
    if step:
        state.step, state.container = line, ""
        state.tail.clear()  # the tail a failure reports is the failing step's own output
        emit(progress, Step(n=int(step.group(1)), total=int(step.group(2)), text=step.group(3)))
        return
    running = RUNNING_IN.match(line)
    if running:
        state.container = running.group(1)
        if state.url:  # until the build ends: an engine that dies now cannot remove it itself
            leftovers.note(state.url, state.container)
            state.noted.append(state.container)
    elif line == " ---> Using cache":
        state.cached.append(state.step.split(" : ", 1)[0].removeprefix("Step ").split("/")[0])
    if not line.startswith((" ---> ", "Removing intermediate container")):
        state.tail.append(line)
    emit(progress, Log(line=line))


def build_image(context: bytes, *, labels: Mapping[str, str], no_cache: bool = False, platform: str = "",
                progress: Progress | None = None, what: str = "image") -> tuple[str, list[str]]:
    """Build a context tar; returns the image ID and the last lines of the log.

    The image is not tagged here: callers tag it only once the build has succeeded, so a
    failed build leaves earlier tags where they were.
    """
    client = _fresh_api()
    state = _BuildState(url=engine_url())
    leftovers.sweep(state.url)  # what builds the engine dropped left there, now that it is back
    kwargs: dict[str, Any] = {"fileobj": io.BytesIO(context), "custom_context": True, "rm": True,
                              "forcerm": True, "nocache": no_cache, "decode": True, "labels": dict(labels)}
    if platform:
        kwargs["platform"] = platform
    chunks: Iterator[dict[str, Any]] | None = None
    try:
        with translated(f"building {what}"):
            chunks = client.build(**kwargs)
            _follow(chunks, state, progress)
    except stream.InBandError as exc:
        raise BuildFailed(f"building {what} failed: {exc}", step=state.step or None,
                          log_tail=list(state.tail)) from None
    except EngineGone:
        # One line naming the step; its container is removed by the next build or 'envkit gc'.
        leftovers.abandon(state.url, state.noted)
        state.noted = []
        step = f" ({state.step})" if state.step else ""
        raise faults.gone(state.url, f"building {what}{step}") from None
    except KeyboardInterrupt:
        _abort(client, chunks, state)
        raise Interrupted(f"building {what} was interrupted; nothing was tagged",
                          "the build's container was removed; run the build again when ready") from None
    finally:
        leftovers.forget(state.url, state.noted)
        client.close()
    if state.cached:
        emit(progress, Note(text=f"reused {len(state.cached)} cached layer(s): steps {', '.join(state.cached)}"))
    if not state.image_id:
        raise BuildFailed(f"building {what}: the engine reported no image ID", step=state.step or None,
                          log_tail=list(state.tail))
    return state.image_id, list(state.tail)


def _abort(client: docker.APIClient, chunks: Iterator[Any] | None, state: _BuildState) -> None:
    """Close the build's connection (the engine then cancels it) and remove its container."""
    errors = _docker().errors
    if chunks is not None and hasattr(chunks, "close"):
        chunks.close()
    client.close()
    if not state.container:
        return
    shared = api()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            shared.remove_container(state.container, force=True)
        except errors.NotFound:
            return
        except errors.APIError as exc:  # "removal already in progress"
            if exc.status_code != 409:
                return
        time.sleep(0.2)


def inspect_image(ref: str) -> ImageInfo | None:
    """The local image ``ref`` names (ID, ``name:tag`` or ``name@sha256:…``), or None."""
    try:
        with translated(f"inspecting image {ref}"):
            data = api().inspect_image(ref)
    except EngineNotFound:
        return None
    return image_info(data)


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of ``name[:tag][@sha256:…]``."""
    name, _, digest = reference.partition("@")
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def tag_image(image_id: str, ref: str) -> None:
    """Point ``ref`` (``repo[:tag]``, tag ``latest`` when none) at ``image_id``."""
    repository, tag, _ = split_reference(ref)
    with translated(f"tagging {image_id[:19]} as {ref}"):
        api().tag(image_id, repository, tag or "latest", force=True)


def list_images(labels: Mapping[str, str] | None = None) -> list[ImageInfo]:
    """envkit's images (label ``dev.envkit``), narrowed by ``labels``; newest first.

    The engine is given one label filter and the rest are matched here: Podman 4.3 answers an
    image listing with two or more label filters with no images at all (podman #18092), and
    later Podmans OR them (podman #21803), so envkit never found an image to reuse there.
    """
    wanted = {LABEL: None, **(labels or {})}
    key, value = next(iter(labels.items())) if labels else (LABEL, None)
    with translated("listing images"):
        found = api().images(filters={"label": [key if value is None else f"{key}={value}"]})
    infos = (image_info(d) for d in found)
    return sorted((i for i in infos if has_labels(i.labels, wanted)), key=lambda i: i.created, reverse=True)


def has_labels(labels: Mapping[str, str], wanted: Mapping[str, str | None]) -> bool:
    """True when ``labels`` carry every ``wanted`` label (a None value: any value), as the engine's filter means."""
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted.items())


_PYTHON_SLIM = re.compile(r"^python:(\d+\.\d+)-slim$")


def python_slim_images() -> tuple[str, ...]:
    """The ``X.Y`` of every ``python:X.Y-slim`` image the engine has (any engine: names made familiar)."""
    with translated("listing python images"):
        found = api().images(name="python")
    names = (familiar_name(t) for d in found for t in (d.get("RepoTags") or ()))
    return tuple(sorted({m.group(1) for n in names if (m := _PYTHON_SLIM.match(n))}))


def remove_image(ref: str, *, force: bool = False) -> bool:
    """Remove an image or one of its names; False when there was no such image (not an error).

    ``force`` also removes an image that several tags name or a stopped container uses.
    """
    try:
        with translated(f"removing image {ref}"):
            api().remove_image(ref, force=force, noprune=False)
    except EngineNotFound:
        return False
    return True


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


def link_target(image: str, path: str) -> str | None:
    """Where the symbolic link ``path`` inside ``image`` points (``python3.11``), or None.

    Read like ``read_files`` (a created, never started container): no process runs in the image.
    """
    client = api()
    with translated(f"reading {path} from image {image[:19]}"):
        container = client.create_container(image, command=["true"], labels=base_labels("build"))
        try:
            try:
                chunks, _ = client.get_archive(container["Id"], path)
            except _docker().errors.NotFound:
                return None
            data = b"".join(chunks)
        finally:
            client.remove_container(container["Id"], force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(iter(tar.getmembers()), None)
    return member.linkname if member is not None and member.issym() else None


def read_file(image: str, path: str) -> bytes:
    """The bytes of the file ``path`` inside ``image``."""
    files = read_files(image, path)
    if len(files) != 1:
        raise EngineError(f"reading {path} from image {image[:19]}: not a single file")
    return next(iter(files.values()))


__all__ = ["ImageInfo", "build_image", "containers_using", "familiar_name", "has_labels", "image_info", "inspect_image",
           "link_target", "list_images", "python_slim_images", "read_file", "read_files", "remove_image",
           "split_reference", "tag_image"]
