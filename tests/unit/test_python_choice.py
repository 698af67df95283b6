"""The Python a notebook without a record is built on (plan.choose_python): pure, no engine."""

from __future__ import annotations

import pytest

from envkit.plan import OLDEST_IMAGE_PYTHON, choose_python, image_python


def test_the_notebooks_python_when_the_engine_has_its_image() -> None:
    choice = choose_python("3.9", "language_info", have={"3.9", "3.11"}, default="3.11", host="3.11")
    assert choice.python == "3.9"
    assert choice.line == "Python 3.9 (language_info of the notebook): python:3.9-slim is on the engine"


def test_a_pulled_image_is_said() -> None:
    choice = choose_python("3.10", "language_info", have={"3.10"}, default="3.11", host="3.11", pulled=True)
    assert choice.python == "3.10" and "pulled python:3.10-slim" in choice.line


def test_missing_image_takes_the_nearest_newer_one_the_engine_has() -> None:
    choice = choose_python("3.8", "language_info", have={"3.13", "3.9", "3.11"}, default="3.11", host="3.11")
    assert choice.python == "3.9"
    assert "says 3.8" in choice.line and "no python:3.8-slim" in choice.line
    assert "python:3.9-slim, the nearest newer one" in choice.line


def test_nothing_newer_falls_back_to_this_machines_python() -> None:
    choice = choose_python("3.14", "language_info", have={"3.9"}, default="3.14", host="3.11")
    assert choice.python == "3.11"
    assert choice.line.endswith("nor a newer one): this machine's Python, python:3.11-slim, which the build will try to pull")
    assert choose_python("3.14", "language_info", have={"3.11"}, default="3.14", host="3.11").python == "3.11"


@pytest.mark.parametrize(("have", "python"), [({"3.12", "3.13"}, "3.12"), ({"3.9", "3.13"}, "3.13"), (set(), "3.12")])
def test_a_notebook_that_does_not_say_gets_the_default(have: set[str], python: str) -> None:
    # the default is capture's Python: here one a requires-python allows, not this machine's 3.11
    choice = choose_python(None, "", have=have, default="3.12", host="3.11")
    assert choice.python == python and "does not say" in choice.line


def test_older_pythons_are_raised_to_the_oldest_envkit_builds() -> None:
    assert image_python("3.6") == OLDEST_IMAGE_PYTHON
    assert image_python("3.12") == "3.12"
    choice = choose_python("3.7", "language_info", have={OLDEST_IMAGE_PYTHON}, default="3.11", host="3.11")
    assert choice.python == OLDEST_IMAGE_PYTHON and "says 3.7" in choice.line


def test_python_2_counts_as_not_saying() -> None:
    assert image_python("2.7") is None and image_python(None) is None
    choice = choose_python("2.7", "kernelspec python2", have={"3.10", "3.11"}, default="3.10", host="3.11")
    assert choice.python == "3.10" and "kernelspec python2 says 2.7, which envkit does not build for" in choice.line


def test_without_the_engine_the_notebooks_python_as_it_is() -> None:
    assert choose_python("3.9", "language_info", have=None, default="3.11", host="3.11").python == "3.9"
    assert choose_python(None, "", have=None, default="3.11", host="3.11").python == "3.11"


def test_odd_tags_are_ignored() -> None:
    assert choose_python("3.9", "language_info", have={"3", "latest", "3.10"}, default="3.11", host="3.11").python == "3.10"
