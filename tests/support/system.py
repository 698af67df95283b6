"""Test infrastructure: a Docker engine, a local base image, Debian packages.

In CI (``CI=true``) as root, what is missing is installed from Debian's packages and started.
Anywhere else nothing is installed: the test run stops with a message naming what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

BASE_IMAGE = os.environ.get("ENVKIT_TEST_BASE_IMAGE", "envkit-test-base:bookworm")
DOCKERD_LOG = Path(tempfile.gettempdir()) / "envkit-dockerd.log"


class Missing(RuntimeError):
    """Something the integration tests need is not on this machine."""


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process a test started: SIGTERM, then SIGKILL after ``timeout`` seconds; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def may_install() -> bool:
    return os.environ.get("CI", "").lower() == "true" and hasattr(os, "geteuid") and os.geteuid() == 0


_apt_updated = False
# Another apt-get (a developer's, or a parallel test session) may hold dpkg's lock: wait for it.
LOCK_WAIT = ("-o", "DPkg::Lock::Timeout=600")


def apt_install(*packages: str, binaries: tuple[str, ...] = ()) -> None:
    """Install Debian packages in CI as root; elsewhere raise ``Missing`` naming them."""
    global _apt_updated
    wanted = binaries or packages
    if all(shutil.which(b) for b in wanted):
        return
    if not may_install():
        raise Missing(f"missing {', '.join(wanted)}: install Debian's {' '.join(packages)} "
                      "(the test suite installs it by itself only with CI=true as root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        subprocess.run(["apt-get", *LOCK_WAIT, "update", "-qq"], check=True, env=env)
        _apt_updated = True
    subprocess.run(["apt-get", *LOCK_WAIT, "install", "-y", "-qq", "--no-install-recommends", *packages],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def ensure_engine(timeout: float = 90) -> None:
    """A Docker engine that answers, started here in CI if need be."""
    if engine_answers():
        return
    if os.environ.get("DOCKER_HOST") or not may_install():
        raise Missing("no Docker engine answers (tried DOCKER_HOST or /var/run/docker.sock): start Docker "
                      "or set DOCKER_HOST; integration tests need a real engine (unit tests: pytest tests/unit)")
    apt_install("docker.io", binaries=("dockerd",))
    with open(DOCKERD_LOG, "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(0.5)
    raise Missing(f"dockerd did not answer within {timeout:.0f}s; see {DOCKERD_LOG}")


# Debian suites the tests make base images of, and the Python each ships (its python3).
SUITE_PYTHON = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}


def ensure_base_image(tag: str = BASE_IMAGE, *, suite: str = "") -> str:
    """A Debian image with python3 and venv, made with debootstrap, kept by tag.

    The suite is ``suite``, else the tag's version part (``envkit-test-base:bullseye``):
    bullseye has Python 3.9, bookworm 3.11, trixie 3.13. No registry can be reached from here,
    so nothing can be pulled; these images stand in for ``python:3.X-slim`` in tests. Test
    infrastructure, not a product feature; made once (a few minutes), then found by tag.
    """
    import docker

    suite = suite or tag.rsplit(":", 1)[-1]
    if suite not in SUITE_PYTHON:
        raise Missing(f"no Debian suite for {tag!r}: pass suite= one of {', '.join(SUITE_PYTHON)}")
    client = docker.from_env()
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    apt_install("debootstrap", binaries=("debootstrap",))
    with tempfile.TemporaryDirectory(prefix="envkit-rootfs-") as root:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             suite, root],
            check=True, stdout=subprocess.DEVNULL,
        )
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", "CMD [\"/bin/bash\"]", "-", tag],
                       stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        tar.wait()
    return tag
