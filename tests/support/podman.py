"""A rootful ``podman system service`` of the caller's own, with an image copied from Docker.

Its own storage root, run root, tmp dir, network configuration and socket (the machine's Podman
is not touched), and ``containers.conf`` rlimits within this process's own (a sandbox may refuse
Podman's defaults). ``without_init`` adds a second service on the same storage that cannot find
Podman's init. Used by tests/integration/test_podman.py and benchmarks/engines.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import TEST_RUN, system

# Where Podman looks for its init (Debian's catatonit package links it there).
INIT_DIR = Path("/usr/libexec/podman")
_services: dict[str, tuple[list[str], dict[str, str], Path]] = {}  # DOCKER_HOST: podman command, env, run root

CONTAINERS_CONF = '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'


class Unavailable(Exception):
    """Podman cannot run here (not installed outside CI, or not root)."""


@contextmanager
def podman_service(local, images: tuple[str, ...]) -> Iterator[str]:
    """DOCKER_HOST of the service, with ``images`` loaded from the Docker client ``local``."""
    import docker

    try:
        system.apt_install("podman", "catatonit", binaries=("podman", "catatonit"))
    except system.Missing as exc:
        raise Unavailable(str(exc)) from exc
    if os.geteuid() != 0:
        raise Unavailable("rootful Podman needs root (rootless: see docs/beyond.md)")
    storage, run = Path(f"/var/tmp/envkit-podman-{TEST_RUN}"), Path(f"/tmp/envkit-podman-{TEST_RUN}")
    storage.mkdir(parents=True)
    run.mkdir()
    (run / "containers.conf").write_text(CONTAINERS_CONF)
    env = dict(os.environ, CONTAINERS_CONF=str(run / "containers.conf"))
    # Its own tmp dir and network configuration too: 'system reset' at the end removes them,
    # and the machine's /run/libpod gone breaks every other Podman ("creating runtime status file").
    podman_cmd = ["podman", "--root", str(storage / "root"), "--runroot", str(run / "state"),
                  "--tmpdir", str(run / "tmp"), "--network-config-dir", str(run / "networks")]
    host = f"unix://{run / 'podman.sock'}"
    log = open(run / "service.log", "wb")
    proc = subprocess.Popen([*podman_cmd, "system", "service", "--time=0", host], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        _wait_for(host, proc, run / "service.log")
        for image in images:
            data = b"".join(local.images.get(image).save(named=True))
            subprocess.run([*podman_cmd, "load"], input=data, env=env, check=True, capture_output=True)
        _services[host] = (podman_cmd, env, run)
        yield host
    finally:
        _services.pop(host, None)
        try:
            client = docker.DockerClient(base_url=host, timeout=30)
            for c in client.containers.list(all=True):
                c.remove(force=True)
        except Exception:  # noqa: BLE001 - the service may already be gone
            pass
        system.stop(proc, timeout=30)
        log.close()
        subprocess.run([*podman_cmd, "system", "reset", "--force"], env=env, capture_output=True)
        for line in reversed(Path("/proc/mounts").read_text().splitlines()):
            mountpoint = line.split()[1]
            if mountpoint.startswith((str(storage), str(run))):
                subprocess.run(["umount", "-l", mountpoint], capture_output=True)
        shutil.rmtree(storage, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)


def _wait_for(host: str, proc: subprocess.Popen, log: Path) -> None:
    import docker

    deadline = time.monotonic() + 60
    while True:
        try:
            docker.DockerClient(base_url=host, timeout=10, version="1.41").ping()
            return
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("podman system service did not start:\n" + log.read_text()[-3000:]) from None
            time.sleep(0.3)


@contextmanager
def without_init(host: str) -> Iterator[str]:
    """DOCKER_HOST of a second service on ``host``'s storage that cannot find Podman's init (catatonit).

    It runs in a mount namespace of its own with an empty tmpfs over INIT_DIR: catatonit stays
    where it is for every other process on the machine. Both services share the storage, as
    Podman's own CLI and service do.
    """
    podman_cmd, env, run = _services[host]
    if not (INIT_DIR / "catatonit").exists():
        raise Unavailable(f"catatonit is not at {INIT_DIR}, where this Podman looks for it")
    sock = run / "no-init.sock"
    log = open(run / "no-init.log", "wb")
    hide = f"mount -t tmpfs -o size=1m envkit-no-init {INIT_DIR} && exec \"$@\""
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh",
                             *podman_cmd, "system", "service", "--time=0", f"unix://{sock}"],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        _wait_for(f"unix://{sock}", proc, run / "no-init.log")
        yield f"unix://{sock}"
    finally:
        system.stop(proc, timeout=30)
        log.close()
