"""The build flow: spec → Dockerfile and context → image → lock and image record written back.

``build_spec`` looks for an image made from the same spec digest, base image, uid and platform
first (a label look-up, no build); otherwise it renders the context, builds by ID through the
engine, reads the installed set back from the image as the lock, and only then tags the image
(a readable name and a content tag from the spec digest), so a failed build leaves earlier
tags where they were. Rendering lives in ``envkit.dockerfile``; the engine in ``envkit.engine``.
"""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import base_labels
from .errors import BuildFailed, EngineError, EnvkitError
from .events import Done, Note, Progress, emit
from .settings import pip_settings
from .spec import EnvSpec, ImageRecord, Lock, Pin

if TYPE_CHECKING:
    from .dockerfile import BaseLayer, BuildContext


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to build: base image (default ``python:X.Y-slim`` for the spec), tag, cache, platform, uid."""

    base_image: str = ""
    tag: str = ""
    no_cache: bool = False
    platform: str = ""
    uid: int = 1000
    use_lock: bool = True


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """A built (or reused) image, the lock read back from it, and how long it took."""

    image: ImageRecord
    lock: Lock
    reused: bool
    seconds: float
    dockerfile: str
    tags: tuple[str, ...] = ()


def image_repository(notebook: str | os.PathLike[str] | None, options: BuildOptions) -> str:
    """``envkit/<notebook-stem>`` (or the repository part of ``options.tag``)."""
    if options.tag:
        last = options.tag.rsplit("/", 1)[-1]
        return options.tag.rsplit(":", 1)[0] if ":" in last else options.tag
    stem = Path(notebook).stem if notebook else "environment"
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "notebook"
    return f"envkit/{slug}"


def image_tags(spec: EnvSpec, notebook: str | os.PathLike[str] | None, options: BuildOptions) -> tuple[str, str]:
    """The readable tag (``--tag`` or ``envkit/<stem>:latest``) and the content tag."""
    repo = image_repository(notebook, options)
    readable = options.tag if options.tag and ":" in options.tag.rsplit("/", 1)[-1] else f"{repo}:latest"
    return readable, f"{repo}:{spec.digest().removeprefix('sha256:')[:12]}"


def read_lock(image_id: str, spec: EnvSpec, *, known: Lock | None = None,
              wheel_hashes: dict[str, dict[str, str]] | None = None) -> Lock:
    """The installed set recorded in the image (``/opt/envkit/lock.json``) as a Lock.

    Hashes come from the index (recorded during the build), from the lock the build installed,
    or from wheels downloaded on the host, whichever applies; pins without a source have none.
    """
    from .dockerfile import LOCK_FILE
    from .engine.images import read_file

    data = json.loads(read_file(image_id, LOCK_FILE))
    pins = []
    for p in data.get("packages", ()):
        hashes = tuple(p.get("hashes", ()))
        prior = known.pin(p["name"]) if known is not None else None
        if not hashes and prior is not None and prior.version == p["version"]:
            hashes = prior.hashes
        if not hashes and wheel_hashes:
            wheel = (wheel_hashes.get(p["name"]) or {}).get(p["version"])
            hashes = (wheel,) if wheel else ()
        pins.append(Pin(name=p["name"], version=p["version"], hashes=hashes, url=p.get("url", "")))
    return Lock(spec_digest=spec.digest(), python=data["python"], packages=tuple(pins), source="image",
                platform=data.get("platform", ""))


def _record(image_id: str, spec: EnvSpec, tag: str) -> ImageRecord:
    from .engine.images import inspect_image

    info = inspect_image(image_id)
    return ImageRecord(id=image_id, tag=tag, spec_digest=spec.digest(), size=info.size if info else 0)


def find_reusable(spec: EnvSpec, options: BuildOptions, lock: Lock | None = None) -> tuple[str, Lock] | None:
    """The newest image built from the same spec digest, base, uid and platform, and its lock.

    When ``lock`` applies to the spec (see ``dockerfile.usable_lock``), the image must hold
    exactly its pins: a lock from a live kernel may pin versions an earlier build did not pick.
    """
    from .dockerfile import LABEL_BUILD_KEY, build_key, usable_lock
    from .engine import LABEL_SPEC, LABEL_TEST_RUN
    from .engine.images import list_images

    labels = {LABEL_SPEC: spec.digest(), LABEL_BUILD_KEY: build_key(spec, options)}
    run = os.environ.get("ENVKIT_TEST_RUN")
    if run:
        # A test run only reuses its own images: another run removes its images when it ends.
        labels[LABEL_TEST_RUN] = run
    wanted = usable_lock(spec, lock, options)
    for image in list_images(labels):
        found = read_lock(image.id, spec, known=lock)
        if wanted is None or all(_same_pin(found.pin(p.name), p) for p in wanted.packages):
            return image.id, found
    return None


def _same_pin(have: Pin | None, want: Pin) -> bool:
    return have is not None and have.version == want.version and have.url == want.url


def previous_layer(ref: str, spec: EnvSpec, options: BuildOptions) -> BaseLayer | None:
    """The packages layer of image ``ref`` when it has the same base, uid and platform.

    Repeating it lets the engine reuse it from its cache; the build then installs only what
    changed (one added package costs about one package's install, not the whole set).
    """
    from .dockerfile import LABEL_OPTIONS_KEY, LAYER_DIR, BaseLayer, options_key
    from .engine.images import inspect_image, read_files

    info = inspect_image(ref) if ref else None
    if info is None or info.labels.get(LABEL_OPTIONS_KEY) != options_key(spec, options):
        return None
    try:
        files = read_files(info.id, LAYER_DIR)
    except EngineError:
        return None  # made by an envkit without layer/ (or a hand-made image under that tag)
    requirements, command = files.get("layer/requirements.txt"), files.get("layer/run.txt")
    if requirements is None or command is None or b"--offline" in command:
        return None  # an offline layer needs wheels the cache alone cannot give back
    return BaseLayer(requirements=requirements, command=command.decode().rstrip("\n"))


def build_spec(spec: EnvSpec, *, lock: Lock | None = None, options: BuildOptions = BuildOptions(),
               notebook: str = "", progress: Progress | None = None) -> BuildResult:
    """Build (or reuse) the image for ``spec``; install from ``lock`` when it matches the spec.

    Raises ``BuildFailed`` naming the failing step, the package at fault and the log's last
    lines; the previous image and tags are left as they were.
    """
    from .dockerfile import base_image_for, image_labels, needs_host_download, render_context
    from .engine.images import build_image, tag_image
    from .hostwheels import download_wheels

    started = time.monotonic()
    readable, content = image_tags(spec, notebook, options)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The host's pip settings come from a `pip config list` subprocess (~0.25 s): read them
        # while the engine is asked for a reusable image and the previous packages layer.
        pip_future = pool.submit(pip_settings)
        # --no-lock asks for a fresh resolution: no reuse, no repeated packages layer.
        fresh = options.no_cache or not options.use_lock
        found = None if fresh else find_reusable(spec, options, lock)
        base = None if fresh or found else previous_layer(readable, spec, options)
        pip = pip_future.result()
    if found is not None:
        reusable, result_lock = found
        context = render_context(spec, lock, options, notebook=notebook, pip=pip)
        for ref in (readable, content):
            tag_image(reusable, ref)
        emit(progress, Note(text=f"reused {content} ({reusable[7:19]}): an image of this spec already exists"))
        seconds = time.monotonic() - started
        emit(progress, Done(text=f"{readable} reused in {seconds:.1f}s"))
        return BuildResult(image=_record(reusable, spec, readable), lock=result_lock, reused=True,
                           seconds=seconds, dockerfile=context.dockerfile, tags=(readable, content))
    wheels: dict[str, bytes] = {}
    wheel_hashes: dict[str, dict[str, str]] = {}
    if needs_host_download(pip):
        emit(progress, Note(text="the package index needs credentials: downloading wheels on the host"))
        plan_context = render_context(spec, lock, options, notebook=notebook, pip=pip)
        wheels, wheel_hashes = download_wheels(plan_context.plan.requirements, spec=spec, options=options)
    if base is not None:
        emit(progress, Note(text=f"building on the packages layer of the previous {readable}: "
                                 "only what changed is installed"))
    # The test-run label, when set, goes into the Dockerfile's LABEL too: each label passed
    # through the API instead costs one more build step.
    in_file = image_labels(spec, options, notebook=notebook)
    extra = {k: v for k, v in base_labels("image").items() if k not in in_file}
    context = render_context(spec, lock, options, notebook=notebook, pip=pip, wheels=wheels or None,
                             base_layer=base, extra_labels=extra)
    try:
        image_id, _ = build_image(context.tar(), labels={}, no_cache=options.no_cache,
                                  platform=options.platform, progress=progress, what=readable)
    except BuildFailed as exc:
        raise _explain(exc, spec, base_image_for(spec, options)) from None
    result_lock = read_lock(image_id, spec, known=lock, wheel_hashes=wheel_hashes)
    if not result_lock.python.startswith(spec.python + ".") and result_lock.python != spec.python:
        emit(progress, Note(text=f"the image has Python {result_lock.python}, the spec asks for {spec.python}",
                            level="warning"))
    if not all(p.hashes for p in result_lock.packages):
        emit(progress, Note(text="some pins have no hashes (the index gave none); the lock stores versions only",
                            level="warning"))
    for ref in (readable, content):
        tag_image(image_id, ref)
    seconds = time.monotonic() - started
    record = _record(image_id, spec, readable)
    emit(progress, Done(text=f"built {readable} ({record.size / 1e6:.0f} MB) in {seconds:.1f}s"))
    return BuildResult(image=record, lock=result_lock, reused=False, seconds=seconds,
                       dockerfile=context.dockerfile, tags=(readable, content))


_FAULT = [
    re.compile(r"Because (?:there is no version of |only [^ ]+ is available and )?([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"Failed to (?:build|download|fetch|prepare distributions?)[:]? `([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry"),
]


def package_at_fault(lines: list[str], spec: EnvSpec) -> str | None:
    """The distribution an installer's error blames, preferring names the spec requires."""
    from packaging.utils import canonicalize_name

    names = {r.name for r in spec.requirements}
    blamed = []
    for line in lines:
        for pattern in _FAULT:
            blamed += [canonicalize_name(m.rstrip(".")) for m in pattern.findall(line)]
    for name in blamed:
        if name in names:
            return name
    for line in reversed(lines):
        for name in sorted(names):
            if re.search(rf"(?<![A-Za-z0-9._-]){re.escape(name)}(?![A-Za-z0-9_-])", line, re.I):
                return name
    return blamed[0] if blamed else None


def _explain(exc: BuildFailed, spec: EnvSpec, base_image: str) -> BuildFailed:
    if exc.step and " : FROM " in exc.step:
        return BuildFailed(exc.message, f"the base image {base_image} is neither on this engine nor pullable: "
                           "pull it ('docker pull'), or pass --base-image with a local image",
                           step=exc.step, log_tail=exc.log_tail)
    package = package_at_fault(exc.log_tail, spec)
    hint = ("check the package's name and version (the spec's requirements are in the notebook's "
            "metadata; 'envkit capture' shows where each came from)") if package else \
        "read the log above; 'envkit dockerfile' prints the Dockerfile that was built"
    return BuildFailed(exc.message, hint, step=exc.step, package=package, log_tail=exc.log_tail)


def notebook_label(path: Path) -> str:
    """The notebook as images record it: its full path, with the home folder written ``~``.

    Labels travel with a pushed image; the user's name in ``/home/<name>`` need not.
    """
    full = path.resolve()
    try:
        return "~/" + full.relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return full.as_posix()


def _spec_of(path: Path) -> tuple[EnvSpec, Lock | None]:
    from .notebook import read_notebook

    meta = read_notebook(path).envkit()
    if meta is not None and meta.spec is not None:
        return meta.spec, meta.lock
    try:
        from .capture import capture_notebook
    except ImportError as exc:
        raise EnvkitError(f"{path}: the notebook has no environment spec yet",
                          f"run 'envkit capture --write {path}' first") from exc
    return capture_notebook(path).spec, None


def build_notebook(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions(),
                   progress: Progress | None = None) -> BuildResult:
    """Build (or reuse) the image for a notebook and write lock and image record into it.

    A notebook without a spec is captured first.
    """
    from .notebook import update_envkit

    p = Path(path)
    spec, lock = _spec_of(p)
    result = build_spec(spec, lock=lock, options=options, notebook=notebook_label(p), progress=progress)
    update_envkit(p, spec=spec, lock=result.lock, image=result.image)
    return result


def ensure_image(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions(),
                 progress: Progress | None = None) -> ImageRecord:
    """The notebook's image: the recorded one if it still exists and fits the spec, else built."""
    from .engine.images import inspect_image
    from .notebook import read_notebook

    meta = read_notebook(path).envkit()
    if (meta is not None and meta.spec is not None and meta.image is not None
            and meta.image.spec_digest == meta.spec.digest() and not options.no_cache
            and not options.base_image and inspect_image(meta.image.id) is not None):
        return meta.image
    return build_notebook(path, options=options, progress=progress).image


def forwarding_variables() -> dict[str, object]:
    """Template variables for another Dockerfile that installs packages (e.g. JupyterLab).

    ``ca_bundle`` (a context file name, "" when none), ``index_env`` (name, value pairs),
    ``prefix`` and ``venv``. Pass the files of ``forwarding_files()`` in the context.
    """
    from .dockerfile import CA_NAME, PREFIX, VENV, forwarded_index_env

    pip = pip_settings()
    return {"ca_bundle": CA_NAME if pip.ca_bundle else "", "index_env": forwarded_index_env(pip),
            "prefix": PREFIX, "venv": VENV}


def forwarding_files() -> dict[str, bytes]:
    """The context files ``forwarding_variables()`` refers to (the host's CA bundle)."""
    from .dockerfile import CA_NAME

    pip = pip_settings()
    return {CA_NAME: pip.ca_bundle.read_bytes()} if pip.ca_bundle else {}


def build_dockerfile(dockerfile: str, files: dict[str, bytes], *, tag: str, labels: dict[str, str],
                     options: BuildOptions = BuildOptions(), progress: Progress | None = None) -> str:
    """Build any Dockerfile text with ``files`` as its context; tag it only on success.

    The host's CA bundle is added to the context as ``ca-certificates.crt`` when the caller has
    not (see ``forwarding_variables``). Returns the image ID.
    """
    from .dockerfile import context_tar
    from .engine.images import build_image, tag_image

    context = {**forwarding_files(), **files}
    image_id, _ = build_image(context_tar(dockerfile, context), labels={**base_labels("image"), **labels},
                              no_cache=options.no_cache, platform=options.platform, progress=progress,
                              what=tag or "image")
    if tag:
        tag_image(image_id, tag)
    return image_id


__all__ = ["BuildOptions", "BuildResult", "build_dockerfile", "build_notebook", "build_spec",
           "ensure_image", "find_reusable", "forwarding_files", "forwarding_variables", "image_tags",
           "package_at_fault", "previous_layer", "read_lock", "render_notebook"]


def render_notebook(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions()) -> BuildContext:
    """The Dockerfile and context ``build_notebook`` would build (captures first if needed).

    When the index needs credentials the wheels are not downloaded here; the returned
    context's ``plan`` says what would be installed.
    """
    from .dockerfile import render_context

    p = Path(path)
    spec, lock = _spec_of(p)
    readable, _ = image_tags(spec, notebook_label(p), options)
    base = None
    if not options.no_cache and options.use_lock and find_reusable(spec, options, lock) is None:
        base = previous_layer(readable, spec, options)
    return render_context(spec, lock, options, notebook=notebook_label(p), base_layer=base)
