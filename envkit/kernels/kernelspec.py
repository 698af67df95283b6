"""Kernelspecs for container kernels: build, install, list, remove; in-memory specs for nbclient.

An installed spec carries both forms: ``metadata.kernel_provisioner`` names ``envkit-docker``
with the image in its config (used by jupyter_client 7+, JupyterLab, nbclient), and ``argv``
runs ``python -m envkit.kernels.launcher`` with the same options, for front ends that ignore
provisioners. ``--argv-only`` leaves the provisioner out.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from ..errors import KernelError
from .options import KernelOptions

PROVISIONER = "envkit-docker"
LAUNCHER_MODULE = "envkit.kernels.launcher"


@dataclass(frozen=True, kw_only=True)
class InstalledKernel:
    """An envkit kernelspec on disk."""

    name: str
    display_name: str
    image: str
    path: Path
    argv_only: bool = False


def kernel_name(label: str) -> str:
    """A kernelspec name (``envkit-<label>``) from a notebook stem or image reference."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", label.lower()).strip("-._") or "kernel"
    return (slug if slug.startswith("envkit-") else f"envkit-{slug}")[:64]


# Asks the image's ipykernel what its own kernelspec declares (protocol version, CurveZMQ).
_PROBE = ("import json\ntry:\n    from ipykernel.kernelspec import get_kernel_dict\n"
          "    d = get_kernel_dict()\nexcept Exception:\n    d = {}\n"
          "print(json.dumps({'metadata': d.get('metadata', {}), "
          "'kernel_protocol_version': d.get('kernel_protocol_version')}))")


def probe_image(options: KernelOptions) -> dict[str, Any]:
    """What the image's ipykernel declares about itself: ``supported_encryption``, protocol version.

    jupyter_client only provisions CurveZMQ keys for kernels whose spec declares ``curve``, and
    an ipykernel without it would ignore them, so this is read from the image, not assumed.
    """
    from ..engine import containers
    from ..labels import LABEL_KERNEL_ID, LABEL_OWNER, base_labels
    from .container import owner

    # Labelled like a kernel, so the start-up sweep removes it if this process dies meanwhile.
    labels = {**base_labels("kernel"), LABEL_KERNEL_ID: "probe", LABEL_OWNER: owner()}
    status, out = containers.run(options.image, [options.python, "-c", _PROBE], labels=labels)
    if status != 0:
        raise KernelError(f"the image {options.image} has no working ipykernel (`{options.python}` exited {status})",
                          "build the notebook's image with 'envkit build', which installs ipykernel")
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    found: dict[str, Any] = {}
    if "curve" in (data.get("metadata") or {}).get("supported_encryption", []):
        found["supported_encryption"] = ["curve"]
    if data.get("kernel_protocol_version"):
        found["kernel_protocol_version"] = data["kernel_protocol_version"]
    return found


def spec_dict(options: KernelOptions, *, display_name: str, argv_only: bool = False,
              python_executable: str | None = None, probed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``kernel.json`` content for ``options`` (``probed``: what ``probe_image`` found)."""
    argv = [python_executable or sys.executable, "-m", LAUNCHER_MODULE,
            "--config", json.dumps(options.to_config(), sort_keys=True), "{connection_file}"]
    spec: dict[str, Any] = {
        "argv": argv, "display_name": display_name, "language": "python",
        "interrupt_mode": "signal", "env": {},
        "metadata": {"envkit": {"image": options.image}, "debugger": False},
    }
    probed = probed or {}
    if probed.get("kernel_protocol_version"):
        spec["kernel_protocol_version"] = probed["kernel_protocol_version"]
    if probed.get("supported_encryption"):
        spec["metadata"]["supported_encryption"] = probed["supported_encryption"]
    if not argv_only:
        spec["metadata"]["kernel_provisioner"] = {"provisioner_name": PROVISIONER, "config": options.to_config()}
    return spec


def install(options: KernelOptions, *, name: str, display_name: str, user: bool = True,
            prefix: str | None = None, argv_only: bool = False) -> InstalledKernel:
    """Install a kernelspec (replacing one of the same name); returns where it went.

    The image is asked first whether its ipykernel works and what it supports.
    """
    probed = probe_image(options)
    ksm = KernelSpecManager()
    with tempfile.TemporaryDirectory(prefix="envkit-kernelspec-") as tmp:
        src = Path(tmp) / name
        src.mkdir()
        spec = spec_dict(options, display_name=display_name, argv_only=argv_only, probed=probed)
        (src / "kernel.json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
        try:
            dest = ksm.install_kernel_spec(str(src), kernel_name=name, user=user and not prefix,
                                           prefix=prefix, replace=True)
        except OSError as exc:
            raise KernelError(f"cannot install kernelspec {name}: {exc}",
                              "use --user (the default) or --prefix PATH for a folder you can write") from exc
    return InstalledKernel(name=name, display_name=display_name, image=options.image, path=Path(dest),
                           argv_only=argv_only)


def _as_envkit(name: str, path: str, spec: dict[str, Any]) -> InstalledKernel | None:
    meta = spec.get("metadata") or {}
    prov = meta.get("kernel_provisioner") or {}
    argv = spec.get("argv") or []
    if prov.get("provisioner_name") != PROVISIONER and LAUNCHER_MODULE not in argv:
        return None
    image = (prov.get("config") or {}).get("image") or (meta.get("envkit") or {}).get("image", "")
    return InstalledKernel(name=name, display_name=spec.get("display_name", name), image=image,
                           path=Path(path), argv_only=not prov)


def list_installed() -> list[InstalledKernel]:
    """The envkit kernelspecs Jupyter can see, by name."""
    found = []
    for name, entry in sorted(KernelSpecManager().get_all_specs().items()):
        kernel = _as_envkit(name, entry["resource_dir"], entry["spec"])
        if kernel is not None:
            found.append(kernel)
    return found


def remove(name: str) -> Path:
    """Remove the envkit kernelspec ``name``; refuses other kernels' specs."""
    ksm = KernelSpecManager()
    if name not in {k.name for k in list_installed()}:
        try:
            ksm.get_kernel_spec(name)
        except NoSuchKernel:
            raise KernelError(f"no kernelspec named {name!r}", "see 'envkit kernel list'") from None
        raise KernelError(f"kernelspec {name!r} is not an envkit kernel; not removing it",
                          "use 'jupyter kernelspec remove' for other kernels")
    return Path(ksm.remove_kernel_spec(name))


class OneSpecManager(KernelSpecManager):  # type: ignore[misc]
    """A KernelSpecManager that knows one in-memory spec (for running without installing)."""

    def __init__(self, name: str, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._one = (name, spec)

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        name, spec = self._one
        if kernel_name != name:
            raise NoSuchKernel(kernel_name)
        return KernelSpec(resource_dir="", **spec)

    def find_kernel_specs(self) -> dict[str, str]:
        return {self._one[0]: ""}


def kernel_manager(options: KernelOptions, *, asynchronous: bool = True, name: str = "envkit-run",
                   probed: dict[str, Any] | None = None) -> Any:
    """A KernelManager that starts a container kernel of ``options`` without installing a spec."""
    from jupyter_client import AsyncKernelManager, KernelManager

    spec = spec_dict(options, display_name=f"envkit: {options.image}", probed=probed)
    cls = AsyncKernelManager if asynchronous else KernelManager
    return cls(kernel_name=name, kernel_spec_manager=OneSpecManager(name, spec))
