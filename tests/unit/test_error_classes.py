"""Error classes used for their meaning: the class a caller catches says what went wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envkit.errors import EngineError, InternalError, NotebookError, PackageError, RegistryError
from envkit.notebook import read_notebook


def _notebook(path: Path, metadata: dict) -> Path:
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": []}))
    return path


def test_a_schema_this_envkit_cannot_read_is_a_notebook_problem_naming_the_file(tmp_path):
    nb = _notebook(tmp_path / "future.ipynb", {"envkit": {"schema": 99}})
    with pytest.raises(NotebookError) as caught:
        read_notebook(nb).envkit()
    assert not isinstance(caught.value, PackageError)
    assert str(nb) in caught.value.message and "schema 99" in caught.value.message


def test_a_notebook_without_an_environment_is_not_a_registry_error(tmp_path):
    from envkit.share import export_notebook, push_notebook

    nb = _notebook(tmp_path / "bare.ipynb", {})
    for call in (lambda: export_notebook(nb, tmp_path / "x.envkit.tar"), lambda: push_notebook(nb, "r.invalid/a")):
        with pytest.raises(NotebookError, match="no envkit environment") as caught:
            call()
        assert not isinstance(caught.value, RegistryError)


def test_a_missing_notebook_is_not_an_engine_error(tmp_path):
    from envkit.launch import start_lab

    with pytest.raises(NotebookError, match="no such notebook") as caught:
        start_lab(tmp_path / "missing.ipynb")
    assert not isinstance(caught.value, EngineError)


def test_a_file_that_is_not_an_archive_is_an_archive_error(tmp_path):
    from envkit.errors import ArchiveError
    from envkit.share import import_archive

    bad = tmp_path / "bad.envkit.tar"
    bad.write_text("not a tar")
    with pytest.raises(ArchiveError, match="not an envkit archive") as caught:
        import_archive(bad)
    assert not isinstance(caught.value, EngineError)


def test_internal_error_is_one_line():
    text = str(InternalError.wrap(ValueError("x\ny")))
    assert text == "internal error: ValueError: x — rerun with ENVKIT_DEBUG=1 for the traceback"
    assert str(InternalError.wrap(RuntimeError())) == ("internal error: RuntimeError — rerun with "
                                                       "ENVKIT_DEBUG=1 for the traceback")


def test_every_error_class_is_raised_somewhere():
    # A class nobody raises documents a failure that cannot happen (CaptureError was one).
    import envkit.errors as errors

    source = "\n".join(p.read_text() for p in Path(errors.__file__).parent.rglob("*.py") if p.name != "errors.py")
    classes = [name for name, obj in vars(errors).items()
               if isinstance(obj, type) and issubclass(obj, errors.EnvkitError) and obj is not errors.EnvkitError]
    unused = [name for name in classes if f"{name}(" not in source and f"{name}.wrap(" not in source]
    assert not unused, unused
