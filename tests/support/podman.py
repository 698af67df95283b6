"""A rootful ``podman system service`` of the caller's own, with an image copied from Docker.

Its own storage root, run root and socket (the machine's Podman storage is not touched), and
``containers.conf`` rlimits within this process's own (a sandbox may refuse Podman's defaults).
Used by tests/integration/test_podman.py and benchmarks/engines.py.
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
    podman_cmd = ["podman", "--root", str(storage / "root"), "--runroot", str(run / "state")]
    host = f"unix://{run / 'podman.sock'}"
    log = open(run / "service.log", "wb")
    proc = subprocess.Popen([*podman_cmd, "system", "service", "--time=0", host], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                docker.DockerClient(base_url=host, timeout=10).ping()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("podman system service did not start:\n"
                                       + (run / "service.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        for image in images:
            data = b"".join(local.images.get(image).save(named=True))
            subprocess.run([*podman_cmd, "load"], input=data, env=env, check=True, capture_output=True)
        yield host
    finally:
        try:
            client = docker.DockerClient(base_url=host, timeout=30)
            for c in client.containers.list(all=True):
                c.remove(force=True)
        except Exception:  # noqa: BLE001 - the service may already be gone
            pass
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run([*podman_cmd, "system", "reset", "--force"], env=env, capture_output=True)
        for line in reversed(Path("/proc/mounts").read_text().splitlines()):
            mountpoint = line.split()[1]
            if mountpoint.startswith((str(storage), str(run))):
                subprocess.run(["umount", "-l", mountpoint], capture_output=True)
        shutil.rmtree(storage, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)
