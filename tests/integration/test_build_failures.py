"""Failed and interrupted builds: the message, no containers left, earlier tags untouched."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import uuid

import docker
import pytest
from support import TEST_RUN
from support import build as support_build
from support.build import committed_layers, remove_failed_layers, run_tag, tiny_spec

from envkit.build import BuildOptions, build_spec
from envkit.engine.images import remove_image, tag_image
from envkit.errors import BuildFailed
from envkit.events import Log, Step
from envkit.labels import LABEL_TEST_RUN

pytestmark = pytest.mark.docker
env_image = support_build.env_image  # the session's shared image (a fixture)


def log_line(event: Log | Step) -> str:
    """The build log's line for ``event`` (a step's header comes as a Step event)."""
    return event.line if isinstance(event, Log) else f"Step {event.n}/{event.total} : {event.text}"


def build_containers(lines: list[str]) -> set[str]:
    return {line.split()[-1] for line in lines if line.startswith(" ---> Running in ")}


@pytest.mark.parametrize(("requirement", "package"), [
    ("envkit-no-such-distribution-4f1c", "envkit-no-such-distribution-4f1c"),
    ("six==99.0.1", "six"),
])
def test_failed_build_names_step_and_package(engine, env_image, base_image, requirement, package):
    tag = run_tag("failing-build")
    tag_image(env_image.image.id, tag)  # the "previous image" this failure must not move
    lines: list[str] = []
    try:
        with pytest.raises(BuildFailed) as failed:
            build_spec(tiny_spec("six", requirement), options=BuildOptions(base_image=base_image, tag=tag),
                       notebook="failing.ipynb",
                       progress=lambda e: lines.append(log_line(e)) if isinstance(e, (Log, Step)) else None)
        error = failed.value
        assert error.package == package
        assert error.step and "RUN uv pip compile" in error.step
        assert error.log_tail and any(package in line for line in error.log_tail)
        assert "Removing intermediate" not in "\n".join(error.log_tail)
        assert engine.images.get(tag).id == env_image.image.id
        # The builder's containers are gone (forcerm), and nothing carries this run's label.
        assert build_containers(lines)
        for cid in build_containers(lines):
            with pytest.raises(docker.errors.NotFound):
                engine.containers.get(cid)
        run = f"{LABEL_TEST_RUN}={TEST_RUN}"
        assert engine.containers.list(all=True, filters={"label": run}) == []
    finally:
        remove_image(tag)
        # The layers of the steps that finished before the failure are this test's leftovers.
        assert remove_failed_layers(lines) == []
    for layer in committed_layers(lines):
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get(layer)


INTERRUPTED = textwrap.dedent("""
    import signal
    import sys
    # Ctrl-C as in a terminal: a shell that starts the suite in the background (no job control)
    # makes its children ignore SIGINT, and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from envkit.build import build_dockerfile
    from envkit.events import Log
    from envkit.errors import Interrupted
    def progress(event):
        if isinstance(event, Log):
            print(event.line, flush=True)
    try:
        build_dockerfile("FROM %s\\nRUN echo envkit-sleeping %s && sleep 300\\n", {}, tag="", labels={},
                         progress=progress)
    except Interrupted as exc:
        print("INTERRUPTED", exc, flush=True)
        sys.exit(130)
""")


def test_ctrl_c_stops_the_build_and_removes_its_container(engine, base_image):
    # A step of its own: a cached one (a build that finished after its caller died) would not run.
    script = INTERRUPTED % (base_image, uuid.uuid4().hex)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    container = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(" ---> Running in "):
            container = line.split()[-1]
        if "envkit-sleeping" in line:
            break
    assert container, "the build never reached its RUN step"
    engine.containers.get(container)  # running now
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 130
    assert "INTERRUPTED" in rest and "nothing was tagged" in rest
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(container)


def test_missing_base_image_is_named(engine):
    with pytest.raises(BuildFailed) as failed:
        build_spec(tiny_spec(), options=BuildOptions(base_image="envkit-no-such-base:0"), notebook="nobase.ipynb")
    assert failed.value.step and "FROM envkit-no-such-base:0" in failed.value.step
    assert "envkit-no-such-base:0" in (failed.value.hint or "")


def test_unreachable_index_is_a_network_error_not_a_package(engine, base_image, monkeypatch):
    # Inside the build's container nothing listens on its own 127.0.0.1:9: every request is refused.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    with pytest.raises(BuildFailed) as failed:
        build_spec(tiny_spec("six", "typing-extensions"), options=BuildOptions(base_image=base_image),
                   notebook="unreachable-index.ipynb")
    error = failed.value
    assert error.package is None and "package at fault" not in str(error)
    assert "a network error reaching the package index http://127.0.0.1:9" in error.message, str(error)
    # The index settings come before the installer: bootstrapping uv from the index fails first (pip's words).
    assert error.step and " : RUN " in error.step
    run = f"{LABEL_TEST_RUN}={TEST_RUN}"
    assert engine.containers.list(all=True, filters={"label": run}) == []


def test_engine_architecture_is_the_engines(engine):
    from envkit.engine.system import engine_machine

    arch = engine.info()["Architecture"]
    assert engine_machine() == {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
