"""Images and notebooks for the share and launch tests, on top of the build area's ``env_image``.

Share tests remove their image to pull it back on a clean engine, so they get their own image:
one thin layer on top of ``env_image`` (built through envkit's own ``build_dockerfile``), with a
spec label unique to this test run. Removing it leaves ``env_image`` to the other tests.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from envkit.labels import LABEL_SPEC
from envkit.notebook import update_envkit
from envkit.spec import EnvSpec, ImageRecord, Lock

from . import TEST_RUN
from .build import tiny_spec

SHARE_DOCKERFILE = """\
FROM {base}
USER root
RUN echo "{run}" > /opt/envkit/share-test.txt
USER envkit
"""

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


@dataclass(frozen=True)
class SharedImage:
    """An image and the spec/lock it was made for."""

    image_id: str
    tag: str
    spec: EnvSpec
    lock: Lock

    def record(self) -> ImageRecord:
        return ImageRecord(id=self.image_id, tag=self.tag, spec_digest=self.spec.digest())


def notebook_for(image: SharedImage, folder: Path, *, source: Path | None = None, name: str = "nb.ipynb") -> Path:
    """A notebook in ``folder`` whose metadata names ``image`` (copied from ``source`` if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if source is not None:
        shutil.copy(source, path)
    else:
        path.write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    update_envkit(path, spec=image.spec, lock=image.lock, image=image.record())
    return path


@pytest.fixture(scope="session")
def lab_env(env_image) -> SharedImage:
    """The build area's tiny environment image, as a SharedImage."""
    return SharedImage(image_id=env_image.image.id, tag=env_image.image.tag, spec=tiny_spec(),
                     lock=env_image.lock)


@pytest.fixture(scope="session")
def share_image(env_image) -> SharedImage:
    """A thin image of its own on top of ``env_image``, with a spec label unique to this run."""
    from envkit.build import build_dockerfile

    run = TEST_RUN
    spec = tiny_spec().with_changes(system_packages=(f"share-test-{run}",))
    tag = f"envkit-test-share:{run}"
    image_id = build_dockerfile(SHARE_DOCKERFILE.format(base=env_image.image.id, run=run), {}, tag=tag,
                                labels={LABEL_SPEC: spec.digest()})
    lock = Lock(spec_digest=spec.digest(), python=env_image.lock.python, packages=env_image.lock.packages)
    return SharedImage(image_id=image_id, tag=tag, spec=spec, lock=lock)
