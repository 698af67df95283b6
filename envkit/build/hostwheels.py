"""Wheels fetched on the host for an image, when the package index needs credentials.

The host's pip already holds the credentials (in the index URL, netrc or a keyring); a build
``ARG`` or ``ENV`` would show them in ``docker history``. So envkit runs ``pip download`` on
the host for the image's Python and platform and installs the wheels offline in the image.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import PackageError
from ..plan import BuildOptions, redact
from ..spec import EnvSpec

_MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64", "linux/arm64/v8": "aarch64"}


def target_platforms(options: BuildOptions, engine_machine: str = "") -> list[str]:
    """pip ``--platform`` tags for the image (glibc-based Debian/Ubuntu images).

    The machine comes from ``--platform`` when given, else from the engine (the image runs
    there, not on the host: an Apple Silicon Mac's engine may build for either).
    """
    machine = _MACHINES.get(options.platform, "") or engine_machine or "x86_64"
    return [f"manylinux_2_{n}_{machine}" for n in (36, 34, 31, 28, 27, 24, 17, 12, 5)] + \
        [f"manylinux2014_{machine}", f"linux_{machine}"]


def download_wheels(requirements: str, *, spec: EnvSpec, options: BuildOptions,
                    engine_machine: str = "") -> tuple[dict[str, bytes], dict[str, dict[str, str]]]:
    """Download wheels for ``requirements`` (and their dependencies) with the host's pip.

    Returns ``{file name: bytes}`` and ``{name: {version: "sha256:..."}}``.
    """
    with tempfile.TemporaryDirectory(prefix="envkit-wheels-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements)
        dest = Path(tmp) / "wheels"
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--python-version", spec.python, "--dest", str(dest), "-r", str(req)]
        for tag in target_platforms(options, engine_machine):
            cmd += ["--platform", tag]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][-8:]
            raise PackageError("downloading wheels on the host failed (the index needs credentials, so "
                               "the image installs offline from wheels the host fetched):\n  "
                               + "\n  ".join(redact(line) for line in tail),
                               "check that 'pip download' works on this machine with the same settings")
        files: dict[str, bytes] = {}
        hashes: dict[str, dict[str, str]] = {}
        for wheel in sorted(dest.glob("*.whl")):
            data = wheel.read_bytes()
            files[wheel.name] = data
            try:
                name, version, _, _ = parse_wheel_filename(wheel.name)
            except InvalidWheelFilename:
                continue
            hashes.setdefault(str(name), {})[str(version)] = "sha256:" + hashlib.sha256(data).hexdigest()
        return files, hashes



__all__ = ["download_wheels", "target_platforms"]
