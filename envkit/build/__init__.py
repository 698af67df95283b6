"""The build flow: spec → plan → Dockerfile and context → image → lock and image record written back.

``build_spec`` reads one way. It looks for an image made from the same spec digest, base image,
uid and platform first (a label look-up, no build); otherwise it plans (``envkit.plan``, pure),
renders (``envkit.dockerfile``, no engine), builds by ID through the engine, reads the installed
set back from the image as the lock, and only then tags the image (a readable name and a
content tag from the spec digest), so a failed build leaves earlier tags where they were.

Settings are read here, once per build, and passed down: the uid rule
(``settings.default_uid``), the extra labels (``ENVKIT_LABELS``), the host's pip settings and
the template override folders.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..capture import capture_notebook
from ..dockerfile import BuildContext, render
from ..engine.images import build_image, inspect_image, tag_image
from ..engine.system import engine_machine
from ..era_build import era_choice, era_resolve
from ..errors import BuildFailed, NotebookError
from ..events import Done, Note, Progress, emit
from ..notebook import read_notebook, update_envkit
from ..plan import (
    BaseLayer,
    BuildOptions,
    fresh_build,
    image_tags,
    index_name,
    make_plan,
    needs_host_download,
)
from ..settings import extra_labels, pip_settings, template_dirs
from ..spec import EnvSpec, ImageRecord, Lock
from .failure import explain, package_at_fault
from .forwarding import build_dockerfile, forwarding_files, forwarding_variables, render_template
from .hostwheels import download_wheels
from .options import resolve_options
from .reuse import find_reusable, image_record, previous_layer, read_lock


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """A built (or reused) image, the lock read back from it, and how long it took."""

    image: ImageRecord
    lock: Lock
    reused: bool
    seconds: float
    dockerfile: str
    tags: tuple[str, ...] = ()


def build_spec(spec: EnvSpec, *, lock: Lock | None = None, options: BuildOptions = BuildOptions(),
               notebook: str = "", progress: Progress | None = None) -> BuildResult:
    """Build (or reuse) the image for ``spec``; install from ``lock`` when it matches the spec.

    Raises ``BuildFailed`` naming the failing step and what is at fault (the base image, the
    network, or a package) with the log's last lines; the previous image and tags are left as
    they were.
    """
    started = time.monotonic()
    options = resolve_options(options)
    extra = extra_labels()
    readable, content = image_tags(spec, notebook, options)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The host's pip settings come from a `pip config list` subprocess (~0.25 s): read them
        # while the engine is asked for a reusable image and the previous packages layer.
        pip_future = pool.submit(pip_settings)
        fresh = fresh_build(options)  # --no-lock asks for a fresh resolution: no reuse, no repeated layer
        found = None if fresh else find_reusable(spec, options, lock, extra_labels=extra)
        base = None if fresh or found else previous_layer(readable, spec, options, notebook=notebook)
        pip = pip_future.result()
    plan = make_plan(spec, lock, options, notebook=notebook, pip=pip, base_layer=base, extra_labels=extra)
    if found is not None:
        return _reused(found, spec, render(plan, template_dirs=template_dirs()).dockerfile, (readable, content),
                       started, progress)
    wheels: dict[str, bytes] = {}
    wheel_hashes: dict[str, dict[str, str]] = {}
    if plan.offline:
        emit(progress, Note(text="the package index needs credentials: downloading wheels on the host"))
        wheels, wheel_hashes = download_wheels(plan.install.requirements, spec=spec, options=options,
                                               engine_machine="" if options.platform else engine_machine())
    if base is not None:
        emit(progress, Note(text=f"building on the packages layer of the previous {readable}: "
                                 "only what changed is installed"))
    context = render(plan, wheels=wheels, template_dirs=template_dirs())
    try:
        image_id, _ = build_image(context.tar(), labels={}, no_cache=options.no_cache,
                                  platform=options.platform, progress=progress, what=readable)
    except BuildFailed as exc:
        raise explain(exc, spec, base_image=plan.base_image, index=index_name(pip)) from None
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
    record = image_record(image_id, spec, readable)
    emit(progress, Done(text=f"built {readable} ({record.size / 1e6:.0f} MB) in {seconds:.1f}s"))
    return BuildResult(image=record, lock=result_lock, reused=False, seconds=seconds,
                       dockerfile=context.dockerfile, tags=(readable, content))


def _reused(found: tuple[str, Lock], spec: EnvSpec, dockerfile: str, tags: tuple[str, str], started: float,
            progress: Progress | None) -> BuildResult:
    image_id, lock = found
    for ref in tags:
        tag_image(image_id, ref)
    emit(progress, Note(text=f"reused {tags[1]} ({image_id[7:19]}): an image of this spec already exists"))
    seconds = time.monotonic() - started
    emit(progress, Done(text=f"{tags[0]} reused in {seconds:.1f}s"))
    return BuildResult(image=image_record(image_id, spec, tags[0]), lock=lock, reused=True, seconds=seconds,
                       dockerfile=dockerfile, tags=tags)


def notebook_label(path: Path) -> str:
    """The notebook as images record it: its full path, with the home folder written ``~``.

    Labels travel with a pushed image; the user's name in ``/home/<name>`` need not.
    """
    full = path.resolve()
    try:
        return "~/" + full.relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return full.as_posix()


def spec_of(path: Path, *, as_of: str = "", progress: Progress | None = None) -> tuple[EnvSpec, Lock | None]:
    """The notebook's stored spec and lock; a notebook without a spec is captured and resolved as of
    its era (``as_of``: ``--as-of``, see ``era.choose_as_of``) with a lock of source ``era``."""
    meta = read_notebook(path).envkit()
    recorded = meta is not None and meta.spec is not None
    choice = era_choice(as_of, recorded=recorded)
    if recorded and (choice.mode == "keep" or (choice.mode == "now" and not meta.spec.as_of)):
        return meta.spec, meta.lock
    spec = meta.spec.with_changes(as_of="", as_of_reason="") if recorded else capture_notebook(path).spec
    return era_resolve(path, spec, choice, progress=progress)


def build_notebook(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions(),
                   progress: Progress | None = None) -> BuildResult:
    """Build (or reuse) the image for a notebook and write lock and image record into it.

    A notebook without a spec is captured first.
    """
    p = Path(path)
    spec, lock = spec_of(p, as_of=options.as_of, progress=progress)
    result = build_spec(spec, lock=lock, options=options, notebook=notebook_label(p), progress=progress)
    update_envkit(p, spec=spec, lock=result.lock, image=result.image)
    return result


def ensure_image(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions(),
                 progress: Progress | None = None) -> ImageRecord:
    """The notebook's image: the recorded one if it still exists and fits the spec, else built."""
    meta = read_notebook(path).envkit()
    if (meta is not None and meta.spec is not None and meta.image is not None
            and meta.image.spec_digest == meta.spec.digest() and not options.no_cache
            and not options.base_image and not options.as_of and inspect_image(meta.image.id) is not None):
        return meta.image
    return build_notebook(path, options=options, progress=progress).image


def render_notebook(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions()) -> BuildContext:
    """The Dockerfile and context of the notebook, from the notebook alone (captured first if needed).

    No engine is asked anything, so the output is the same whatever images are local: the full
    Dockerfile a fresh build runs (a build may first repeat an earlier image's packages layer,
    to install only what changed). When the index needs credentials the plan is offline and the
    wheels are not downloaded here.
    """
    p = Path(path)
    if not p.is_file():
        raise NotebookError(f"{p}: no such notebook", "check the path")
    spec, lock = spec_of(p, as_of=options.as_of)
    plan = make_plan(spec, lock, resolve_options(options), notebook=notebook_label(p), pip=pip_settings(),
                     extra_labels=extra_labels())
    return render(plan, template_dirs=template_dirs())


__all__ = ["BaseLayer", "BuildOptions", "BuildResult", "build_dockerfile", "build_notebook", "build_spec",
           "ensure_image", "find_reusable", "forwarding_files", "forwarding_variables", "needs_host_download",
           "notebook_label", "package_at_fault", "previous_layer", "read_lock", "render_notebook",
           "render_template", "resolve_options", "spec_of"]
