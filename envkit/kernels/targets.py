"""What a kernel or a run executes in: a notebook's image (built if needed) or a named image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..engine.images import ImageInfo, inspect_image
from ..errors import EngineNotFound, KernelError
from ..events import Progress
from ..labels import LABEL


@dataclass(frozen=True, kw_only=True)
class Target:
    """An image to run, a short label for names (notebook stem or image name), its Python ``X.Y``."""

    image: str
    label: str
    python: str
    notebook: Path | None = None


def _inspect(ref: str) -> ImageInfo:
    info = inspect_image(ref)
    if info is None:
        raise EngineNotFound(f"inspecting image {ref}: not found",
                             "build it ('envkit build NOTEBOOK') or pull it, or check the image name")
    return info


def image_python(image: str) -> str:
    """The image's Python ``X.Y`` from envkit's label or ``PYTHON_VERSION``; ``3`` if unknown."""
    info = _inspect(image)
    version = info.labels.get(f"{LABEL}.python", "") or info.env.get("PYTHON_VERSION", "")
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else (version or "3")


def notebook_image(path: Path, *, base_image: str = "", live: bool = False, as_of: str = "",
                 progress: Progress | None = None) -> str:
    """The notebook's image, built first when it does not exist yet or its code changed (``envkit.build``).

    ``live``: called in the kernel running the notebook, whose loaded versions pin the spec.
    """
    try:
        from ..build import BuildOptions, ensure_image
    except ImportError as exc:
        raise KernelError(f"{path}: cannot build its image: this envkit has no builder ({exc})",
                          "pass an image instead: '--image REF'") from exc
    options = BuildOptions(base_image=base_image, live=live, as_of=as_of)
    record = ensure_image(path, options=options, progress=progress)
    return stable_reference(record.tag, record.id)


def stable_reference(tag: str, image_id: str) -> str:
    """A reference that keeps naming this image: its content tag rather than ``:latest``.

    A kernelspec or a run should not silently move to another image when the notebook is
    rebuilt; the builder tags each image with its spec digest as well as ``latest``.
    """
    if tag and not tag.endswith(":latest"):
        return tag
    repo = tag.rsplit(":", 1)[0] if tag else ""
    tags = _inspect(image_id or tag).tags
    pinned = sorted(t for t in tags if t.rsplit(":", 1)[0] == repo and not t.endswith(":latest"))
    return pinned[0] if pinned else (image_id or tag)


def resolve(target: str, *, image: str = "", base_image: str = "", live: bool = False, as_of: str = "",
            progress: Progress | None = None) -> Target:
    """A notebook path (``.ipynb`` or an existing file) or an image reference, as a ``Target``."""
    path = Path(target)
    if target.endswith(".ipynb") or path.is_file():
        if not path.is_file():
            raise KernelError(f"{path}: no such notebook", "check the path")
        from ..notebook import read_notebook

        nb = read_notebook(path)
        meta = nb.envkit()
        python = (meta.spec.python if meta and meta.spec else "") or nb.python_version() or ""
        ref = image or notebook_image(path, base_image=base_image, live=live, as_of=as_of, progress=progress)
        return Target(image=ref, label=path.stem, python=python or image_python(ref),
                      notebook=path.resolve())
    ref = image or target
    name = ref.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return Target(image=ref, label=name, python=image_python(ref))
