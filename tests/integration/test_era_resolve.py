"""Era-aware resolution with the real uv and the host's package index (through pip's settings).

No engine: ``uv pip compile`` for a target Python, wheels only, as the image would install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from packaging.version import Version

from envkit.era import Era
from envkit.era_sources import git_commit_date, notebook_era, resolve_as_of

UV = str(Path(sys.executable).parent / "uv") if (Path(sys.executable).parent / "uv").exists() else shutil.which("uv") or "uv"
pytestmark = pytest.mark.skipif(not Path(UV).exists(), reason="uv is not installed (pip install uv)")


def pins(resolution) -> dict[str, Version]:
    return {p.split("==")[0]: Version(p.split("==")[1]) for p in resolution.pins}


def test_the_cut_off_picks_the_eras_pandas_where_it_installs():
    # Python 3.9 had pandas wheels by late 2020: the era's own choice stands, nothing moves.
    got = resolve_as_of(["pandas"], Era(when=date(2020, 12, 1), reason="test"), "3.9", uv=UV)
    assert got.moves == ()
    assert Version("1.1") <= pins(got)["pandas"] < Version("1.2")
    assert got.arguments[:2] == ("--exclude-newer", "2020-12-02T00:00:00Z")
    # only the kernel's packages (ipykernel and what it needs) get their own, current cut-off
    overridden = {a.split("=")[0] for a in got.arguments[3::2]}
    assert "ipykernel" in overridden and "pandas" not in overridden


def test_the_forward_move_picks_the_first_pandas_with_a_wheel_for_3_11():
    got = resolve_as_of(["pandas"], Era(when=date(2019, 3, 2), reason="test"), "3.11", uv=UV)
    moved = {m.distribution: m for m in got.moves}
    # pandas 1.5.0 (Sept 2022) is the first release with cp311 wheels; numpy 1.23.2 likewise.
    assert pins(got)["pandas"] == Version("1.5.0") and moved["pandas"].version == "1.5.0"
    assert pins(got)["numpy"] == Version("1.23.2")
    # pure-Python dependencies move only as far as the moved pandas needs, not to today
    assert pins(got)["pytz"] < Version("2021")
    assert "--exclude-newer-package" in got.arguments


def test_a_committed_notebook_is_dated_by_git(tmp_path):
    nb = tmp_path / "old.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "import pandas as pd\npd.read_csv('x', error_bad_lines=False)",
         "metadata": {}, "outputs": [], "execution_count": None}]}))
    env = {"GIT_AUTHOR_DATE": "2019-03-02T12:00:00+00:00", "GIT_COMMITTER_DATE": "2019-03-02T12:00:00+00:00",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(tmp_path),
           # the folder belongs to the image user's uid (tests/conftest.py) while the suite may run as root
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}
    for cmd in (["git", "init", "-q"], ["git", "add", "old.ipynb"], ["git", "commit", "-qm", "old"]):
        subprocess.run(cmd, cwd=tmp_path, check=True, env=env)
    assert git_commit_date(nb) == date(2019, 3, 2)
    era = notebook_era(nb, date_versions=False)
    assert era.describe() == "as of 2019-03-02: last git commit touching the notebook"


OLD_CELLS = """
import io, warnings
warnings.simplefilter("ignore")
import pandas as pd
df = pd.read_csv(io.StringIO("a,b\\n1,2\\n3,4,5\\n"), error_bad_lines=False)
from sklearn.datasets import load_boston
X = load_boston()
print(len(df), X.data.shape)
"""


def test_the_eras_pins_run_removed_apis_on_python_3_11(tmp_path):
    """A 2019 notebook's removed APIs (read_csv error_bad_lines, load_boston) run with the era's pins."""
    python = shutil.which("python3.11")
    if python is None:
        pytest.skip("no python3.11 on this host")
    got = resolve_as_of(["pandas", "scikit-learn"], Era(when=date(2019, 3, 2), reason="test"), "3.11", uv=UV)
    assert pins(got)["scikit-learn"] == Version("1.1.3")  # the first with cp311 wheels; load_boston left in 1.2
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "-q", "--python", python, str(venv)], check=True,
                   env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    subprocess.run([UV, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--only-binary", ":all:",
                    *got.pins], check=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}, timeout=900)
    ran = subprocess.run([str(venv / "bin" / "python"), "-c", OLD_CELLS], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.split() == ["1", "(506,", "13)"]


def test_the_kernel_stays_current_while_the_notebooks_packages_are_of_their_era():
    latest = resolve_as_of(["ipykernel"], Era(when=None, reason="now"), "3.11", uv=UV)
    got = resolve_as_of(["pandas", "ipykernel"], Era(when=date(2019, 3, 2), reason="test"), "3.11", uv=UV)
    assert pins(got)["ipykernel"] == pins(latest)["ipykernel"]
    assert pins(got)["pandas"] == Version("1.5.0")


def test_a_floor_keeps_uv_from_going_back_years_for_a_dependency_without_a_wheel():
    # As of mid-2021 on Python 3.11, ipywidgets 7.6.3 needs markupsafe 2.0.1 (through notebook), which
    # has no cp311 wheel: uv alone went back to ipywidgets 5.2.2 (2016), whose import of
    # ipython_genutils nothing installs. The floor (7.5.1, current a year before) moves markupsafe instead.
    era = Era(when=date(2021, 6, 1), reason="test")
    got = resolve_as_of(["ipywidgets", "ipykernel"], era, "3.11", uv=UV)
    assert Version("7.5.1") <= pins(got)["ipywidgets"] < Version("8")  # a final of its era, not 8.0's alphas
    assert "ipython-genutils" in pins(got)  # what 7.x imports is declared, so installed
    floored = {f.distribution: (f.version, was) for f, was in got.floored}
    assert floored["ipywidgets"][0] == "7.5.1" and Version(floored["ipywidgets"][1]) < Version("6")
    assert "markupsafe" in {m.distribution for m in got.moves}
    # an explicit bound in the notebook is its word: no floor, and what uv takes stands
    bounded = resolve_as_of(["ipywidgets<6", "ipykernel"], era, "3.11", uv=UV)
    assert bounded.floored == () and pins(bounded)["ipywidgets"] < Version("6")
