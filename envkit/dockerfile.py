"""Render a spec + lock + build options into a Dockerfile and its build context.

The Dockerfile is data: ``templates/Dockerfile.j2`` (one block per layer, stable to volatile)
rendered with jinja2 and ``StrictUndefined``. A user override directory is searched first
(``$ENVKIT_TEMPLATES``, else ``~/.config/envkit/templates``); envkit's own templates stay
reachable as ``envkit/<name>`` so an override can ``{% extends "envkit/Dockerfile.j2" %}``.
The context is a deterministic in-memory tar (sorted names, fixed mtime, uid and mode), so the
same inputs give byte-identical bytes. Nothing here talks to the engine.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .engine import LABEL_NOTEBOOK, LABEL_SPEC, LABEL_TEST_RUN, LABEL_VERSION, base_labels
from .errors import UsageError
from .settings import PipSettings, pip_settings
from .spec import EnvSpec, Lock, sha256_digest
from .validate import FILTERS

if TYPE_CHECKING:
    import jinja2

    from .build import BuildOptions

PREFIX = "/opt/envkit"
VENV = f"{PREFIX}/venv"
LOCK_FILE = f"{PREFIX}/lock.json"
LAYER_DIR = f"{PREFIX}/layer"
UV_VERSION = "0.13.9"
LABEL_BUILD_KEY = "dev.envkit.build-key"
LABEL_OPTIONS_KEY = "dev.envkit.options-key"
CA_NAME = "ca-certificates.crt"
KERNEL_PACKAGE = "ipykernel"


def packaged_templates() -> Path:
    """envkit's own templates: inside the wheel, or the repository's top-level folder."""
    inside = Path(__file__).parent / "templates"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / "templates"


def override_dirs() -> list[Path]:
    """User template folders searched before envkit's own (only those that exist)."""
    given = os.environ.get("ENVKIT_TEMPLATES")
    if given:
        dirs = [Path(p) for p in given.split(os.pathsep) if p]
    else:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        dirs = [config / "envkit" / "templates"]
    return [d for d in dirs if d.is_dir()]


@lru_cache(maxsize=4)
def _environment(overrides: tuple[str, ...]) -> jinja2.Environment:
    import jinja2

    own = jinja2.FileSystemLoader(str(packaged_templates()))
    loader = jinja2.ChoiceLoader([
        *(jinja2.FileSystemLoader(d) for d in overrides),
        own,
        jinja2.PrefixLoader({"envkit": own}),
    ])
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False)
    env.filters.update(FILTERS)  # templates write values only through envkit.validate's filters
    return env


def render_template(name: str, **variables: Any) -> str:
    """Render template ``name`` (e.g. ``jupyterlab.Dockerfile.j2``) with ``variables``.

    Undefined variables are errors (StrictUndefined), never silently empty.
    """
    import jinja2

    env = _environment(tuple(str(d) for d in override_dirs()))
    try:
        return env.get_template(name).render(**variables)
    except jinja2.TemplateNotFound as exc:
        raise UsageError(f"template {name!r} not found",
                         f"looked in {', '.join(str(d) for d in override_dirs())}"
                         f"{' and ' if override_dirs() else ''}{packaged_templates()}") from exc
    except jinja2.UndefinedError as exc:
        raise UsageError(f"template {name!r}: {exc.message}",
                         "an override template uses a variable envkit does not provide") from exc


def base_image_for(spec: EnvSpec, options: BuildOptions) -> str:
    """The image to build FROM: the option, the spec's, else ``python:X.Y-slim``."""
    return options.base_image or spec.base_image or f"python:{spec.python}-slim"


def options_key(spec: EnvSpec, options: BuildOptions) -> str:
    """What the layers below the packages depend on: base image, uid and platform."""
    return sha256_digest({"base": base_image_for(spec, options), "uid": options.uid,
                          "platform": options.platform})


def build_key(spec: EnvSpec, options: BuildOptions) -> str:
    """What makes two builds interchangeable: spec digest, base image, uid and platform."""
    return sha256_digest({"spec": spec.digest(), "base": base_image_for(spec, options),
                          "uid": options.uid, "platform": options.platform})


def has_credentials(url: str) -> bool:
    """True when an index URL carries a user name, password or token."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.username or parts.password)


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


def needs_host_download(pip: PipSettings) -> bool:
    """True when an index URL holds credentials: wheels are then fetched on the host."""
    return any(has_credentials(u) for u in (pip.index_url or "", *pip.extra_index_urls) if u)


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


def image_labels(spec: EnvSpec, options: BuildOptions, *, notebook: str) -> dict[str, str]:
    """OCI and envkit labels written into the Dockerfile (the test-run label goes via the API)."""
    from . import __version__

    title = Path(notebook).stem if notebook else "envkit environment"
    labels = {k: v for k, v in base_labels("image").items() if k != LABEL_TEST_RUN}
    labels.update({
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.description": f"Environment of {notebook or 'an envkit spec'}, built by envkit",
        "org.opencontainers.image.base.name": base_image_for(spec, options),
        "org.opencontainers.image.version": spec.digest().removeprefix("sha256:")[:12],
        LABEL_SPEC: spec.digest(),
        LABEL_VERSION: __version__,
        LABEL_NOTEBOOK: notebook,
        LABEL_BUILD_KEY: build_key(spec, options),
        LABEL_OPTIONS_KEY: options_key(spec, options),
    })
    return labels


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """A rendered Dockerfile and the other files of its build context."""

    dockerfile: str
    files: dict[str, bytes]
    plan: InstallPlan

    def tar(self) -> bytes:
        """The context as a deterministic tar, Dockerfile included."""
        return context_tar(self.dockerfile, self.files)

    def names(self) -> list[str]:
        return sorted(["Dockerfile", *self.files])


def render_context(spec: EnvSpec, lock: Lock | None, options: BuildOptions, *, notebook: str = "",
                   pip: PipSettings | None = None, wheels: Mapping[str, bytes] | None = None,
                   base_layer: BaseLayer | None = None,
                   extra_labels: Mapping[str, str] | None = None) -> BuildContext:
    """The Dockerfile and context files for ``spec``.

    ``wheels`` switches to an offline install of host-fetched wheels; ``base_layer`` repeats a
    previous image's packages layer first, so only the difference is installed; ``extra_labels``
    join the Dockerfile's (one LABEL step, where labels passed to the API cost one each). ``pip``
    defaults to the host's settings (``envkit.settings.pip_settings``); tests pass their own so
    the output does not depend on the machine.
    """
    from . import __version__

    if options.uid <= 0:
        raise UsageError(f"uid {options.uid} would make the image's user root",
                         "pass a uid above 0 (--uid 1000), or leave it to envkit")
    pip = pip_settings() if pip is None else pip
    plan = plan_install(spec, lock, options, offline=bool(wheels))
    directory = "delta" if base_layer else "layer"
    command = render_template("partials/install-command.j2", mode=plan.mode, install_flags=list(plan.flags),
                              dir=f"{PREFIX}/{directory}", prefix=PREFIX).strip()
    files: dict[str, bytes] = {
        "freeze.py": (packaged_templates() / "freeze.py").read_bytes(),
        f"{directory}/requirements.txt": plan.requirements.encode(),
        f"{directory}/run.txt": command.encode() + b"\n",
    }
    if base_layer is not None:
        files["layer/requirements.txt"] = base_layer.requirements
        files["layer/run.txt"] = base_layer.command.encode() + b"\n"
    if pip.ca_bundle is not None:
        files[CA_NAME] = pip.ca_bundle.read_bytes()
    for name, data in (wheels or {}).items():
        files[f"wheels/{name}"] = data
    text = render_template(
        "Dockerfile.j2",
        envkit_version=__version__,
        notebook=notebook,
        spec_digest=spec.digest(),
        base_image=base_image_for(spec, options),
        prefix=PREFIX,
        venv=VENV,
        uv_version=UV_VERSION,
        ca_bundle=CA_NAME if pip.ca_bundle is not None else "",
        system_packages=list(spec.system_packages),
        index_env=[] if wheels else forwarded_index_env(pip),
        wheels=bool(wheels),
        install_command=command,
        base_layer=base_layer.command if base_layer else "",
        packages_origin=plan.origin,
        uid=options.uid,
        labels=sorted({**image_labels(spec, options, notebook=notebook), **(extra_labels or {})}.items()),
    )
    return BuildContext(dockerfile=text, files=files, plan=plan)


def render_dockerfile(spec: EnvSpec, lock: Lock | None, options: BuildOptions, *, notebook: str = "",
                      pip: PipSettings | None = None) -> str:
    """The Dockerfile for ``spec`` (installing from ``lock`` when it matches); same inputs, same bytes."""
    return render_context(spec, lock, options, notebook=notebook, pip=pip).dockerfile


def context_tar(dockerfile: str, files: Mapping[str, bytes]) -> bytes:
    """A tar of the Dockerfile and ``files``: sorted names, mtime 0, root-owned, fixed modes."""
    entries = {"Dockerfile": dockerfile.encode(), **files}
    dirs = sorted({str(Path(n).parent) for n in entries if "/" in n})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(entries[name]), 0o644
            tar.addfile(info, io.BytesIO(entries[name]))
    return buf.getvalue()


def context_digest(data: bytes) -> str:
    """``sha256:<hex>`` of a context tar (handy to compare two renders)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


__all__ = ["BaseLayer", "BuildContext", "InstallPlan", "LABEL_BUILD_KEY", "LOCK_FILE", "VENV", "base_image_for",
           "build_key", "context_tar", "needs_host_download", "plan_install", "render_context",
           "render_dockerfile", "render_template", "usable_lock"]
