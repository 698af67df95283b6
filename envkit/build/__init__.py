"""The build flow: spec → plan → Dockerfile and context → image → lock and image record written back.

``build_spec`` reads one way. It looks for an image made from the same spec digest, base image,
uid and platform first (a label look-up, no build); otherwise it plans (``envkit.plan``, pure),
renders (``envkit.dockerfile``, no engine), builds by ID through the engine, reads the installed
set back from the image as the lock, and only then tags the image (a readable name and a
content tag from the spec digest), so a failed build leaves earlier tags where they were.

``current_spec`` is where every front end's notebook comes in: captured again, merged with the
stored spec (``capture.merge.merge_stored``), its base image chosen once (``plan.choose_base_image``).

Settings are read here, once per build, and passed down: the uid rule
(``settings.default_uid``), the extra labels (``ENVKIT_LABELS``), the host's pip settings, the
template override folders and the user's default base image.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..capture import capture_current
from ..dockerfile import BuildContext, render
from ..dockerfile.steps import narrate
from ..engine.images import build_image, inspect_image, tag_image
from ..engine.system import engine_machine
from ..era_build import era_choice, era_resolve
from ..errors import BuildFailed, NotebookError
from ..events import Done, Note, Progress, emit
from ..notebook import read_notebook, update_envkit
from ..plan import (
    BaseLayer,
    BuildOptions,
    choose_base_image,
    fresh_build,
    image_tags,
    index_name,
    make_plan,
    needs_host_download,
)
from ..settings import default_base_image, extra_labels, pip_settings, template_dirs
from ..spec import EnvSpec, ImageRecord, Lock
from .failure import explain, package_at_fault
from .forwarding import build_dockerfile, forwarding_files, forwarding_variables, render_template
from .hostwheels import download_wheels
from .options import resolve_options
from .python_base import notebook_python
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
        # Steps in words ("installing six and ipykernel"), not the engine's instruction text.
        worded = narrate(progress, context.dockerfile, plan, install_command=context.install_command)
        image_id, _ = build_image(context.tar(), labels={}, no_cache=options.no_cache,
                                  platform=options.platform, progress=worded, what=readable)
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
    emit(progress, Note(text=f"an image of this spec already exists: {tags[1]} ({image_id[7:19]})"))
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


@dataclass(frozen=True, kw_only=True)
class CurrentSpec:
    """What a notebook needs now: a fresh capture merged with its record, and that record's lock and image.

    ``changes`` is one line for a person (``the notebook changed: + attrs (cell 7)``), empty when
    the stored spec still holds.
    """

    spec: EnvSpec
    lock: Lock | None = None
    image: ImageRecord | None = None
    changes: str = ""


def current_spec(path: Path, options: BuildOptions = BuildOptions(), *,
                 progress: Progress | None = None, ask_engine: bool = True) -> CurrentSpec:
    """Capture the notebook again and merge with its stored spec; choose its base image once.

    Every build, run, kernel and launch comes here (through ``build_notebook`` and
    ``ensure_image``), so a stale spec is never used silently. The base image: ``--base-image``,
    else the stored spec's, else the user's default (``settings.default_base_image``), else
    ``python:X.Y-slim`` (``plan.choose_base_image``); it is stored with the spec. When nothing
    chose one and the notebook has no record, its Python is the one it ran on where the engine
    has (or can pull) that image, else the documented fallback (``python_base.notebook_python``,
    said in one line; ``ask_engine=False`` takes the notebook's Python as it is). A notebook
    without a record (or any notebook with ``--as-of``) is resolved as of its era
    (``era_build.era_resolve``), with a lock of source ``era``; a built one keeps its era and lock.
    """
    nb = read_notebook(path)
    meta = nb.envkit()
    stored = meta.spec if meta is not None else None
    refreshed = capture_current(nb, stored=stored, live=options.live, progress=progress)
    old_base = stored.base_image if stored is not None else ""
    base = choose_base_image(explicit=options.base_image, stored=old_base,
                             user_default="" if options.base_image or old_base else default_base_image())
    spec = refreshed.spec.with_changes(base_image=base)
    if stored is None and not base:  # a built notebook keeps its Python and base: no silent change
        python = notebook_python(nb.raw, default=spec.python, ask_engine=ask_engine, progress=progress)
        spec = spec.with_changes(python=python.python)
        emit(progress, Note(text=python.line))
    lock = meta.lock if meta else None
    choice = era_choice(options.as_of, recorded=stored is not None)
    if choice.mode == "keep" or (choice.mode == "now" and stored is not None and not stored.as_of):
        if stored is not None:  # the era a built notebook was resolved as of stays with it
            spec = spec.with_changes(as_of=stored.as_of, as_of_reason=stored.as_of_reason)
    else:
        spec, lock = era_resolve(path, spec.with_changes(as_of="", as_of_reason=""), choice, progress=progress,
                                 base=base)
    changes = list(refreshed.changes)
    if stored is not None and base != old_base:
        changes.append(f"base image {_shown_base(old_base, spec)} → {_shown_base(base, spec)}")
    return CurrentSpec(spec=spec, lock=lock, image=meta.image if meta else None,
                       changes="the notebook changed: " + ", ".join(changes) if changes else "")


def _shown_base(base: str, spec: EnvSpec) -> str:
    return base or f"python:{spec.python}-slim"


def spec_of(path: Path, options: BuildOptions = BuildOptions()) -> tuple[EnvSpec, Lock | None]:
    """The spec the notebook needs now (``current_spec``) and its stored lock."""
    current = current_spec(path, options)
    return current.spec, current.lock


def build_notebook(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions(),
                   progress: Progress | None = None) -> BuildResult:
    """Build (or reuse) the image for a notebook and write spec, lock and image record into it.

    The notebook is captured again first and merged with its stored spec; what changed is said
    in one line, and the build installs only that on the previous packages layer.
    """
    p = Path(path)
    return _build(p, _announced(current_spec(p, options, progress=progress), progress), options, progress)


def _announced(current: CurrentSpec, progress: Progress | None) -> CurrentSpec:
    if current.changes:
        emit(progress, Note(text=current.changes))
    return current


def _build(path: Path, current: CurrentSpec, options: BuildOptions, progress: Progress | None) -> BuildResult:
    result = build_spec(current.spec, lock=current.lock, options=options, notebook=notebook_label(path),
                        progress=progress)
    update_envkit(path, spec=current.spec, lock=result.lock, image=result.image)
    return result


def ensure_image(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions(),
                 progress: Progress | None = None) -> ImageRecord:
    """The notebook's image: the recorded one if it still exists and fits the spec as captured now, else built."""
    p = Path(path)
    current = _announced(current_spec(p, options, progress=progress), progress)
    if (current.image is not None and current.image.spec_digest == current.spec.digest() and not options.no_cache
            and not options.as_of
            and inspect_image(current.image.id) is not None):
        return current.image
    return _build(p, current, options, progress).image


def render_notebook(path: str | os.PathLike[str], *, options: BuildOptions = BuildOptions()) -> BuildContext:
    """The Dockerfile and context of the notebook, from the notebook alone (captured again, merged with its spec).

    No engine is asked anything, so the output is the same whatever images are local: the full
    Dockerfile a fresh build runs (a build may first repeat an earlier image's packages layer,
    to install only what changed). When the index needs credentials the plan is offline and the
    wheels are not downloaded here.
    """
    p = Path(path)
    if not p.is_file():
        raise NotebookError(f"{p}: no such notebook", "check the path")
    current = current_spec(p, options, ask_engine=False)
    spec, lock = current.spec, current.lock
    plan = make_plan(spec, lock, resolve_options(options), notebook=notebook_label(p), pip=pip_settings(),
                     extra_labels=extra_labels())
    return render(plan, template_dirs=template_dirs())


__all__ = ["BaseLayer", "BuildOptions", "BuildResult", "CurrentSpec", "build_dockerfile", "build_notebook", "build_spec",
           "current_spec", "ensure_image", "find_reusable", "forwarding_files", "forwarding_variables", "needs_host_download",
           "notebook_label", "package_at_fault", "previous_layer", "read_lock", "render_notebook",
           "render_template", "resolve_options", "spec_of"]
