"""Every container dies with its owner, is found again instead of duplicated, is cleaned by gc, and is never root.

The launch tests start ``envkit launch`` as a real subprocess, signal it, and watch the engine.
"""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import TEST_RUN
from support.build import env_image  # noqa: F401
from support.kernels import wait_until
from support.share_image import lab_env, notebook_for  # noqa: F401

from envkit.engine import containers
from envkit.labels import LABEL_NOTEBOOK, LABEL_OWNER, LABEL_TEST_RUN, base_labels
from envkit.ownership import owner

pytestmark = [pytest.mark.docker]
RUN = TEST_RUN
IS_ROOT = hasattr(os, "getuid") and os.getuid() == 0


def _labs(engine, nb: Path) -> list:
    """This run's containers (any state) for notebook ``nb``."""
    return engine.containers.list(all=True, filters={"label": [f"{LABEL_NOTEBOOK}={nb.resolve()}",
                                                                f"{LABEL_TEST_RUN}={RUN}"]})


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _launch(nb: Path) -> tuple[subprocess.Popen, str]:
    """``envkit launch NB --no-browser`` in a subprocess, once it printed the server's URL."""
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "launch", str(nb), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "http://127.0.0.1:" in line:
            return proc, line.split(": ", 1)[1].strip()
    proc.kill()
    raise AssertionError(f"envkit launch printed no URL: {proc.stderr.read()}")


@pytest.fixture
def notebook(lab_env, tmp_path) -> Path:
    return notebook_for(lab_env, tmp_path / "owned", name="owned.ipynb")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=["TERM", "HUP", "KILL"])
def test_the_lab_is_gone_within_30_s_of_its_owner(engine, notebook, signum):
    proc, url = _launch(notebook)
    try:
        [container] = _labs(engine, notebook)
        assert container.labels[LABEL_OWNER] == f"{socket.gethostname()}:{proc.pid}"
        assert _answers(url)
        proc.send_signal(signum)
        proc.wait(timeout=60)
        assert wait_until(lambda: not _labs(engine, notebook), timeout=30)
        assert not _answers(url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_second_launch_finds_the_running_server(engine, notebook):
    proc, url = _launch(notebook)
    try:
        second = subprocess.run([sys.executable, "-m", "envkit", "launch", str(notebook), "--no-browser"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout and url in second.stdout
        assert len(_labs(engine, notebook)) == 1  # no second server
        assert _answers(url)  # and the second process leaving did not stop the first's
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert wait_until(lambda: not _labs(engine, notebook), timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_run_dies_with_its_owner(engine, lab_env, tmp_path):
    """``envkit run``'s kernel container has the same switch: SIGKILL the run mid-cell."""
    from support.build import tiny_notebook

    nb = tiny_notebook(tmp_path / "slow.ipynb", cells=("import time\ntime.sleep(600)",))
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "run", str(nb), "--image", lab_env.image_id],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kernels() -> list:
        return [c for c in engine.containers.list(all=True, filters={"label": [f"{LABEL_TEST_RUN}={RUN}",
                                                                                "dev.envkit.kind=kernel"]})
                if c.labels.get(LABEL_OWNER) == f"{socket.gethostname()}:{proc.pid}"]

    try:
        assert wait_until(lambda: any(c.status == "running" for c in kernels()), timeout=180)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert wait_until(lambda: not kernels(), timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gc_removes_stopped_and_orphaned_containers_only(engine, lab_env, capsys):
    from envkit.cli import main
    from envkit.orphans import remove_stale_containers

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    labels = base_labels("kernel")
    made = []

    def container(command: list[str], owner_label: str | None) -> str:
        tags = {**labels, **({LABEL_OWNER: owner_label} if owner_label else {})}
        cid = containers.create(lab_env.image_id, command, labels=tags, host_config={"network_mode": "none"})
        made.append(cid)
        containers.start(cid)
        return cid

    try:
        orphan = container(["sleep", "300"], f"{socket.gethostname()}:{dead.pid}")
        stopped = container(["true"], None)
        mine = container(["sleep", "300"], owner())
        elsewhere = container(["sleep", "300"], "another-host:1")
        assert wait_until(lambda: not containers.inspect(stopped).running, timeout=30)

        assert main(["gc", "--dry-run", "--min-age", "0"]) == 0
        listed = capsys.readouterr().out
        assert orphan[:12] in listed or engine.containers.get(orphan).name in listed
        assert containers.inspect(orphan) is not None  # a dry run removes nothing

        removed = {c.id: c.reason for c in remove_stale_containers(min_age=0, labels={LABEL_TEST_RUN: RUN})}
        assert orphan in removed and "owner" in removed[orphan]
        assert stopped in removed
        assert mine not in removed and elsewhere not in removed
        assert containers.inspect(orphan) is None and containers.inspect(stopped) is None
        assert containers.inspect(mine).running and containers.inspect(elsewhere).running
    finally:
        for cid in made:
            containers.remove(cid)


@pytest.mark.skipif(not IS_ROOT, reason="what a root caller gets")
def test_a_root_callers_kernel_runs_as_the_images_user_with_limits(engine, lab_env, tmp_path):
    from support.kernels import kernel_containers

    from envkit.kernels.kernelspec import kernel_manager
    from envkit.kernels.options import KernelOptions
    from envkit.privileges import DEFAULT_PIDS_LIMIT

    folder = tmp_path / "root-owned"
    folder.mkdir(mode=0o755)  # root's, readable by all: the kernel can work there, not save
    for options, pids in ((KernelOptions(image=lab_env.image_id), DEFAULT_PIDS_LIMIT),
                          (KernelOptions(image=lab_env.image_id, pids_limit=20000, mem_limit="3g"), 20000)):
        km = kernel_manager(options, asynchronous=False)
        km.start_kernel(cwd=str(folder))
        try:
            [container] = kernel_containers(engine, km.kernel_id)
            assert container.exec_run(["id", "-u"]).output.decode().strip() == "1000"
            host = container.attrs["HostConfig"]
            assert host["PidsLimit"] == pids and host["Memory"] > 0
            if options.mem_limit:
                assert host["Memory"] == 3 << 30
        finally:
            km.shutdown_kernel(now=True)


@pytest.mark.skipif(not IS_ROOT, reason="what a root caller gets")
def test_a_root_owned_closed_folder_is_refused_in_one_line(engine, lab_env, tmp_path, capsys):
    from envkit.cli import main
    from envkit.errors import KernelError
    from envkit.kernels.kernelspec import kernel_manager
    from envkit.kernels.options import KernelOptions

    folder = tmp_path / "closed"
    folder.mkdir(mode=0o700)
    nb = notebook_for(lab_env, folder, name="closed.ipynb")
    assert main(["launch", str(nb), "--no-browser"]) == 1
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if line.startswith("envkit:")]  # after the progress lines
    assert "Traceback" not in err and "cannot enter" in line and str(folder) in line and "--user root" in err
    assert not _labs(engine, nb)
    km = kernel_manager(KernelOptions(image=lab_env.image_id), asynchronous=False)
    with pytest.raises(KernelError) as caught:
        km.start_kernel(cwd=str(folder))
    assert "cannot enter" in caught.value.message and "user=root" in caught.value.hint
