"""Engine faults (issue 10, item 5): the engine killed mid-build and mid-run, on an engine of the test's own.

A private dockerd (the ``second_engine`` fixture, ``support.second_engine``) gets the test base image and the session's tiny
environment image (``docker save | docker load``); envkit's CLI runs against it through
``DOCKER_HOST``. The daemon is SIGKILLed in the middle of a ``RUN`` step and in the middle of a
sleeping cell: each time the CLI must end with one line naming the engine and the step, a
non-zero status, and the notebook unchanged; once the daemon is back, nothing of envkit's is
left on it (the builder container is removed by ``envkit gc`` or by the next build) and the
next build works. Builds in that engine have no network: they only ``RUN sleep`` (through a
user template folder, ``ENVKIT_TEMPLATES``) or ``echo``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import build as support_build

pytestmark = pytest.mark.docker

env_image = support_build.env_image

BASE = "envkit-test-base:bookworm"
SLOW_TEMPLATE = f"FROM {BASE}\nRUN echo building && sleep 300\n"
GONE = re.compile(r"^envkit: the container engine at unix:///\S+ stopped answering during (.+)$")
# How long the CLI may take to give up once the engine is gone; it hung for ever before.
GIVE_UP = 60


@pytest.fixture(scope="module")
def private(second_engine, base_image, env_image):
    return second_engine("faults", images=(BASE, env_image.image.tag))


def _env(pe, tmp_path: Path, **extra: str) -> dict[str, str]:
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    return {**os.environ, "DOCKER_HOST": pe.url, "XDG_CACHE_HOME": str(cache), "ENVKIT_DEBUG": "", **extra}


@contextlib.contextmanager
def _pointed_at(pe, env: dict[str, str]):
    """This process's envkit on the private engine, with the CLI's cache folder."""
    from envkit import engine as envkit_engine

    old = {k: os.environ.get(k) for k in ("DOCKER_HOST", "XDG_CACHE_HOME")}
    os.environ.update(DOCKER_HOST=pe.url, XDG_CACHE_HOME=env["XDG_CACHE_HOME"])
    envkit_engine.reset()
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        envkit_engine.reset()


def _envkit(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "envkit", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(check, timeout: float, what: str, proc: subprocess.Popen[str] | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"envkit ended ({proc.returncode}) before {what}:\n{out[-2000:]}\n{err[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


def _one_line_after_kill(proc: subprocess.Popen[str], pe) -> tuple[str, float, int]:
    """Kill the engine; the CLI's error line, the seconds it took to give up, its exit status."""
    pe.kill()
    killed = time.monotonic()
    try:
        _, err = proc.communicate(timeout=GIVE_UP)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"envkit still waited {GIVE_UP} s after the engine died:\n{err[-3000:]}") from None
    took = time.monotonic() - killed
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("envkit:") or line.startswith("  hint:")]
    assert len(errors) == 1, err
    return errors[0], took, proc.returncode


def test_engine_killed_mid_build_is_one_line_leaves_no_container_and_the_next_build_works(private, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "Dockerfile.j2").write_text(SLOW_TEMPLATE)
    folder = tmp_path / "project"
    folder.mkdir()
    nb = support_build.tiny_notebook(folder / support_build.run_notebook("faults"), cells=("import idna",))
    before = nb.read_bytes()
    env = _env(private, tmp_path, ENVKIT_TEMPLATES=str(templates))

    proc = _envkit("build", str(nb), "--base-image", BASE, "--no-lock", env=env)
    _wait_for(lambda: any(" Up " in c for c in private.containers()), 180, "the build's RUN step running", proc)
    line, took, status = _one_line_after_kill(proc, private)
    match = GONE.match(line)
    assert match, line
    assert "RUN echo building && sleep 300" in match.group(1), line
    assert status != 0
    print(f"engine killed mid-build: envkit gave up after {took:.1f} s")
    assert nb.read_bytes() == before

    private.start()
    left = private.containers()
    assert left, "the interrupted build's container should be on the restarted engine, for gc to remove"
    gc = subprocess.run([sys.executable, "-m", "envkit", "gc", "--min-age", "0"], env=env, text=True,
                        capture_output=True, timeout=120)
    assert gc.returncode == 0, gc.stderr
    assert "its build was dropped when the engine went away" in gc.stdout, gc.stdout
    assert private.containers() == []

    # The next build works on the same engine (in this process, pointed at it).
    with _pointed_at(private, env):
        from envkit.build.forwarding import build_dockerfile

        image_id = build_dockerfile(f"FROM {BASE}\nRUN echo again > /again\n", {}, tag="", labels={})
    assert private.docker("image", "inspect", image_id).returncode == 0
    assert private.containers() == []


def test_the_next_build_removes_the_container_a_dropped_build_left(private, tmp_path):
    from envkit.build.forwarding import build_dockerfile

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "Dockerfile.j2").write_text(SLOW_TEMPLATE.replace("sleep 300", "sleep 301"))
    folder = tmp_path / "project"
    folder.mkdir()
    nb = support_build.tiny_notebook(folder / support_build.run_notebook("faults2"), cells=("import idna",))
    env = _env(private, tmp_path, ENVKIT_TEMPLATES=str(templates))
    proc = _envkit("build", str(nb), "--base-image", BASE, "--no-lock", env=env)
    _wait_for(lambda: any(" Up " in c for c in private.containers()), 180, "the build's RUN step running", proc)
    line, _, status = _one_line_after_kill(proc, private)
    assert GONE.match(line) and status != 0, line
    private.start()
    assert private.containers()

    with _pointed_at(private, env):  # and the same cache folder, where the dropped build is noted
        build_dockerfile(f"FROM {BASE}\nRUN echo next > /next\n", {}, tag="", labels={})
    assert private.containers() == []


def test_engine_killed_mid_run_is_one_line_not_a_hang(private, env_image, tmp_path):
    import nbformat

    folder = tmp_path / "project"
    folder.mkdir()
    if os.geteuid() == 0:  # a project folder of the image's user, as tmp_path itself (conftest)
        os.chown(folder, 1000, 1000)
    nb = folder / support_build.run_notebook("sleeper")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ready')"),
                                                   nbformat.v4.new_code_cell("import pathlib, time\n"
                                                                             "pathlib.Path('sleeping').touch()\n"
                                                                             "time.sleep(300)")]),
                   str(nb))
    before = nb.read_bytes()
    env = _env(private, tmp_path)
    proc = _envkit("run", str(nb), "--image", env_image.image.tag, "--timeout", "600", env=env)
    # The second cell says it runs (the folder is mounted): a fixed sleep was too short under load.
    _wait_for(lambda: (folder / "sleeping").exists(), 300, "the second cell running", proc)
    line, took, status = _one_line_after_kill(proc, private)
    match = GONE.match(line)
    assert match, line
    assert match.group(1) == f"cell 2 of {nb}", line
    assert status != 0
    print(f"engine killed mid-run: envkit gave up after {took:.1f} s")
    assert nb.read_bytes() == before

    private.start()
    subprocess.run([sys.executable, "-m", "envkit", "gc", "--min-age", "0"], env=env, capture_output=True,
                   timeout=120, check=True)
    assert private.containers() == []
