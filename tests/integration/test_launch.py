"""``envkit launch``: JupyterLab in a container, checked in a real browser, and its security."""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import TEST_RUN
from support.browser import screenshot
from support.build import env_image  # noqa: F401
from support.share_image import lab_env, notebook_for  # noqa: F401

from envkit.labels import LABEL_TEST_RUN
from envkit.launch import LABEL_LAB_BASE, start_lab
from envkit.privileges import DEFAULT_PIDS_LIMIT
from envkit.ui import describe_event

pytestmark = [pytest.mark.docker]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _status(url: str) -> tuple[int, str]:
    """HTTP status and Location of ``url``, without following redirects."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _wait_for_connected_idle_kernel(server, timeout: float = 90) -> None:
    """Until the page's kernel (inside the container) is idle with the page's websocket on it."""
    api = server.base_url.split("/lab/")[0] + f"/api/kernels?token={server.token}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(api, timeout=10) as resp:
            kernels = json.loads(resp.read())
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel with a connection after {timeout}s: {kernels}")


@pytest.fixture(scope="module")
def lab(lab_env, tmp_path_factory):
    """One JupyterLab for this module's tests, with the progress events it reported."""
    folder = tmp_path_factory.mktemp("launch")
    nb = notebook_for(lab_env, folder, name="answer.ipynb")
    events: list = []
    server = start_lab(nb, progress=events.append)
    try:
        yield server, events
    finally:
        server.stop()


@pytest.mark.browser
def test_notebook_renders_and_runs_in_a_real_browser(lab, browser_context, engine):
    from playwright.sync_api import expect

    server, _ = lab
    page = browser_context.new_page()
    try:
        page.goto(server.url, wait_until="domcontentloaded")
        cell = page.locator(".jp-Notebook .jp-CodeCell").first
        expect(cell.locator(".cm-content")).to_contain_text("print('envkit answer', 6 * 7)", timeout=60_000)
        _wait_for_connected_idle_kernel(server)
        cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        output = cell.locator(".jp-OutputArea-output")
        expect(output).to_have_text("envkit answer 42", timeout=60_000)
    finally:
        shot = screenshot(page, "launch-notebook")  # also when it failed: look at what was shown
        page.close()
    assert shot.stat().st_size > 10_000


def test_without_the_token_the_server_refuses(lab):
    server, _ = lab
    status, location = _status(server.base_url)
    assert status in (302, 303) and "/login" in location
    api = server.base_url.split("/lab/")[0] + "/api/contents"
    assert _status(api)[0] == 403
    assert _status(f"{api}?token=wrong")[0] == 403
    assert _status(f"{api}?token={server.token}")[0] == 200


def test_the_token_is_in_no_image_label_or_log(lab, engine):
    server, events = lab
    container = engine.containers.get(server.container_id)
    image = engine.images.get(server.image_id)
    assert server.token not in json.dumps(image.attrs)
    assert server.token not in json.dumps([h for h in image.history()])
    assert server.token not in json.dumps(container.labels)
    assert all(server.token not in describe_event(e) for e in events)
    assert server.token not in repr(server)
    # Bound to loopback only, as the caller's uid, labelled for this test run.
    bindings = container.attrs["HostConfig"]["PortBindings"]["8888/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(server.port)}]
    # Never root, even for a root caller (then the folder's owner or the image's user), with limits.
    uid = int(container.exec_run(["id", "-u"]).output.decode().strip())
    assert uid != 0 and container.attrs["Config"]["User"].split(":")[0] == str(uid)
    if os.getuid() != 0:
        assert container.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    assert "--allow-root" not in container.attrs["Args"]
    host_config = container.attrs["HostConfig"]
    assert host_config["PidsLimit"] == DEFAULT_PIDS_LIMIT and host_config["Memory"] > 0
    assert container.labels[LABEL_TEST_RUN] == TEST_RUN


def _sibling(server, name: str) -> Path:
    """Another notebook beside the module's (one server per notebook: the same one is found, not started)."""
    other = server.notebook.with_name(name)
    other.write_bytes(server.notebook.read_bytes())
    return other


def test_the_jupyterlab_layer_is_reused(lab, lab_env, engine):
    server, _ = lab
    events: list = []
    again = start_lab(_sibling(server, "again.ipynb"), progress=events.append)
    try:
        assert again.started and again.image_id == server.image_id and again.port != server.port
        assert any("reusing the JupyterLab image" in describe_event(e) for e in events)
        assert engine.images.get(again.image_id).labels[LABEL_LAB_BASE] == lab_env.image_id
    finally:
        again.stop()
    assert not engine.containers.list(all=True, filters={"id": again.container_id})


def test_copy_bakes_the_folder_into_a_throwaway_image(lab, engine):
    server, _ = lab
    copied = start_lab(_sibling(server, "copied.ipynb"), copy=True)
    try:
        assert copied.image_id != server.image_id
        contents = copied.base_url.split("/lab/")[0] + f"/api/contents/answer.ipynb?token={copied.token}"
        with urllib.request.urlopen(contents, timeout=10) as resp:
            assert "envkit answer" in resp.read().decode()
        mounts = engine.containers.get(copied.container_id).attrs["Mounts"]
        assert mounts == []
    finally:
        copied.stop()
    import docker

    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(copied.image_id)


def test_cli_prints_the_url_and_ctrl_c_removes_the_container(lab, engine):
    server, _ = lab
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "launch", str(_sibling(server, "cli.ipynb")),
                             "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = ""
        deadline = time.monotonic() + 180
        while not url and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "http://127.0.0.1:" in line:
                url = line.split(": ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and "/lab/tree/cli.ipynb?token=" in url
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
        running = engine.containers.list(filters={"label": f"{LABEL_TEST_RUN}={TEST_RUN}",
                                                  "ancestor": server.image_id})
        ours = [c for c in running if c.id != server.container_id]
        assert len(ours) == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert not engine.containers.list(all=True, filters={"id": ours[0].id})
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert url.split("token=")[1] not in err


def test_a_missing_notebook_is_named(tmp_path):
    from envkit.errors import EnvkitError

    with pytest.raises(EnvkitError) as caught:
        start_lab(Path(tmp_path / "nope.ipynb"))
    assert "nope.ipynb" in str(caught.value)
