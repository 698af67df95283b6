"""Fixtures for container kernels: an image with ipykernel, isolated kernelspec folders.

``kernel_image`` is the builder's session image (``env_image`` from tests/support/build.py);
a test module without the builder's fixture gets ``standin_kernel_image`` instead: an image
with the same layout built here (a venv at /opt/envkit/venv first on PATH, ipykernel installed
through the host's proxy, user ``envkit``, HOME=/home/envkit), independent of envkit's builder.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from . import TEST_RUN

try:  # the builder's session image; test modules import it from here with kernel_image
    from support.build import env_image  # noqa: F401
except ImportError:  # pragma: no cover - before the builder existed
    env_image = None

STANDIN_TAG = "envkit-test-kernel:standin"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

DOCKERFILE = """\
FROM {base}
COPY ca-certificates.crt /etc/envkit/ca-certificates.crt
ENV PIP_CERT=/etc/envkit/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/envkit/venv \\
 && /opt/envkit/venv/bin/pip install --no-cache-dir ipykernel \\
 && useradd -m -u 1000 -d /home/envkit envkit
ENV PATH=/opt/envkit/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    HOME=/home/envkit
USER envkit
WORKDIR /home/envkit
"""


def _context(base: str) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", DOCKERFILE.format(base=base).encode()),
                           ("ca-certificates.crt", CA_BUNDLE.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def build_standin(base: str, tag: str = STANDIN_TAG) -> str:
    """Build (or reuse by tag) the stand-in kernel image; returns its tag."""
    import docker

    from envkit.engine import api
    from envkit.labels import base_labels

    client = docker.from_env()
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    log: list[str] = []
    for chunk in api().build(fileobj=_context(base), custom_context=True, tag=tag, rm=True,
                             forcerm=True, labels=base_labels("image"), decode=True):
        if "error" in chunk:
            raise RuntimeError(f"stand-in kernel image failed: {chunk['error']}\n" + "".join(log[-20:]))
        log.append(chunk.get("stream", ""))
    return tag


@pytest.fixture(scope="session")
def standin_kernel_image(engine, base_image) -> str:
    """An image with ipykernel in /opt/envkit/venv built without envkit's builder."""
    return build_standin(base_image)


@pytest.fixture(scope="session")
def kernel_image(request, engine, base_image) -> str:
    """An image with ipykernel in /opt/envkit/venv: the builder's when available, else a stand-in."""
    try:
        result = request.getfixturevalue("env_image")
    except pytest.FixtureLookupError:
        return request.getfixturevalue("standin_kernel_image")
    image = getattr(result, "image", result)
    return getattr(image, "tag", "") or getattr(image, "id", "")


@pytest.fixture
def jupyter_dirs(tmp_path, monkeypatch) -> dict[str, Path]:
    """Kernelspec and runtime folders in tmp_path (as jupyter_client's ``jp_environ`` does)."""
    dirs = {name: tmp_path / "jupyter" / name for name in ("data", "runtime", "config", "prefix")}
    for d in dirs.values():
        d.mkdir(parents=True)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(dirs["runtime"]))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(dirs["config"]))
    monkeypatch.setenv("JUPYTER_PATH", str(dirs["data"]))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "0")
    return dirs


def kernel_containers(engine, kernel_id: str | None = None) -> list:
    """This test run's kernel containers (optionally one kernel's), including stopped ones."""
    from envkit.labels import LABEL_KERNEL_ID, LABEL_KIND, LABEL_TEST_RUN

    labels = [f"{LABEL_KIND}=kernel", f"{LABEL_TEST_RUN}={TEST_RUN}"]
    if kernel_id:
        labels.append(f"{LABEL_KERNEL_ID}={kernel_id}")
    return engine.containers.list(all=True, filters={"label": labels})


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


def wait_until(predicate, timeout: float = 20.0) -> bool:
    """Poll ``predicate`` every 0.1 s until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
