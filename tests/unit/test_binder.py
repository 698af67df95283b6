"""Binder export: pinned repo2docker files, accepted by repo2docker itself; the launch badge."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envkit.binder import badge_markdown, binder_url, export_binder
from envkit.cli import main
from envkit.notebook import update_envkit
from envkit.spec import EnvSpec, Lock, Pin, Requirement

NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": ["import numpy"]}]}
SPEC = EnvSpec(python="3.11", requirements=(Requirement.parse("numpy>=1.24"), Requirement.parse("pip")),
               system_packages=("graphviz", "libgl1"))
LOCK = Lock(spec_digest=SPEC.digest(), python="3.11.2",
            packages=(Pin(name="numpy", version="1.26.4", hashes=("sha256:" + "a" * 64,)),
                      Pin(name="pip", version="24.0"), Pin(name="Pillow", version="10.3.0")))


def _notebook(tmp_path: Path, *, lock: Lock | None) -> Path:
    path = tmp_path / "analysis.ipynb"
    path.write_text(json.dumps(NOTEBOOK))
    update_envkit(path, spec=SPEC, lock=lock)
    return path


def test_export_pins_from_the_lock(tmp_path: Path) -> None:
    result = export_binder(_notebook(tmp_path, lock=LOCK), tmp_path / "binder")
    assert result.pins_from == "lock"
    folder = tmp_path / "binder"
    assert (folder / "requirements.txt").read_text() == "numpy==1.26.4\npillow==10.3.0\n"
    assert (folder / "runtime.txt").read_text() == "python-3.11\n"
    assert (folder / "apt.txt").read_text() == "graphviz\nlibgl1\n"


def test_export_uses_the_spec_without_a_lock_or_with_a_stale_one(tmp_path: Path) -> None:
    stale = Lock(spec_digest="sha256:" + "0" * 64, python="3.10.1", packages=(Pin(name="numpy", version="1.0"),))
    for lock in (None, stale):
        result = export_binder(_notebook(tmp_path, lock=lock), tmp_path / "binder")
        assert result.pins_from == "spec"
        assert (tmp_path / "binder" / "requirements.txt").read_text() == "numpy>=1.24\n"
        assert (tmp_path / "binder" / "runtime.txt").read_text() == "python-3.11\n"


def test_export_without_spec_names_the_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bare.ipynb"
    path.write_text(json.dumps(NOTEBOOK))
    assert main(["export", str(path), "--binder", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "bare.ipynb" in err and "envkit capture --write" in err
    assert not (tmp_path / "b").exists()


def test_export_needs_exactly_one_target(tmp_path: Path, capsys) -> None:
    path = _notebook(tmp_path, lock=LOCK)
    assert main(["export", str(path)]) == 2
    assert main(["export", str(path), "-o", "x.tar", "--binder", "d"]) == 2


@pytest.mark.skipif(shutil.which("jupyter-repo2docker", path=str(Path(sys.executable).parent)) is None,
                    reason="jupyter-repo2docker comes with the test extras")
def test_repo2docker_accepts_the_export(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    nb = _notebook(repo, lock=LOCK)
    assert main(["export", str(nb), "--binder", str(repo / "binder")]) == 0
    # --no-build renders the Dockerfile and prints it with --debug; --no-run keeps it from
    # starting anything. It needs no engine and pulls nothing.
    r2d = Path(sys.executable).parent / "jupyter-repo2docker"
    out = subprocess.run([str(r2d), "--no-build", "--no-run", "--debug", str(repo)],
                         capture_output=True, text=True, timeout=120, check=True)
    text = out.stdout + out.stderr
    dockerfile = text[text.index("FROM "):]
    assert "python=3.11" in text  # runtime.txt picked up
    assert "apt-get install --yes --no-install-recommends graphviz libgl1" in dockerfile
    # The pins reach the image through the requirements file the Dockerfile copies and installs.
    assert "COPY --chown=0:0 src/binder/requirements.txt ${REPO_DIR}/binder/requirements.txt" in dockerfile
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "numpy==1.26.4" in (repo / "binder" / "requirements.txt").read_text()


def test_the_projects_binder_folder_covers_the_examples() -> None:
    root = Path(__file__).resolve().parents[2]
    reqs = (root / "binder" / "requirements.txt").read_text().lower()
    for needed in ("numpy", "pandas", "matplotlib", "ipywidgets"):
        assert needed in reqs, needed
    assert "\n.\n" in reqs  # envkit itself, from the repository
    assert (root / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


@pytest.mark.skipif(shutil.which("jupyter-repo2docker", path=str(Path(sys.executable).parent)) is None,
                    reason="jupyter-repo2docker comes with the test extras")
def test_repo2docker_installs_the_project_after_copying_it() -> None:
    root = Path(__file__).resolve().parents[2]
    r2d = Path(sys.executable).parent / "jupyter-repo2docker"
    out = subprocess.run([str(r2d), "--no-build", "--no-run", "--debug", str(root)],
                         capture_output=True, text=True, timeout=120, check=True)
    text = out.stdout + out.stderr
    copy_repo = text.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    # "." in requirements.txt needs the repository in place before pip runs.
    assert text.index('pip install --no-cache-dir -r "binder/requirements.txt"') > copy_repo


def test_badge_url_uses_mybinders_scheme() -> None:
    url = binder_url("envkit-dev/envkit", "main", "examples/sales/analysis.ipynb")
    assert url == "https://mybinder.org/v2/gh/envkit-dev/envkit/main?labpath=examples%2Fsales%2Fanalysis.ipynb"
    assert binder_url("o/n", "release/1.0") == "https://mybinder.org/v2/gh/o/n/release%2F1.0"
    assert badge_markdown(url) == f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})"


def test_badge_command(capsys) -> None:
    assert main(["badge", "--repo", "o/n", "--ref", "v1", "--path", "a b.ipynb"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/o/n/v1?labpath=a%20b.ipynb)",
                   "https://mybinder.org/v2/gh/o/n/v1?labpath=a%20b.ipynb"]
    assert main(["badge", "--repo", "nope", "--ref", "v1"]) == 2
