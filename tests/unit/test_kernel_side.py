"""The kernel's side of envkit in the image (templates/kernel): pip shim, stand-in envkit, the layer."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from envkit.commands import COMMANDS
from envkit.dockerfile import kernel_side_files, render_context
from envkit.plan import BuildOptions
from envkit.spec import EnvSpec, Requirement

SITE = Path(__file__).resolve().parents[2] / "templates" / "kernel" / "site"


def load(name: str, path: Path):
    """A module of the image's kernel side under a name of its own (``envkit`` is taken here)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pip_shim():
    return load("envkit_image_pip", SITE / "pip" / "__init__.py")


@pytest.fixture(scope="module")
def stand_in():
    return load("envkit_image_stand_in", SITE / "envkit" / "__init__.py")


@pytest.mark.parametrize(("argv", "expected"), [
    (["install", "tomli-w==1.0.0"], ["pip", "install", "--python", "/py", "tomli-w==1.0.0"]),
    (["install", "-q", "--no-cache-dir", "--user", "-U", "six"], ["pip", "install", "--python", "/py", "-q", "-U", "six"]),
    (["--disable-pip-version-check", "install", "--progress-bar", "off", "--pre", "x"],
     ["pip", "install", "--python", "/py", "--prerelease", "allow", "x"]),
    (["install", "--root-user-action=ignore", "-r", "req.txt"], ["pip", "install", "--python", "/py", "-r", "req.txt"]),
    (["uninstall", "-y", "six"], ["pip", "uninstall", "--python", "/py", "six"]),
    (["list"], ["pip", "list", "--python", "/py"]),
    (["--version"], ["--version"]),
])
def test_pip_commands_become_uv_pip_on_this_environment(pip_shim, argv, expected):
    assert pip_shim.translate(argv, "/py") == (expected, None)


@pytest.mark.parametrize("argv", [["download", "six"], ["wheel", "."], []])
def test_pip_commands_uv_lacks_say_so_in_one_line(pip_shim, argv):
    uv_args, message = pip_shim.translate(argv, "/py")
    assert uv_args is None and "\n" not in message and "uv" in message


def test_stand_in_knows_every_host_command(stand_in):
    # a new envkit subcommand must be listed in the image's stand-in too
    assert set(stand_in.HOST_ONLY) == set(COMMANDS) - {"capture"}


def test_stand_in_imports_nothing_of_the_hosts():
    text = (SITE / "envkit" / "__init__.py").read_text()
    for heavy in ("docker", "jinja2", "nbformat", "packaging", "envkit."):
        assert f"import {heavy}" not in text and f"from {heavy}" not in text


def test_stand_in_magics_print_one_line(stand_in, capsys):
    stand_in.envkit("build --base-image x")
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("%envkit build runs on the host") and "envkit build NOTEBOOK" in line
    stand_in.envkit("frobnicate")
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_stand_in_capture_reports_loaded_distributions(stand_in, capsys):
    import packaging  # noqa: F401  (loaded in this process, owned by the 'packaging' distribution)

    stand_in.envkit("capture")
    out = capsys.readouterr().out
    assert "inside the notebook's container" in out and f"Python {sys.version.split()[0]}" in out
    assert "packaging==" in out


def test_kernel_side_is_in_the_context_after_the_packages():
    spec = EnvSpec(python="3.11", requirements=(Requirement.parse("six"),))
    context = render_context(spec, None, BuildOptions(base_image="python:3.11-slim"))
    files = kernel_side_files()
    assert {"kernel/bin-pip", "kernel/site/pip/__main__.py", "kernel/site/envkit/__init__.py"} <= set(files)
    assert not any("__pycache__" in name for name in files)
    assert all(context.files[name] == data for name, data in files.items())
    text = context.dockerfile
    assert text.index("COPY layer/") < text.index("COPY kernel/") < text.index("dev.envkit.build-key=")


def test_pip_main_called_in_a_kernel_runs_uv_as_a_child(pip_shim, tmp_path, monkeypatch):
    # pip.main([...]) from a notebook must not replace the kernel's process
    seen = tmp_path / "seen.txt"
    fake = tmp_path / "uv"
    fake.write_text(f'#!/bin/sh\necho "$UV_NO_PROGRESS $*" > {seen}\nexit 3\n')
    fake.chmod(0o755)
    monkeypatch.setattr(pip_shim, "uv_binary", lambda: str(fake))
    monkeypatch.delenv("UV_NO_PROGRESS", raising=False)
    assert pip_shim.main(["install", "--no-cache-dir", "six"]) == 3
    assert seen.read_text().split() == ["1", "pip", "install", "--python", sys.executable, "six"]
    assert "UV_NO_PROGRESS" not in os.environ
