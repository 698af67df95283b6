"""A stand-in environment image with envkit's image layout, for the share and launch tests.

Until a test needs the real builder, this builds a small image from the test base image with
the layout envkit's builder promises: a venv at /opt/envkit/venv first on PATH, a non-root user
``envkit`` with HOME=/home/envkit, and the spec-digest label. It is test infrastructure only.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from envkit.engine import LABEL_NOTEBOOK, LABEL_SPEC, base_labels
from envkit.notebook import update_envkit
from envkit.spec import EnvSpec, ImageRecord, Lock, Pin, Requirement

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

DOCKERFILE = """\
FROM {base}
COPY ca-certificates.crt /etc/envkit/ca-certificates.crt
ENV PIP_CERT=/etc/envkit/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/envkit/venv{install}
RUN useradd --create-home --home-dir /home/envkit --uid 1000 envkit
ENV PATH=/opt/envkit/venv/bin:$PATH HOME=/home/envkit
USER envkit
WORKDIR /home/envkit
"""


@dataclass(frozen=True)
class StandIn:
    """The stand-in image and the spec/lock it pretends to have been built from."""

    image_id: str
    tag: str
    spec: EnvSpec
    lock: Lock


def spec_for(packages: tuple[str, ...]) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(p) for p in packages))


def build_standin(client, base: str, *, tag: str, packages: tuple[str, ...] = ("ipykernel",)) -> StandIn:
    """Build (or reuse by tag) the stand-in image; its spec label matches ``spec_for(packages)``."""
    spec = spec_for(packages)
    labels = {**base_labels("image"), LABEL_SPEC: spec.digest(), LABEL_NOTEBOOK: "standin.ipynb"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", DOCKERFILE.format(base=base, install=(
            f" && /opt/envkit/venv/bin/pip install --no-cache-dir -q {' '.join(packages)}" if packages else "")).encode()),
                           ("ca-certificates.crt", CA_BUNDLE.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    last = ""
    for chunk in client.api.build(fileobj=buf, custom_context=True, tag=tag, labels=labels, rm=True,
                                  forcerm=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(f"stand-in build failed: {chunk['error']}\n{last}")
        last = chunk.get("stream", last)
    image = client.images.get(tag)
    freeze = client.containers.run(tag, ["pip", "list", "--format=json"], remove=True,
                                   labels=base_labels("build"))
    pins = tuple(Pin(name=p["name"], version=p["version"]) for p in json.loads(freeze))
    lock = Lock(spec_digest=spec.digest(), python="3.11", packages=pins)
    return StandIn(image_id=image.id, tag=tag, spec=spec, lock=lock)


def notebook_for(standin: StandIn, folder: Path, *, source: Path | None = None, name: str = "nb.ipynb") -> Path:
    """A notebook in ``folder`` whose metadata names the stand-in image (copied from ``source``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if source is not None:
        shutil.copy(source, path)
    else:
        path.write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    update_envkit(path, spec=standin.spec, lock=standin.lock,
                  image=ImageRecord(id=standin.image_id, tag=standin.tag, spec_digest=standin.spec.digest()))
    return path


NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "language_info": {"name": "python", "version": "3.11"}},
    "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# envkit launch test"]},
        {"cell_type": "code", "id": "answer", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["print('envkit answer', 6 * 7)"]},
    ],
}
