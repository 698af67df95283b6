"""Checking a notebook against nbformat's schema: nbformat's verdict and words, without its import cost."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest

from envkit.errors import NotebookError
from envkit.notebook import read_notebook, write_envkit
from envkit.notebook_schema import schema_error
from envkit.spec import EnvkitMetadata, EnvSpec, Requirement

META = EnvkitMetadata(spec=EnvSpec(python="3.11", requirements=(Requirement.parse("requests"),)))


def cell(**changes: Any) -> dict[str, Any]:
    return {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
            "source": "import requests\n", **changes}


def notebook(*cells: dict[str, Any], minor: int = 5, **changes: Any) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": minor, "metadata": {}, "cells": list(cells), **changes}


def without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


VALID = {
    "4.5": notebook(cell()),
    "4.5, no cells": notebook(),
    "4.4 without ids": notebook(without(cell(), "id"), minor=4),
    "4.0": notebook(without(cell(), "id"), minor=0),
    "4.5, a cell without its id (nbformat adds one)": notebook(without(cell(), "id")),
    "4.5, duplicate ids (nbformat renames one)": notebook(cell(), cell()),
    "a minor from the future with a new key (checked relaxed)": notebook(cell(new_key=1), minor=99),
    "markdown and raw cells": notebook(
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# hi"},
        {"cell_type": "raw", "id": "r", "metadata": {}, "source": ""}),
    "an output": notebook(cell(execution_count=1, outputs=[
        {"output_type": "stream", "name": "stdout", "text": ["hi\n"]}])),
}

INVALID = {
    "a code cell without outputs": notebook(without(cell(), "outputs")),
    "an unknown key in a cell": notebook(cell(colour="red")),
    "an unknown cell type": notebook(cell(cell_type="sql")),
    "an output of an unknown type": notebook(cell(outputs=[{"output_type": "hologram"}])),
    "a stream without a name": notebook(cell(outputs=[{"output_type": "stream", "text": "x"}])),
    "execution_count as text": notebook(cell(execution_count="one")),
    "metadata as a list": notebook(cell(), metadata=[]),
    "kernelspec without a name": notebook(cell(), metadata={"kernelspec": {"display_name": "P"}}),
    "an unknown key at the top": notebook(cell(), worksheets=[]),
    "an id with a space": notebook(cell(id="a b")),
}


def nbformats_answer(raw: dict[str, Any]) -> str | None:
    """What ``nbformat.validate`` itself says, first line (the oracle)."""
    try:
        nbformat.validate(nbformat.from_dict(copy.deepcopy(raw)))
    except nbformat.ValidationError as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning",
                            "ignore::nbformat.warnings.DuplicateCellId")
@pytest.mark.parametrize("raw", VALID.values(), ids=VALID.keys())
def test_a_notebook_nbformat_accepts_is_accepted_and_left_unchanged(raw: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    assert nbformats_answer(raw) is None
    assert schema_error(raw) is None
    assert raw == before


@pytest.mark.parametrize("raw", INVALID.values(), ids=INVALID.keys())
def test_a_notebook_nbformat_refuses_is_refused_in_nbformats_words(raw: dict[str, Any]) -> None:
    expected = nbformats_answer(raw)
    assert expected is not None
    assert schema_error(raw) == expected


def test_a_minor_version_as_text_is_named_where_nbformat_would_fail_an_assert() -> None:
    raw = notebook(cell(), minor="5")  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        nbformats_answer(raw)
    assert schema_error(raw) == 'nbformat_minor is "5", not a whole number'


def test_a_write_that_would_break_the_notebook_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ipynb"
    data = json.dumps(notebook(cell(), cell(id="c2", outputs=[{"output_type": "hologram"}])), indent=1)
    path.write_text(data)
    with pytest.raises(NotebookError) as info:
        write_envkit(path, META)
    assert str(path) in info.value.message and "would not be a valid notebook" in info.value.message
    assert "nothing was written" in info.value.message and "\n" not in info.value.message
    assert info.value.hint.startswith("nbformat says: ") and "\n" not in info.value.hint
    assert path.read_text() == data


def test_a_valid_write_never_imports_jsonschema(tmp_path: Path) -> None:
    """The point of ``envkit.notebook_schema``: jsonschema's import alone costs seconds where
    rfc3987-syntax is installed. A fresh process writes a record and says what it imported."""
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(notebook(cell())))
    code = textwrap.dedent(f"""
        import sys
        from envkit.notebook import write_envkit
        from envkit.spec import EnvkitMetadata, EnvSpec
        print(write_envkit({str(path)!r}, EnvkitMetadata(spec=EnvSpec(python="3.11"))))
        print(sorted(m for m in ("jsonschema", "nbformat") if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ENVKIT_DEBUG": ""})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["file", "[]"]
    assert read_notebook(path).envkit().spec.python == "3.11"
