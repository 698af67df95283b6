"""Other Dockerfiles envkit builds (JupyterLab on top of an environment, a copy of a folder):
the host's index settings and CA bundle forwarded into them, override templates, labels."""

from __future__ import annotations

from typing import Any

from ..dockerfile import context_tar
from ..dockerfile import render_template as render_with
from ..dockerfile.steps import narrate
from ..engine.images import build_image, tag_image
from ..events import Progress
from ..labels import base_labels
from ..plan import CA_NAME, PREFIX, VENV, BuildOptions, forwarded_index_env
from ..settings import pip_settings, template_dirs


def render_template(name: str, **variables: Any) -> str:
    """Render template ``name`` with the user's override folders (``ENVKIT_TEMPLATES``) searched first."""
    return render_with(name, template_dirs=template_dirs(), **variables)


def forwarding_variables() -> dict[str, object]:
    """Template variables for another Dockerfile that installs packages (e.g. JupyterLab).

    ``ca_bundle`` (a context file name, "" when none), ``index_env`` (name, value pairs),
    ``prefix`` and ``venv``. Pass the files of ``forwarding_files()`` in the context.
    """
    pip = pip_settings()
    return {"ca_bundle": CA_NAME if pip.ca_bundle else "", "index_env": forwarded_index_env(pip),
            "prefix": PREFIX, "venv": VENV}


def forwarding_files() -> dict[str, bytes]:
    """The context files ``forwarding_variables()`` refers to (the host's CA bundle)."""
    pip = pip_settings()
    return {CA_NAME: pip.ca_bundle.read_bytes()} if pip.ca_bundle else {}


def build_dockerfile(dockerfile: str, files: dict[str, bytes], *, tag: str, labels: dict[str, str],
                     options: BuildOptions = BuildOptions(), progress: Progress | None = None) -> str:
    """Build any Dockerfile text with ``files`` as its context; tag it only on success.

    The host's CA bundle is added to the context as ``ca-certificates.crt`` when the caller has
    not (see ``forwarding_variables``). The image carries envkit's labels, the configured extra
    ones and ``labels``. Returns the image ID.
    """
    context = {**forwarding_files(), **files}
    image_id, _ = build_image(context_tar(dockerfile, context), labels={**base_labels("image"), **labels},
                              no_cache=options.no_cache, platform=options.platform,
                              progress=narrate(progress, dockerfile),
                              what=tag or "image")
    if tag:
        tag_image(image_id, tag)
    return image_id


__all__ = ["build_dockerfile", "forwarding_files", "forwarding_variables", "render_template"]
