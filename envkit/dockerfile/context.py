"""A build context: the rendered Dockerfile and its files, as a deterministic tar."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..plan import BuildPlan, InstallPlan


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """A rendered Dockerfile, the other files of its build context, and the plan it came from."""

    dockerfile: str
    files: dict[str, bytes]
    plan: BuildPlan

    @property
    def install(self) -> InstallPlan:
        """What the packages layer installs."""
        return self.plan.install

    @property
    def install_command(self) -> str:
        """The packages step's command, as rendered (the context's ``<layer dir>/run.txt``)."""
        return self.files[f"{self.plan.layer_dir}/run.txt"].decode().rstrip("\n")

    def tar(self) -> bytes:
        """The context as a deterministic tar, Dockerfile included."""
        return context_tar(self.dockerfile, self.files)

    def names(self) -> list[str]:
        return sorted(["Dockerfile", *self.files])


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


__all__ = ["BuildContext", "context_digest", "context_tar"]
