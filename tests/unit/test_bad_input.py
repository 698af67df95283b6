"""Bad input through the real CLI: a one-line message naming the file, the right exit, no damage."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

DATA = Path(__file__).resolve().parent.parent / "data" / "capture"


def envkit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envkit", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "ENVKIT_DEBUG": ""})


def assert_refused(proc: subprocess.CompletedProcess[str], path: Path, words: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("envkit: ") and str(path) in first and words in first, proc.stderr


@pytest.mark.parametrize(("content", "words"), [
    (b'{"cells": [', "not valid JSON"),
    (b'{"hello": "world"}', "not a Jupyter notebook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a notebook"),
    (b"", "empty"),
    (b"   \n", "empty"),
])
def test_unreadable_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    assert_refused(envkit("capture", path), path, words)
    assert_refused(envkit("capture", "--write", path), path, words)
    assert path.read_bytes() == content


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.ipynb"
    assert_refused(envkit("capture", path), path, "no such file")


def test_folder_without_notebooks(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a notebook")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    nbformat.write(new_notebook(), tmp_path / ".ipynb_checkpoints" / "x-checkpoint.ipynb")
    assert_refused(envkit("capture", tmp_path), tmp_path, "no notebooks")


def test_nbformat3_is_read_but_not_written(tmp_path: Path) -> None:
    path = tmp_path / "old.ipynb"
    shutil.copy(DATA / "nbformat3.ipynb", path)
    before = path.read_bytes()
    proc = envkit("capture", "--json", path)
    assert proc.returncode == 0, proc.stderr
    assert {r["name"] for r in json.loads(proc.stdout)["requirements"]} == {"numpy", "matplotlib"}
    assert_refused(envkit("capture", "--write", path), path, "nbformat 3")
    assert path.read_bytes() == before


def test_empty_notebook_has_no_needs(tmp_path: Path) -> None:
    path = tmp_path / "empty.ipynb"
    nbformat.write(new_notebook(), path)
    before = path.read_bytes()
    proc = envkit("capture", "--json", path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["requirements"] == []
    assert path.read_bytes() == before


def test_syntax_errors_are_skipped_by_cell_number(tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import numpy"), new_code_cell("def f(:\n  pass"),
                                       new_code_cell("print 'py2'"), new_code_cell("import scipy")]), path)
    before = path.read_bytes()
    proc = envkit("capture", "--json", path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {r["name"] for r in data["requirements"]} == {"numpy", "scipy"}
    assert [s["cell"] for s in data["skipped_cells"]] == [2, 3]
    text = envkit("capture", path)
    assert "cell 2" in text.stdout and "not valid Python" in text.stdout
    assert path.read_bytes() == before


def test_read_only_with_write(tmp_path: Path) -> None:
    path = tmp_path / "ro.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import numpy")]), path)
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        assert_refused(envkit("capture", "--write", path), path, "read-only")
        assert path.read_bytes() == before
        assert envkit("capture", path).returncode == 0  # reading still works
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_write_needs_a_single_notebook(tmp_path: Path) -> None:
    for name in ("a", "b"):
        nbformat.write(new_notebook(cells=[new_code_cell("import numpy")]), tmp_path / f"{name}.ipynb")
    proc = envkit("capture", "--write", tmp_path / "a.ipynb", tmp_path / "b.ipynb")
    assert proc.returncode == 2 and "one notebook" in proc.stderr.splitlines()[0]


def test_fifty_megabyte_notebook(tmp_path: Path) -> None:
    path = tmp_path / "big.ipynb"
    blob = "A" * (50 * 1024 * 1024)  # a large image output, as plots and widgets leave behind
    cell = new_code_cell("import pandas", outputs=[new_output("display_data", data={"image/png": blob})])
    nbformat.write(new_notebook(cells=[cell]), path)
    before = path.stat().st_size, path.stat().st_mtime_ns
    assert before[0] > 50 * 1024 * 1024
    proc = envkit("capture", "--json", path)
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in json.loads(proc.stdout)["requirements"]] == ["pandas"]
    assert (path.stat().st_size, path.stat().st_mtime_ns) == before


def test_damaged_structure_alone_fails_in_a_folder_is_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "damaged.ipynb"
    bad.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ["not a cell"]}))
    nbformat.write(new_notebook(cells=[new_code_cell("import numpy"), new_code_cell("x = " + "(" * 300 + ")" * 300)]),
                   tmp_path / "good.ipynb")
    before = bad.read_bytes()
    assert_refused(envkit("capture", bad), bad, "structure is damaged")
    proc = envkit("capture", "--json", tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["name"] for r in data["requirements"]] == ["numpy"]
    assert any(str(bad) in s["notebook"] and s["cell"] is None for s in data["skipped_cells"])
    assert bad.read_bytes() == before
