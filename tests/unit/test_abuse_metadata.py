"""Fault and abuse suite: hand-edited ``metadata.envkit`` and hostile notebook file names (issue 10).

Hypothesis writes notebooks whose envkit record holds random JSON, or a sound record with values
replaced by newlines, ``;``, ``$(...)``, backticks, installer options and huge strings, and
notebooks with file names carrying ``FROM``/``RUN`` lines and any Unicode. Each goes through the
real CLI (``envkit.cli.main`` in-process, a few through the ``envkit`` command in a subprocess):
either one clear line naming the field and a non-zero exit, no traceback, or a Dockerfile whose
instructions are exactly the ones envkit's template emits. The notebook never changes except by
an explicit ``--write``, which repairs a damaged record.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement as PEP508

from envkit.build import BuildOptions, notebook_label
from envkit.cli import main
from envkit.dockerfile import render_context
from envkit.errors import EnvkitError, NotebookError, UsageError
from envkit.notebook import read_notebook
from envkit.plan import base_image_for
from envkit.settings import PipSettings
from envkit.spec import EnvkitMetadata, EnvSpec, ImageRecord, Lock, Pin, Requirement

DEAD_ENGINE = "unix:///nonexistent/envkit-abuse-test.sock"  # anything reaching the engine fails loudly
PAYLOADS = [
    "x\nRUN touch /PWNED", "python:3.11-slim\nRUN touch /PWNED_BASE", "x; touch /PWNED", "$(touch /PWNED)",
    "`touch /PWNED`", "--index-url http://h.invalid/simple", "six\n--index-url http://h.invalid/simple",
    "-e .", "x\rFROM alpine", "x\u2028RUN y", "\x1b[2J", "${HOME}", "#", "FROM alpine", "", " ", "\\", '"',
    "x" * 100_000, "3.11\nRUN id", "sha256:" + "0" * 63, "six @ http://h.invalid/$(id)",
]
KEYS = ["schema", "spec", "lock", "image", "python", "requirements", "system_packages", "base_image", "name",
        "specifier", "marker", "url", "extras", "packages", "version", "hashes", "id", "tag", "sources"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
           | st.sampled_from(PAYLOADS))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
                           max_leaves=25)
nasty = st.sampled_from(PAYLOADS) | st.text(max_size=30) | json_values


def sound_record() -> dict:
    spec = EnvSpec(python="3.11", base_image="envkit-test-base:bookworm", system_packages=("git",),
                   requirements=(Requirement.parse("six>=1"), Requirement.parse("idna; python_version > '3.8'"),
                                 Requirement.parse("pkg @ https://h.invalid/pkg-1.0.tar.gz")))
    lock = Lock(spec_digest=spec.digest(), python="3.11.2", packages=(
        Pin(name="six", version="1.17.0", hashes=("sha256:" + "a" * 64,)),
        Pin(name="ipykernel", version="7.4.0", hashes=("sha256:" + "b" * 64,))))
    image = ImageRecord(id="sha256:" + "c" * 64, tag="envkit/nb:latest", spec_digest=spec.digest())
    return EnvkitMetadata(spec=spec, lock=lock, image=image).to_json()


PATHS = [(), ("schema",), ("spec",), ("spec", "python"), ("spec", "base_image"), ("spec", "system_packages"),
         ("spec", "system_packages", 0), ("spec", "requirements"), ("spec", "requirements", 0),
         ("spec", "requirements", 0, "name"), ("spec", "requirements", 0, "specifier"),
         ("spec", "requirements", 1, "marker"), ("spec", "requirements", 2, "url"),
         ("spec", "requirements", 0, "extras"), ("spec", "requirements", 0, "sources"), ("lock",),
         ("lock", "python"), ("lock", "packages", 0, "version"), ("lock", "packages", 0, "name"),
         ("lock", "packages", 1, "hashes", 0), ("lock", "packages", 0, "url"), ("lock", "packages"),
         ("lock", "source"), ("image", "id"), ("image", "tag"), ("image",), ("spec_digest",)]


@st.composite
def records(draw) -> object:
    """A sound record with one to three values replaced, or random JSON altogether."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    record = sound_record()
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        value = draw(nasty)
        if not path:
            return value
        node = record
        for key in path[:-1]:
            node = node[key] if isinstance(node, dict) and key in node or (
                isinstance(node, list) and isinstance(key, int) and key < len(node)) else None
            if node is None:
                break
        if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)):
            node[path[-1]] = value
    return record


def write_notebook(path: Path, record: object = None) -> bytes:
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import six\n"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python", "version": "3.11.2"}}}
    if record is not None:
        nb["metadata"]["envkit"] = record
    data = json.dumps(nb, indent=1).encode()
    path.write_bytes(data)
    return data


def cli(*args: str | Path) -> tuple[int, str, str]:
    """``envkit ARGS`` in this process, as a user runs it (no debug switch, no engine)."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {"ENVKIT_DEBUG": "", "DOCKER_HOST": DEAD_ENGINE}), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch("sys.stdin", io.StringIO("")):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def assert_one_clear_line(code: int, err: str, *, naming: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith("envkit: ") and naming in lines[0], err
    assert all(line.startswith("  hint: ") for line in lines[1:]), err  # the message, then its hint


def instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's logical instructions (continuations joined, comments dropped)."""
    out, current = [], None
    for line in dockerfile.split("\n"):
        if line.lstrip().startswith("#") or (current is None and not line.strip()):
            continue
        current = (current or "") + line
        if line.endswith("\\"):
            current = current[:-1]
            continue
        out.append(current)
        current = None
    assert current is None, "a continuation runs off the end"
    return out


def keywords(dockerfile: str) -> list[str]:
    return [i.split(None, 1)[0] for i in instructions(dockerfile)]


def assert_no_injection(dockerfile: str, files: dict[str, bytes], spec: EnvSpec, options: BuildOptions) -> None:
    """Exactly the instructions envkit's template emits, and a requirements file of requirements only."""
    reference = render_context(EnvSpec(python="3.11", system_packages=("git",) if spec.system_packages else ()),
                               None, options, pip=PipSettings()).dockerfile
    assert keywords(dockerfile) == keywords(reference)
    assert instructions(dockerfile)[0] == f"FROM {base_image_for(spec, options)}"
    for line in files["layer/requirements.txt"].decode().replace("\\\n", " ").splitlines():
        words = [w for w in line.split() if not w.startswith("--hash=sha256:")] if "--hash=" in line else [line]
        requirement = " ".join(words)
        assert not requirement.startswith("-") and "\n" not in requirement
        PEP508(requirement)


def check_notebook(folder: Path, name: str, record: object, base_image: str) -> None:
    nb = folder / name
    before = write_notebook(nb, record)
    try:
        meta = read_notebook(nb).envkit()
        damage = None
    except NotebookError as exc:
        meta, damage = None, exc

    # `envkit dockerfile`: a damaged record is refused before the engine is asked anything.
    if damage is not None:
        code, _, err = cli("dockerfile", nb, "--base-image", base_image)
        assert_one_clear_line(code, err, naming="metadata")
        assert "engine" not in err.lower()
    else:  # a sound record renders (the CLI would ask the engine for a reusable image first)
        spec = meta.spec if meta is not None and meta.spec is not None else EnvSpec(python="3.11")
        options = BuildOptions(base_image=base_image)
        try:
            context = render_context(spec, meta.lock if meta else None, options, notebook=notebook_label(nb),
                                     pip=PipSettings())
        except UsageError as exc:  # only the option can still be refused: the record was checked
            assert str(exc).startswith("base_image: ") and "\n" not in exc.message
        else:
            assert_no_injection(context.dockerfile, context.files, spec, options)
    assert nb.read_bytes() == before

    # `envkit capture` shows, never writes; `capture --write` repairs.
    code, _, err = cli("capture", nb)
    assert code == 0, err
    assert nb.read_bytes() == before
    code, out, err = cli("capture", "--write", nb)
    assert code == 0, err
    repaired = read_notebook(nb)
    assert repaired.envkit() is not None and repaired.envkit().spec.requirement("six") is not None
    assert repaired.raw["cells"] == json.loads(before)["cells"]
    assert {k: v for k, v in repaired.metadata.items() if k != "envkit"} == \
        {k: v for k, v in json.loads(before)["metadata"].items() if k != "envkit"}
    if damage is not None:
        assert "replacing its damaged metadata.envkit" in out


bases = st.sampled_from(["envkit-test-base:bookworm", "python:3.11-slim", "localhost:5000/a/b@sha256:" + "d" * 64]) \
    | st.sampled_from(PAYLOADS[:8])


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records(), base_image=bases)
def test_fuzzed_metadata_is_refused_in_one_line_or_renders_clean(record, base_image):
    with tempfile.TemporaryDirectory() as folder:
        check_notebook(Path(folder), "nb.ipynb", record, base_image)


names = st.sampled_from(["n\nFROM alpine\nRUN touch PWNED\n#", "a\rRUN x", "é\u2028FROM x", "$(id)", "`id`",
                         "x; y", "--index-url x", "a\\", "\u202egnp", "LABEL a=b"]) \
    | st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stem=names, damaged=st.booleans())
def test_hostile_file_names_stay_out_of_dockerfile_text(stem, damaged):
    name = stem + ".ipynb"
    if stem in {".", ".."} or len(name.encode()) > 250:
        return
    with tempfile.TemporaryDirectory() as folder:
        nb = Path(folder) / name
        check_notebook(Path(folder), name, ["damaged"] if damaged else None, "envkit-test-base:bookworm")
        meta = read_notebook(nb).envkit()
        options = BuildOptions(base_image="envkit-test-base:bookworm")
        context = render_context(meta.spec, None, options, notebook=notebook_label(nb), pip=PipSettings())
        assert_no_injection(context.dockerfile, context.files, meta.spec, options)
        header = context.dockerfile.split("\n")[0]
        assert header.startswith("# Generated by envkit ") and header.endswith("re-render with `envkit dockerfile`.")


def test_a_spec_built_in_code_cannot_inject_either():
    options = BuildOptions(base_image="python:3.11-slim\nRUN touch /PWNED_BASE")
    with pytest.raises(UsageError, match="^base_image: "):
        render_context(EnvSpec(python="3.11"), None, options, pip=PipSettings())
    with pytest.raises(EnvkitError):
        EnvSpec(python="3.11", system_packages=("git\nRUN id",))


# ---- the real command, in a subprocess ------------------------------------------------------

def envkit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envkit", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "ENVKIT_DEBUG": "", "DOCKER_HOST": DEAD_ENGINE})


@pytest.mark.parametrize(("record", "field"), [
    ([1, 2], "metadata.envkit: expected an object, found a list"),
    ("x", "metadata.envkit: expected an object, found a string"),
    ({"schema": 1, "spec": {"python": "3.11", "base_image": "python:3.11-slim\nRUN touch /PWNED_BASE"}},
     "metadata.envkit.spec.base_image: "),
    ({"schema": 1, "spec": {"python": "3.11", "requirements": [
        {"name": "six"}, {"name": "a"}, {"name": "b"}, {"name": "x", "specifier": ">=1\n--index-url http://h.invalid"}]}},
     "metadata.envkit.spec.requirements[3].specifier: "),
    ({"schema": 1, "spec": {"python": "3.11\nRUN id"}}, "metadata.envkit.spec.python: "),
    ({"schema": 1, "spec": {"python": "3.11", "system_packages": ["git;touch /x"]}},
     "metadata.envkit.spec.system_packages[0]: "),
    ({"schema": 1, "spec": {"python": "3.11"}, "lock": {"spec_digest": "sha256:" + "0" * 64, "python": "3.11.2",
                                                        "packages": [{"name": "six", "version": "1.0\n-e ."}]}},
     "metadata.envkit.lock.packages[0].version: "),
])
def test_damaged_record_through_the_command(tmp_path, record, field):
    nb = tmp_path / "nb.ipynb"
    before = write_notebook(nb, record)
    proc = envkit("dockerfile", nb, "--base-image", "envkit-test-base:bookworm")
    assert_one_clear_line(proc.returncode, proc.stderr, naming=f"{nb}: {field}")
    assert f"hint: run 'envkit capture --write {nb}'" in proc.stderr
    assert nb.read_bytes() == before
    proc = envkit("capture", "--write", nb)
    assert proc.returncode == 0, proc.stderr
    assert f"replacing its damaged metadata.envkit ({field}" in proc.stdout
    assert read_notebook(nb).envkit().spec.requirement("six") is not None


@pytest.mark.skip(reason="enable after the merge: 'envkit dockerfile' asks the engine for a reusable image today")
def test_dockerfile_needs_no_engine(tmp_path):
    nb = tmp_path / "n\nFROM alpine\nRUN touch PWNED\n#.ipynb"
    write_notebook(nb, None)
    proc = envkit("dockerfile", nb, "--base-image", "envkit-test-base:bookworm")
    assert proc.returncode == 0, proc.stderr
    assert keywords(proc.stdout) == keywords(render_context(EnvSpec(python="3.11"), None, BuildOptions(),
                                                            pip=PipSettings()).dockerfile)


@pytest.mark.parametrize(("user", "base"), [("envkit\nRUN touch /PWNED", "sha256:" + "e" * 64),
                                            ("1000:100", "sha256:" + "e" * 64 + "\nRUN touch /PWNED"),
                                            ("$(id)", "sha256:" + "e" * 64)])
def test_jupyterlab_layer_refuses_what_an_image_config_could_inject(user, base):
    from envkit.launch import lab_dockerfile

    with pytest.raises(UsageError, match="^(user|base_image): "):
        lab_dockerfile(base, user)


def test_jupyterlab_layer_renders_through_the_filters():
    from envkit.launch import lab_dockerfile

    text, _ = lab_dockerfile("sha256:" + "e" * 64, "1000:100")
    assert keywords(text)[:2] == ["FROM", "USER"] and keywords(text).count("FROM") == 1
    assert "USER 1000:100" in text
