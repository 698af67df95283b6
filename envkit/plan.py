"""What to build, decided without doing anything: build options, keys, the reuse rule, lock use,
the install plan, labels and tags, gathered into one ``BuildPlan`` that ``envkit.dockerfile``
renders.

Pure: no engine, no environment variables, no files, no subprocess. Everything a decision
needs comes in as an argument (the host's pip settings, the configured extra labels, what
the engine says about an earlier image), so each branch is a unit test of milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from . import validate as v
from .errors import UsageError
from .labels import LABEL_BUILD_KEY, LABEL_NOTEBOOK, LABEL_OPTIONS_KEY, LABEL_SPEC, LABEL_VERSION, own_labels
from .settings import PipSettings
from .spec import EnvSpec, Lock, Pin, sha256_digest
from .version import __version__

# Where things live in every image envkit builds.
PREFIX = "/opt/envkit"
VENV = f"{PREFIX}/venv"
LOCK_FILE = f"{PREFIX}/lock.json"
LAYER_DIR = f"{PREFIX}/layer"
UV_VERSION = "0.13.9"
CA_NAME = "ca-certificates.crt"
KERNEL_PACKAGE = "ipykernel"
# What an image of a spec holds besides its packages; bumped when that changes, so an image of
# an older layout is rebuilt, not reused (2: the kernel side, templates/kernel).
IMAGE_LAYOUT = 2
# The image's user when nothing chose one (``envkit.build`` applies ``settings.default_uid``
# before planning; pure callers such as the golden tests get this).
FALLBACK_UID = 1000


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to build: base image (default ``python:X.Y-slim`` for the spec), tag, cache, platform, uid.

    ``uid=None`` means the default rule (``envkit.settings.default_uid``), applied by
    ``envkit.build`` for every front end alike.
    """

    base_image: str = ""
    tag: str = ""
    no_cache: bool = False
    platform: str = ""
    uid: int | None = None
    use_lock: bool = True
    live: bool = False  # captured in the kernel running the notebook: pin to the versions it has loaded
    as_of: str = ""  # --as-of: DATE, auto or now; "" keeps a built notebook's lock, infers otherwise (envkit.era)


def image_uid(options: BuildOptions) -> int:
    """The uid the image's user gets (never 0: the image's user must not be root)."""
    uid = FALLBACK_UID if options.uid is None else options.uid
    if uid <= 0:
        raise UsageError(f"uid {uid} would make the image's user root",
                         "pass a uid above 0 (--uid 1000), or leave it to envkit")
    return uid


def base_image_for(spec: EnvSpec, options: BuildOptions) -> str:
    """The image to build FROM: the option, the spec's, else ``python:X.Y-slim``."""
    return options.base_image or spec.base_image or f"python:{spec.python}-slim"


def choose_base_image(*, explicit: str = "", stored: str = "", user_default: str = "") -> str:
    """The base image a notebook's spec records, chosen once.

    An explicit choice (``--base-image``, ``%config EnvkitMagics.base_image``) first, then the
    base the notebook's spec already stores, then the user's default (``ENVKIT_BASE_IMAGE``,
    else the config file: ``envkit.settings.default_base_image``). ``""`` leaves it to
    ``python:X.Y-slim`` for the spec's Python. Stored in the spec, the choice travels with the
    notebook: a later command, or a teammate with another default, builds on the same base.
    """
    if explicit:
        return v.image_reference(explicit.strip(), "base_image")
    return stored or user_default


# ---- the Python a notebook without a record is built on ---------------------------------------

# The oldest Python envkit builds images for: uv and ipykernel 6 still install there, and the
# image's own files (freeze.py, the kernel side) parse on it. A notebook of an older 3.x gets this.
OLDEST_IMAGE_PYTHON = "3.8"


@dataclass(frozen=True, kw_only=True)
class PythonChoice:
    """The Python a notebook's image gets (``X.Y``; the base is then ``python:X.Y-slim``) and one line saying why."""

    python: str
    line: str


def _minor(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def image_python(wanted: str | None) -> str | None:
    """The Python whose image a notebook that ran on ``wanted`` asks for: a 3.x older than
    ``OLDEST_IMAGE_PYTHON`` raised to it; None for Python 2 or nothing said."""
    if wanted is None or _minor(wanted)[0] < 3:
        return None
    return OLDEST_IMAGE_PYTHON if _minor(wanted) < _minor(OLDEST_IMAGE_PYTHON) else wanted


def choose_python(wanted: str | None, source: str, *, have: Collection[str] | None, default: str, host: str,
                  pulled: bool = False) -> PythonChoice:
    """The Python of a notebook without an envkit record and without a chosen base image.

    ``wanted`` is the Python the notebook ran on (``X.Y``, None when it does not say) and
    ``source`` what said so (``language_info``); ``have`` the ``X.Y`` of every ``python:X.Y-slim``
    the engine has (after trying to pull the wanted one: ``pulled`` when that worked; None when
    the engine was not asked); ``default`` the Python capture chose without the engine (this
    machine's, one a PEP 723 ``requires-python`` allows, or capture's floor for Python 2); ``host``
    this machine's Python. In order:

    1. the notebook's own Python (a 3.x older than ``OLDEST_IMAGE_PYTHON`` raised to it; Python 2
       counts as not saying: its cells are named apart) when the engine has its image;
    2. else the nearest newer Python whose image the engine has, else this machine's Python;
    3. when the notebook does not say, the default if the engine has its image, else the
       newest the engine has; else the default (the build then tries to pull its image, and
       says so if it cannot).
    """
    said = says = f"the notebook's {source} says {wanted}"
    if wanted is not None and _minor(wanted)[0] < 3:
        wanted, said = None, f"{said}, which envkit does not build for"
    elif wanted is not None and _minor(wanted) < _minor(OLDEST_IMAGE_PYTHON):
        wanted, said = OLDEST_IMAGE_PYTHON, f"{said}, older than {OLDEST_IMAGE_PYTHON}, the oldest envkit builds for"
    elif wanted is not None:
        said = f"{source} of the notebook"
    else:
        said = "the notebook does not say which Python"
    if have is None:  # the engine was not asked (rendering only): the wanted Python as it is
        return PythonChoice(python=wanted or default, line=f"Python {wanted or default} ({said})")
    versions = sorted({v for v in have if re.fullmatch(r"\d+\.\d+", v)}, key=_minor)
    if wanted is None:
        if default in versions:
            return PythonChoice(python=default, line=f"Python {default} ({said}; the default): "
                                                     f"python:{default}-slim is on the engine")
        if versions:
            newest = versions[-1]
            return PythonChoice(python=newest, line=f"Python {newest} ({said}; the engine has no python:{default}-slim "
                                                    f"for the default): python:{newest}-slim, the newest it has")
        return PythonChoice(python=default, line=f"Python {default} ({said}; the default): the engine has no "
                                                 f"python:X.Y-slim image, the build will try to pull python:{default}-slim")
    if wanted in versions:
        how = f"pulled python:{wanted}-slim" if pulled else f"python:{wanted}-slim is on the engine"
        return PythonChoice(python=wanted, line=f"Python {wanted} ({said}): {how}")
    missing = f"{says}; the engine has no python:{wanted}-slim and could not pull it"
    newer = [v for v in versions if _minor(v) > _minor(wanted)]
    if newer:
        return PythonChoice(python=newer[0], line=f"Python {newer[0]} ({missing}): python:{newer[0]}-slim, "
                                                  "the nearest newer one it has")
    where = "on the engine" if host in versions else "which the build will try to pull"
    return PythonChoice(python=host, line=f"Python {host} ({missing}, nor a newer one): this machine's Python, "
                                          f"python:{host}-slim, {where}")


def options_key(spec: EnvSpec, options: BuildOptions) -> str:
    """What the layers below the packages depend on: base image, uid and platform."""
    return sha256_digest({"base": base_image_for(spec, options), "uid": image_uid(options),
                          "platform": options.platform})


def build_key(spec: EnvSpec, options: BuildOptions) -> str:
    """What makes two builds interchangeable: spec digest, base image, uid, platform and image layout."""
    return sha256_digest({"spec": spec.digest(), "base": base_image_for(spec, options),
                          "uid": image_uid(options), "platform": options.platform, "layout": IMAGE_LAYOUT})


# ---- tags --------------------------------------------------------------------------------


def notebook_slug(notebook: str) -> str:
    """``<stem>-<6 hex>``: the notebook's file name, made unique by a hash of its label.

    Two ``analysis.ipynb`` in different folders get different repositories, so neither moves
    the other's tags nor builds on the other's packages layer.
    """
    stem = PurePosixPath(notebook).stem if notebook else "environment"
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "notebook"
    if not notebook:
        return slug
    return f"{slug}-{hashlib.sha256(notebook.encode()).hexdigest()[:6]}"


def image_repository(notebook: str, options: BuildOptions) -> str:
    """``envkit/<stem>-<hash of the notebook label>`` (or the repository part of ``options.tag``)."""
    if options.tag:
        last = options.tag.rsplit("/", 1)[-1]
        return options.tag.rsplit(":", 1)[0] if ":" in last else options.tag
    return f"envkit/{notebook_slug(notebook)}"


def image_tags(spec: EnvSpec, notebook: str, options: BuildOptions) -> tuple[str, str]:
    """The readable tag (``--tag`` or ``<repository>:latest``) and the content tag (spec digest)."""
    repo = image_repository(notebook, options)
    readable = options.tag if options.tag and ":" in options.tag.rsplit("/", 1)[-1] else f"{repo}:latest"
    return readable, f"{repo}:{spec.digest().removeprefix('sha256:')[:12]}"


# ---- the package index ---------------------------------------------------------------------


def has_credentials(url: str) -> bool:
    """True when an index URL carries a user name, password or token."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.username or parts.password)


def redact(text: str) -> str:
    """``text`` with ``user:password@`` in URLs hidden."""
    return re.sub(r"//[^/@\s]+@", "//***@", text)


def needs_host_download(pip: PipSettings) -> bool:
    """True when an index URL holds credentials: wheels are then fetched on the host."""
    return any(has_credentials(u) for u in (pip.index_url or "", *pip.extra_index_urls) if u)


def forwarded_index_env(pip: PipSettings) -> list[tuple[str, str]]:
    """The host's index settings as installer variables (only URLs without credentials)."""
    env: list[tuple[str, str]] = []
    if pip.index_url and not has_credentials(pip.index_url):
        env += [("PIP_INDEX_URL", pip.index_url), ("UV_INDEX_URL", pip.index_url)]
    extras = [u for u in pip.extra_index_urls if not has_credentials(u)]
    if extras:
        env += [("PIP_EXTRA_INDEX_URL", " ".join(extras)), ("UV_EXTRA_INDEX_URL", " ".join(extras))]
    if pip.trusted_hosts:
        env += [("PIP_TRUSTED_HOST", " ".join(pip.trusted_hosts)),
                ("UV_INSECURE_HOST", " ".join(pip.trusted_hosts))]
    return env


def index_name(pip: PipSettings) -> str:
    """The index a build installs from, for messages (credentials hidden)."""
    return redact(pip.index_url) if pip.index_url else "the default package index"


# ---- the lock and the install plan --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InstallPlan:
    """What the packages layer installs: a requirements file, how, and the installer's flags.

    ``mode`` is ``sync`` (a complete lock, installed exactly), ``resolve`` (requirements
    resolved in the build, with hashes from the index) or ``offline`` (host-fetched wheels).
    """

    requirements: str
    mode: str
    flags: tuple[str, ...]
    from_lock: bool
    hashed: bool
    origin: str


@dataclass(frozen=True, kw_only=True)
class BaseLayer:
    """A previous image's packages layer (its ``layer/`` files), to be repeated for the cache."""

    requirements: bytes
    command: str


def usable_lock(spec: EnvSpec, lock: Lock | None, options: BuildOptions) -> Lock | None:
    """The lock to install from: only when asked for, non-empty, and made for this spec."""
    if options.use_lock and lock is not None and lock.packages and lock.spec_digest == spec.digest():
        return lock
    return None


def plan_install(spec: EnvSpec, lock: Lock | None, options: BuildOptions, *, offline: bool = False) -> InstallPlan:
    """Exact pins from a matching lock, else the spec's requirements; ipykernel always."""
    use = usable_lock(spec, lock, options)
    if use is not None:
        # A lock read back from an image is the whole installed set: install exactly that, with
        # no resolution. A kernel's lock holds only what the notebook imports: resolve the rest.
        complete = use.source == "image" and use.pin(KERNEL_PACKAGE) is not None
        hashed = complete and all(p.hashes for p in use.packages) and not offline
        text = use.requirements_txt(with_hashes=hashed)
        if not complete and use.pin(KERNEL_PACKAGE) is None:
            text += KERNEL_PACKAGE + "\n"
        mode = "offline" if offline else "sync" if complete else "resolve"
        return InstallPlan(requirements=text, mode=mode, flags=("--require-hashes",) if hashed else (),
                           from_lock=True, hashed=hashed,
                           origin=f"exact pins from the notebook's lock ({len(use.packages)} packages)")
    lines = [r.pep508() for r in spec.requirements if r.url or not r.direct]
    if spec.requirement(KERNEL_PACKAGE) is None:
        lines.append(KERNEL_PACKAGE)
    return InstallPlan(requirements="".join(line + "\n" for line in lines), mode="offline" if offline else "resolve",
                       flags=(), from_lock=False, hashed=False,
                       origin="the spec's requirements, resolved at build time")


# ---- labels and the reuse rules -------------------------------------------------------------------


def image_labels(spec: EnvSpec, options: BuildOptions, *, notebook: str,
                 extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels written into the Dockerfile: ``extra`` (the configured ones), OCI's and envkit's.

    All go into the Dockerfile's one LABEL step: each label passed through the API instead
    costs one more build step. envkit's own labels win over an extra label of the same key.
    """
    title = PurePosixPath(notebook).stem if notebook else "envkit environment"
    return {
        **(extra or {}),
        **own_labels("image"),
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.description": f"Environment of {notebook or 'an envkit spec'}, built by envkit",
        "org.opencontainers.image.base.name": base_image_for(spec, options),
        "org.opencontainers.image.version": spec.digest().removeprefix("sha256:")[:12],
        LABEL_SPEC: spec.digest(),
        LABEL_VERSION: __version__,
        LABEL_NOTEBOOK: notebook,
        LABEL_BUILD_KEY: build_key(spec, options),
        LABEL_OPTIONS_KEY: options_key(spec, options),
    }


def reuse_filter(spec: EnvSpec, options: BuildOptions, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels an image must carry to be reused for this build.

    Same spec digest and build key (base, uid, platform), and every configured extra label: a
    test run (or a team) reuses only images made under its own labels.
    """
    return {**(extra or {}), LABEL_SPEC: spec.digest(), LABEL_BUILD_KEY: build_key(spec, options)}


def fresh_build(options: BuildOptions) -> bool:
    """True when the build must not reuse an image nor repeat a packages layer (``--no-cache``, ``--no-lock``)."""
    return options.no_cache or not options.use_lock


def same_pin(have: Pin | None, want: Pin) -> bool:
    """True when an installed pin is the one wanted (same version and URL)."""
    return have is not None and have.version == want.version and have.url == want.url


def holds_lock(found: Lock, wanted: Lock | None) -> bool:
    """True when an image's installed set ``found`` holds every pin of ``wanted`` (None: anything)."""
    return wanted is None or all(same_pin(found.pin(p.name), p) for p in wanted.packages)


def may_build_on(labels: Mapping[str, str], spec: EnvSpec, options: BuildOptions, *, notebook: str) -> bool:
    """True when an earlier image (its ``labels``) may lend its packages layer to this build.

    Only an image of the same notebook (label), base image, uid and platform: a same-named
    notebook elsewhere, or another base, never lends its layer.
    """
    return labels.get(LABEL_OPTIONS_KEY) == options_key(spec, options) and labels.get(LABEL_NOTEBOOK, "") == notebook


def recorded_layer(files: Mapping[str, bytes]) -> BaseLayer | None:
    """The packages layer an image recorded in its ``layer/`` files, when it can be repeated.

    Not from an envkit that recorded none, nor an offline layer (it needs wheels the cache
    alone cannot give back).
    """
    requirements, command = files.get("layer/requirements.txt"), files.get("layer/run.txt")
    if requirements is None or command is None or b"--offline" in command:
        return None
    return BaseLayer(requirements=requirements, command=command.decode().rstrip("\n"))


# ---- the whole plan ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    """Everything ``envkit.dockerfile.render`` needs, decided."""

    spec: EnvSpec
    options: BuildOptions
    notebook: str
    install: InstallPlan
    base_image: str
    uid: int
    labels: tuple[tuple[str, str], ...]
    index_env: tuple[tuple[str, str], ...]
    ca_bundle: Path | None
    offline: bool
    base_layer: BaseLayer | None = None

    @property
    def layer_dir(self) -> str:
        """The context folder of this build's install files: ``layer``, or ``delta`` on a repeated layer."""
        return "delta" if self.base_layer else "layer"


def make_plan(spec: EnvSpec, lock: Lock | None, options: BuildOptions, *, notebook: str = "",
              pip: PipSettings | None = None, offline: bool | None = None, base_layer: BaseLayer | None = None,
              extra_labels: Mapping[str, str] | None = None) -> BuildPlan:
    """The plan for ``spec``: install from ``lock`` when it fits, on ``base_layer`` when given.

    ``offline`` (default: when the index needs credentials) installs host-fetched wheels, and
    forwards no index setting into the build.
    """
    pip = pip or PipSettings()
    offline = needs_host_download(pip) if offline is None else offline
    install = plan_install(spec, lock, options, offline=offline)
    labels = image_labels(spec, options, notebook=notebook, extra=extra_labels)
    return BuildPlan(spec=spec, options=options, notebook=notebook, install=install,
                     base_image=base_image_for(spec, options), uid=image_uid(options),
                     labels=tuple(sorted(labels.items())),
                     index_env=() if offline else tuple(forwarded_index_env(pip)),
                     ca_bundle=pip.ca_bundle, offline=offline, base_layer=base_layer)


__all__ = ["BaseLayer", "BuildOptions", "BuildPlan", "CA_NAME", "OLDEST_IMAGE_PYTHON", "PythonChoice", "InstallPlan", "KERNEL_PACKAGE", "LAYER_DIR",
           "LOCK_FILE", "PREFIX", "UV_VERSION", "VENV", "base_image_for", "build_key", "forwarded_index_env",
           "choose_base_image", "choose_python", "fresh_build", "image_python", "has_credentials", "holds_lock", "image_labels", "image_repository", "image_tags",
           "image_uid", "index_name", "may_build_on", "make_plan", "needs_host_download", "options_key",
           "plan_install", "recorded_layer", "redact", "reuse_filter", "same_pin", "usable_lock"]
