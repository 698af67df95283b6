"""Render a ``BuildPlan`` into a Dockerfile and its build context.

The Dockerfile is data: ``templates/Dockerfile.j2`` (one block per layer, stable to volatile)
rendered with jinja2 and ``StrictUndefined``, user override folders searched first (passed in:
``envkit.settings.template_dirs``). The context is a deterministic in-memory tar (sorted names,
fixed mtime, uid and mode), so the same plan gives byte-identical bytes. Nothing here talks to
the engine, reads the environment or runs a subprocess: the caller brings the host's pip
settings (into the plan) and the override folders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..plan import (
    CA_NAME,
    LAYER_DIR,
    LOCK_FILE,
    PREFIX,
    UV_VERSION,
    VENV,
    BaseLayer,
    BuildOptions,
    BuildPlan,
    InstallPlan,
    make_plan,
)
from ..settings import PipSettings
from ..spec import EnvSpec, Lock
from ..version import __version__
from .context import BuildContext, context_digest, context_tar
from .templates import packaged_templates, render_template


def render(plan: BuildPlan, *, wheels: Mapping[str, bytes] | None = None,
           template_dirs: Sequence[Path] = ()) -> BuildContext:
    """The Dockerfile and context files for ``plan``.

    ``wheels`` (host-fetched, for an offline plan) go into the context under ``wheels/``; the
    plan's CA bundle (a public file) as ``ca-certificates.crt``.
    """
    directory = plan.layer_dir
    command = render_template("partials/install-command.j2", template_dirs=template_dirs, mode=plan.install.mode,
                              install_flags=list(plan.install.flags), dir=f"{PREFIX}/{directory}",
                              prefix=PREFIX).strip()
    files: dict[str, bytes] = {
        "freeze.py": (packaged_templates() / "freeze.py").read_bytes(),
        f"{directory}/requirements.txt": plan.install.requirements.encode(),
        f"{directory}/run.txt": command.encode() + b"\n",
    }
    files.update(kernel_side_files())
    if plan.base_layer is not None:
        files["layer/requirements.txt"] = plan.base_layer.requirements
        files["layer/run.txt"] = plan.base_layer.command.encode() + b"\n"
    if plan.ca_bundle is not None:
        files[CA_NAME] = plan.ca_bundle.read_bytes()
    for name, data in (wheels or {}).items():
        files[f"wheels/{name}"] = data
    text = render_template(
        "Dockerfile.j2",
        template_dirs=template_dirs,
        envkit_version=__version__,
        notebook=plan.notebook,
        spec_digest=plan.spec.digest(),
        base_image=plan.base_image,
        prefix=PREFIX,
        venv=VENV,
        uv_version=UV_VERSION,
        ca_bundle=CA_NAME if plan.ca_bundle is not None else "",
        system_packages=list(plan.spec.system_packages),
        index_env=list(plan.index_env),
        wheels=plan.offline,
        install_command=command,
        base_layer=plan.base_layer.command if plan.base_layer else "",
        packages_origin=plan.install.origin,
        uid=plan.uid,
        labels=list(plan.labels),
    )
    return BuildContext(dockerfile=text, files=files, plan=plan)


def kernel_side_files() -> dict[str, bytes]:
    """The kernel's side of envkit in the image (``templates/kernel``): pip and uv shims, the stand-in
    ``envkit`` for ``%load_ext envkit``. Keyed ``kernel/<path>``; bytecode caches left out."""
    root = packaged_templates() / "kernel"
    return {f"kernel/{path.relative_to(root).as_posix()}": path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def render_context(spec: EnvSpec, lock: Lock | None, options: BuildOptions, *, notebook: str = "",
                   pip: PipSettings | None = None, wheels: Mapping[str, bytes] | None = None,
                   base_layer: BaseLayer | None = None, extra_labels: Mapping[str, str] | None = None,
                   template_dirs: Sequence[Path] = ()) -> BuildContext:
    """Plan and render in one call: an offline install when ``wheels`` are given.

    ``pip`` is the host's pip settings (``envkit.settings.pip_settings``); None forwards none.
    """
    plan = make_plan(spec, lock, options, notebook=notebook, pip=pip, offline=bool(wheels),
                     base_layer=base_layer, extra_labels=extra_labels)
    return render(plan, wheels=wheels, template_dirs=template_dirs)


def render_dockerfile(spec: EnvSpec, lock: Lock | None, options: BuildOptions, *, notebook: str = "",
                      pip: PipSettings | None = None) -> str:
    """The Dockerfile for ``spec`` (installing from ``lock`` when it matches); same inputs, same bytes."""
    return render_context(spec, lock, options, notebook=notebook, pip=pip).dockerfile


__all__ = ["BuildContext", "CA_NAME", "InstallPlan", "LAYER_DIR", "LOCK_FILE", "PREFIX", "UV_VERSION", "VENV",
           "context_digest", "context_tar", "kernel_side_files", "packaged_templates", "render", "render_context",
           "render_dockerfile", "render_template"]
