"""A real registry for the tests: Debian's ``docker-registry`` (distribution v2) on loopback.

Started once per session on 127.0.0.1 and a free port, with its storage in a temporary folder;
the engine allows plain HTTP to 127.0.0.0/8, so no certificates are needed. Stopped at the end.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import system

CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@dataclass(frozen=True)
class Registry:
    """A running registry: ``host`` is ``127.0.0.1:<port>``."""

    host: str
    storage: Path

    def repository(self, name: str) -> str:
        return f"{self.host}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def registry(engine) -> Iterator[Registry]:
    """A registry v2 on 127.0.0.1:<free port> for this session."""
    try:
        system.apt_install("docker-registry", binaries=("docker-registry",))
    except system.Missing as exc:
        pytest.exit(f"envkit integration tests: {exc}", returncode=3)
    with tempfile.TemporaryDirectory(prefix="envkit-registry-") as tmp:
        root = Path(tmp)
        port = free_port()
        config = root / "config.yml"
        config.write_text(CONFIG.format(root=root / "storage", port=port))
        log = open(root / "registry.log", "wb")
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not start:\n" + (root / "registry.log").read_text())
                time.sleep(0.2)
            yield Registry(host=f"127.0.0.1:{port}", storage=root / "storage")
        finally:
            system.stop(proc, timeout=10)
            log.close()
