"""build, reuse, kernels, ``envkit run`` and ``envkit launch`` on Podman's Docker-compatible API.

Rootful, Debian's podman 4.3. The test starts its own ``podman system service``
(tests/support/podman.py: its own storage root, run root and socket, ``containers.conf`` rlimits
within this process's own). The kernel image and the base image are copied from the Docker
engine with ``podman load``; the notebook's image is built by envkit on Podman. A second service
on the same storage, in a mount namespace where catatonit (Podman's init) is hidden, shows the
error for a missing init. In CI as root the test installs podman and catatonit itself; elsewhere
it skips naming them. Everything lives in the service's storage, reset when the module ends.
"""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from support import TEST_RUN
from support import podman as support_podman
from support.build import run_notebook
from support.kernels import kernel_image, standin_kernel_image  # noqa: F401
from support.notebooks import make_notebook

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def podman(engine, kernel_image, base_image):
    """(DOCKER_HOST, image): this test's Podman service, with the kernel and base images in its storage."""
    try:
        with support_podman.podman_service(engine, (kernel_image, base_image)) as host:
            yield host, kernel_image
    except support_podman.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def on_podman(podman, monkeypatch):
    from envkit import engine as envkit_engine

    host, image = podman
    monkeypatch.setenv("DOCKER_HOST", host)
    envkit_engine.reset()
    yield image
    envkit_engine.reset()


def test_podmans_image_names_read_as_dockers(on_podman):
    from envkit.engine.images import inspect_image
    from envkit.engine.system import is_podman

    assert is_podman()
    info = inspect_image(on_podman)
    assert info is not None and on_podman in info.tags  # Podman itself says localhost/…


def test_a_kernel_on_podman_reads_and_writes_the_notebooks_folder(on_podman, tmp_path):
    from envkit.kernels.kernelspec import kernel_manager
    from envkit.kernels.options import KernelOptions

    (tmp_path / "data.txt").write_text("from the client")
    outputs: list[dict] = []
    km = kernel_manager(KernelOptions(image=on_podman), asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive("import os\nprint(open('data.txt').read(), os.environ['HOME'])\n"
                                       "open(os.path.expanduser('~/x'), 'w').write('home is writable')",
                                       timeout=60, output_hook=outputs.append)
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=False)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert "from the client /home/envkit" in text


def test_envkit_run_on_podman(on_podman, tmp_path):
    (tmp_path / "input.txt").write_text("21")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = int(open('input.txt').read())\nprint(n * 2)"),
                nbformat.v4.new_code_cell("open('answer.txt', 'w').write(str(n * 2))")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(tmp_path / "nb.ipynb"), "-o",
                           str(tmp_path / "out.ipynb"), "--image", on_podman], capture_output=True, text=True,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    assert nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"] == "42\n"
    assert (tmp_path / "answer.txt").read_text() == "42"


def _envkit(host: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envkit", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, DOCKER_HOST=host))


def _podman_client(host: str):
    import docker

    return docker.DockerClient(base_url=host, version="1.41", timeout=60)


@pytest.fixture(scope="module")
def built_on_podman(podman, base_image, tmp_path_factory):
    """(notebook, first build's output): a notebook that imports six, built by envkit on Podman."""
    host, _ = podman
    nb = make_notebook(tmp_path_factory.mktemp("podman-build") / run_notebook("podman"),
                       ["import six\nprint('six', six.__version__)"], version="3.11.2")
    done = _envkit(host, "build", str(nb), "--base-image", base_image)
    assert done.returncode == 0, done.stdout + done.stderr
    return nb, done.stdout


def test_an_unchanged_notebook_is_not_rebuilt_on_podman(podman, built_on_podman):
    from envkit.notebook import read_notebook

    host, _ = podman
    nb, first = built_on_podman
    assert "built envkit/podman-" in first
    image = read_notebook(nb).envkit().image
    again = _envkit(host, "build", str(nb))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reused envkit/podman-" in again.stdout and "built " not in again.stdout, again.stdout
    assert read_notebook(nb).envkit().image.id == image.id
    # Podman names it docker.io/envkit/…; envkit's label look-up finds it all the same.
    tagged = _podman_client(host).images.get(image.id).tags
    assert any(t.startswith(f"docker.io/envkit/podman-{TEST_RUN}") and t.endswith(":latest") for t in tagged), tagged
    ran = _envkit(host, "run", str(nb), "-o", str(nb.with_name("out.ipynb")))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "built " not in ran.stdout
    outputs = nbformat.read(nb.with_name("out.ipynb"), as_version=4).cells[0].outputs
    assert outputs[0]["text"].startswith("six ")
    images = _podman_client(host).images.list(filters={"label": f"dev.envkit.notebook={nb}"})
    assert [i.id for i in images] == [image.id]  # one image of this notebook: nothing was built twice


def _get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=10) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _launch_containers(host: str) -> list:
    return _podman_client(host).containers.list(all=True, filters={"label": ["dev.envkit.kind=launch"]})


def test_launch_on_podman_serves_with_its_token_and_leaves_nothing(on_podman, podman, built_on_podman):
    from envkit.launch import start_lab

    host, _ = podman
    nb, _ = built_on_podman
    server = start_lab(nb, timeout=300)
    try:
        root = server.base_url.split("/lab/")[0]
        status, body = _get(f"{root}/api/contents/{nb.name}?token={server.token}")
        assert status == 200 and "import six" in body
        assert _get(f"{root}/api/contents/{nb.name}")[0] == 403
        assert _get(f"{root}/api/contents/{nb.name}?token=wrong")[0] == 403
        container = _podman_client(host).containers.get(server.container_id)
        assert container.labels["dev.envkit.test-run"] == TEST_RUN
        assert container.attrs["HostConfig"]["PortBindings"]["8888/tcp"][0]["HostIp"] == "127.0.0.1"
    finally:
        server.stop()
    assert not _launch_containers(host)


def test_a_killed_launch_on_podman_takes_its_server_with_it(podman, built_on_podman):
    host, _ = podman
    nb, _ = built_on_podman
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "launch", str(nb), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, DOCKER_HOST=host))
    try:
        url = ""
        while not url:
            line = proc.stdout.readline()
            if not line:
                break
            if "http://127.0.0.1:" in line:
                url = line.split(": ", 1)[1].strip()
        assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        assert _get(url)[0] == 200
        assert len(_launch_containers(host)) == 1
        proc.send_signal(signal.SIGKILL)  # no clean-up code runs: the stdin dead-man switch must do it
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        while _launch_containers(host) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _launch_containers(host)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_missing_catatonit_is_named_with_what_to_do(podman, tmp_path):
    host, image = podman
    (tmp_path / "nb.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("print(1)")])))
    try:
        with support_podman.without_init(host) as no_init:
            done = _envkit(no_init, "run", str(tmp_path / "nb.ipynb"), "-o", str(tmp_path / "out.ipynb"),
                           "--image", image)
            left = _podman_client(no_init).containers.list(all=True, filters={"label": "dev.envkit.kind"})
    except support_podman.Unavailable as exc:
        pytest.skip(str(exc))
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line.startswith("envkit:")]
    assert len(said) == 1, done.stderr
    assert "catatonit" in said[0] and "/usr/libexec/podman/catatonit is missing" in said[0], done.stderr
    assert "apt-get install catatonit" in done.stderr
    assert "is not on this engine" not in done.stderr and "Traceback" not in done.stderr
    assert not left and not (tmp_path / "out.ipynb").exists()
