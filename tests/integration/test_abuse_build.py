"""The /PWNED_BASE probe of issue 10 on a real engine: an injected value never reaches a build.

A notebook whose ``metadata.envkit`` base image, Python version, system package or requirement
carries a newline and a ``RUN`` step, and a ``--base-image`` option doing the same, are refused
with one line naming the field; no image (and so no ``/PWNED_BASE``) is made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import TEST_RUN

from envkit.build import BuildOptions, build_spec, notebook_label
from envkit.errors import UsageError
from envkit.labels import LABEL_NOTEBOOK, LABEL_TEST_RUN
from envkit.spec import EnvSpec

pytestmark = pytest.mark.docker
PROBE = "\nRUN touch /PWNED_BASE"


def write_notebook(path: Path, spec: dict) -> None:
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {"envkit": {"schema": 1, "spec": spec}},
        "cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": "import six\n"}]}))


def images_of(engine, nb: Path) -> list:
    """Images this test run made for ``nb`` (envkit writes both labels into every image it builds)."""
    return [i for i in engine.images.list(all=True, filters={"label": f"{LABEL_TEST_RUN}={TEST_RUN}"})
            if i.labels.get(LABEL_NOTEBOOK) == notebook_label(nb)]


def envkit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envkit", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "ENVKIT_DEBUG": ""})


@pytest.mark.parametrize(("field", "spec"), [
    ("spec.base_image", {"python": "3.11", "base_image": "{base}" + PROBE}),
    ("spec.python", {"python": "3.11" + PROBE}),
    ("spec.system_packages[0]", {"python": "3.11", "base_image": "{base}", "system_packages": ["git" + PROBE]}),
    ("spec.system_packages[0]", {"python": "3.11", "base_image": "{base}", "system_packages": ["git;touch /PWNED_BASE"]}),
    ("spec.requirements[0].specifier", {"python": "3.11", "base_image": "{base}", "requirements": [
        {"name": "six", "specifier": ">=1\n--index-url http://127.0.0.1:9/simple"}]}),
])
def test_injected_metadata_never_builds(engine, base_image, tmp_path, field, spec):
    nb = tmp_path / "probe.ipynb"
    write_notebook(nb, json.loads(json.dumps(spec).replace("{base}", base_image)))
    before = nb.read_bytes()
    proc = envkit("build", nb)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"envkit: {nb}: metadata.envkit.{field}: "), proc.stderr
    assert images_of(engine, nb) == []
    assert nb.read_bytes() == before


def test_injected_base_image_option_never_builds(engine, base_image, tmp_path):
    nb = tmp_path / "probe.ipynb"
    write_notebook(nb, {"python": "3.11"})
    before = nb.read_bytes()
    proc = envkit("build", nb, "--base-image", base_image + PROBE)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("envkit: base_image: "), proc.stderr
    assert images_of(engine, nb) == []
    assert nb.read_bytes() == before


def test_a_spec_built_in_code_is_refused_before_the_build(engine, base_image, tmp_path):
    with pytest.raises(UsageError, match="^base_image: "):
        build_spec(EnvSpec(python="3.11"), options=BuildOptions(base_image=base_image + PROBE),
                   notebook=notebook_label(tmp_path / "probe.ipynb"))
    assert images_of(engine, tmp_path / "probe.ipynb") == []
