"""envkit's JupyterLab extension in a real JupyterLab (on the host) driven by a real browser.

The extension comes from the install the README's set-up command made (``pip install -e``
builds it with hatch-jupyter-builder into share/jupyter/labextensions). A user opens a
notebook, types and runs a cell they never save, loads envkit, writes its record, and saves:
no "File Changed" dialog at any point, the record is in the saved file, every typed cell too.
"""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import system
from support.browser import screenshot
from support.notebooks import make_notebook

BIN = Path(sys.executable).parent
EXTENSION = "@envkit/jupyterlab"
# The code cells of the notebook on show (a restored workspace may hold other, hidden ones).
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell"


def test_jupyter_labextension_list_shows_envkit_enabled():
    proc = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})
    listing = proc.stdout + proc.stderr
    line = next((ln for ln in listing.splitlines() if EXTENSION in ln), "")
    assert line, listing
    assert "enabled" in line and "OK" in line and "(python, envkit)" in line, line
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / EXTENSION
    assert json.loads((installed / "package.json").read_text())["jupyterlab"]["extension"] is True
    assert list((installed / "static").glob("remoteEntry.*.js"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, root: Path, port: int, token: str, proc: subprocess.Popen) -> None:
        self.root, self.port, self.token, self.proc = root, port, token, proc

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"

    def api(self, path: str):  # type: ignore[no-untyped-def]
        with urllib.request.urlopen(self.url(f"api/{path}"), timeout=10) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A real JupyterLab on 127.0.0.1 with its own settings, run from this environment."""
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    port, token = _free_port(), secrets.token_hex(16)
    # The kernels load six 1.16.0, not the newest (a build must pin what the kernel has loaded), and
    # the user's default base image comes from ENVKIT_BASE_IMAGE (no --base-image anywhere).
    old = tmp_path_factory.mktemp("old-six")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(old), "six==1.16.0"],
                   check=True)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(old), os.environ.get("PYTHONPATH", "")) if p),
           "ENVKIT_BASE_IMAGE": system.BASE_IMAGE}
    env.pop("JPY_SESSION_NAME", None)
    log = open(home / "lab.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
         *(["--allow-root"] if os.getuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Lab(root, port, token, proc)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                server.api("status")
                break
            except OSError:
                assert proc.poll() is None, (home / "lab.log").read_text()
                assert time.monotonic() < deadline, (home / "lab.log").read_text()
                time.sleep(0.3)
        yield server
    finally:
        system.stop(proc, timeout=30)
        log.close()


def _wait_idle_kernel(lab: Lab, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    kernels: list = []
    while time.monotonic() < deadline:
        try:
            kernels = lab.api("kernels")
        except urllib.error.HTTPError as exc:
            # jupyter_server answers 500 to a listing while a kernel is still starting
            # ("'last_activity' trait ... expected a datetime, not the NoneType None"): ask again.
            if exc.code != 500:
                raise
            time.sleep(0.3)
            continue
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.3)
    raise AssertionError(f"no idle kernel with a connection after {timeout}s: {kernels}")


def _no_file_changed_dialog(page) -> None:  # type: ignore[no-untyped-def]
    dialogs = page.locator(".jp-Dialog")
    texts = [dialogs.nth(i).inner_text() for i in range(dialogs.count())]
    assert not texts, f"a dialog appeared: {texts}"


def _save_with_ctrl_s(page, path: Path, before: bytes) -> None:  # type: ignore[no-untyped-def]
    """The user's own save (Ctrl+S): the file changes, the editor is clean, no dialog appeared."""
    from playwright.sync_api import expect

    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while path.read_bytes() == before:
        assert time.monotonic() < deadline, "Ctrl+S did not save the notebook"
        time.sleep(0.2)
    expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=30_000)
    _no_file_changed_dialog(page)


def _run(page, code: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``code`` into the active (new, empty) cell and run it with Shift+Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


@pytest.mark.browser
def test_record_goes_into_the_open_notebook_and_the_users_save_keeps_everything(lab, browser_context):
    from playwright.sync_api import expect

    path = make_notebook(lab.root / "analysis.ipynb", ["import json"])
    on_disk = path.read_bytes()
    page = browser_context.new_page()
    try:
        page.goto(lab.url("lab/tree/analysis.ipynb?reset"), wait_until="domcontentloaded")
        cells = page.locator(CELLS)
        expect(cells.first.locator(".cm-content")).to_contain_text("import json", timeout=120_000)
        _wait_idle_kernel(lab)
        cells.first.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")  # the saved cell; a new empty cell opens below
        expect(cells).to_have_count(2, timeout=30_000)
        _run(page, "import requests  # typed, never saved")
        _run(page, "%load_ext envkit")
        expect(cells.nth(2).locator(".jp-InputPrompt")).to_contain_text("[3]", timeout=60_000)
        _run(page, "%envkit capture --write")
        expect(cells.nth(3).locator(".jp-OutputArea")).to_contain_text("wrote the spec", timeout=120_000)
        expect(cells.nth(3).locator(".jp-InputPrompt")).to_contain_text("[4]", timeout=60_000)

        # The record went into the open document, not the file: nothing to conflict with.
        assert path.read_bytes() == on_disk
        _no_file_changed_dialog(page)

        _save_with_ctrl_s(page, path, on_disk)

        # A page reload: envkit stays loaded in the kernel, the extension finds its comm again.
        page.reload(wait_until="domcontentloaded")
        expect(cells.nth(3).locator(".cm-content")).to_contain_text("%envkit capture", timeout=120_000)
        _wait_idle_kernel(lab)
        expect(cells).to_have_count(5)  # the empty cell the first run left at the end was saved too
        cells.nth(4).locator(".cm-content").click()
        _run(page, "import docker  # typed after the reload")
        _run(page, "%envkit capture --write")
        expect(cells.nth(5).locator(".jp-OutputArea")).to_contain_text("into the open notebook", timeout=120_000)
        first_save = path.read_bytes()
        _no_file_changed_dialog(page)
        _save_with_ctrl_s(page, path, first_save)
    finally:
        screenshot(page, "frontend-record-saved")
        page.close()

    saved = json.loads(path.read_text())
    sources = ["".join(c["source"]) for c in saved["cells"]]
    assert sources[:4] == ["import json", "import requests  # typed, never saved", "%load_ext envkit",
                           "%envkit capture --write"]
    assert "import docker  # typed after the reload" in sources
    spec = saved["metadata"]["envkit"]["spec"]
    assert {"requests", "docker"} <= {r["name"] for r in spec["requirements"]}
    assert [p.name for p in lab.root.iterdir() if ".envkit-" in p.name] == []


@pytest.mark.browser
@pytest.mark.docker
def test_build_from_the_browser_records_the_image_in_the_open_notebook(lab, browser_context, base_image):
    """``%envkit build`` on the open notebook (issue 8's scenario): a saved cell loads six at an old
    version, an unsaved typed cell imports attrs, the base image comes from ENVKIT_BASE_IMAGE; the
    record goes into the open document, Ctrl+S saves it with every typed cell, no dialog."""
    from playwright.sync_api import expect

    assert base_image == system.BASE_IMAGE  # the lab's ENVKIT_BASE_IMAGE names this image
    path = make_notebook(lab.root / "built.ipynb", ["import six\nprint(six.__version__)"])
    on_disk = path.read_bytes()
    page = browser_context.new_page()
    try:
        page.goto(lab.url("lab/tree/built.ipynb?reset"), wait_until="domcontentloaded")
        cells = page.locator(CELLS)
        expect(cells.first.locator(".cm-content")).to_contain_text("import six", timeout=120_000)
        _wait_idle_kernel(lab)
        cells.first.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        expect(cells.first.locator(".jp-OutputArea")).to_contain_text("1.16.0", timeout=60_000)
        expect(cells).to_have_count(2, timeout=30_000)
        _run(page, "import attrs  # typed, never saved")
        _run(page, "%load_ext envkit")
        expect(cells.nth(2).locator(".jp-InputPrompt")).to_contain_text("[3]", timeout=60_000)
        _run(page, "%envkit build")
        expect(cells.nth(3).locator(".jp-OutputArea")).to_contain_text("wrote the lock", timeout=600_000)
        assert path.read_bytes() == on_disk
        _no_file_changed_dialog(page)
        _save_with_ctrl_s(page, path, on_disk)
    finally:
        screenshot(page, "frontend-build-saved")
        page.close()

    saved = json.loads(path.read_text())
    sources = ["".join(c["source"]) for c in saved["cells"]]
    assert sources[:4] == ["import six\nprint(six.__version__)", "import attrs  # typed, never saved",
                           "%load_ext envkit", "%envkit build"]
    record = saved["metadata"]["envkit"]
    assert {"six", "attrs"} <= {r["name"] for r in record["spec"]["requirements"]}
    assert record["spec"].get("base_image") == base_image
    pins = {p["name"]: p["version"] for p in record["lock"]["packages"]}
    assert pins["six"] == "1.16.0" and "attrs" in pins  # the kernel's old six, not the newest
    assert record["image"]["id"].startswith("sha256:")
