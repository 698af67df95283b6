"""Shared build fixtures: one tiny environment image per test session.

Other areas' tests (kernels, launch, run, share) import ``env_image`` from here::

    from support import build as support_build
    env_image = support_build.env_image   # a fixture; this form keeps ruff's F811 quiet

It yields a ``BuildResult`` for a spec with ``six`` (plus ipykernel, which envkit always
installs), built on the ``base_image`` fixture. The image carries this test run's label, so
the session's end removes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_REQUIREMENTS = ("six",)


def tiny_spec(*requirements: str, python: str = "3.11"):
    """An EnvSpec with ``requirements`` (default: ``six``)."""
    from envkit.spec import EnvSpec, Requirement

    return EnvSpec(python=python, requirements=tuple(Requirement.parse(r) for r in requirements or TINY_REQUIREMENTS))


def tiny_notebook(path: Path, *, spec=None, cells: tuple[str, ...] = ("import six\nprint(six.__version__)",)) -> Path:
    """Write a small notebook at ``path``, with ``spec`` stored in its metadata when given."""
    import nbformat

    from envkit.notebook import write_envkit
    from envkit.spec import EnvkitMetadata

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2"}
    nbformat.write(nb, str(path))
    if spec is not None:
        write_envkit(path, EnvkitMetadata(spec=spec))
    return path


@pytest.fixture(scope="session")
def env_image(base_image, tmp_path_factory):
    """A BuildResult for a tiny spec (``six`` + ipykernel) on the test base image, built once."""
    from envkit.build import BuildOptions, build_spec

    folder = tmp_path_factory.mktemp("env-image")
    notebook = tiny_notebook(folder / "tiny.ipynb", spec=tiny_spec())
    return build_spec(tiny_spec(), options=BuildOptions(base_image=base_image), notebook=str(notebook))
