"""Team hubs for real: JupyterHub + DockerSpawner spawning the notebook's hub image by digest from a
local registry, and a devcontainer's settings applied to the pushed image.

The hub runs here as a subprocess (pip's ``jupyterhub`` with Debian's configurable-http-proxy),
its public proxy on 127.0.0.1, its API on the gateway of a bridge network this test creates (so
the single-user containers on that network reach it), DummyAuthenticator. The test logs in over
HTTP, starts the server, and reads the notebook through the hub's proxy. KubeSpawner has no
cluster here: its pod is built offline in tests/unit/test_hub_export.py.
"""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.build import env_image  # noqa: F401
from support.registry import free_port, registry  # noqa: F401
from support.share_image import lab_env, notebook_for  # noqa: F401

from envkit.commands import build_parser
from envkit.engine import LABEL_TEST_RUN
from envkit.ui import UI

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.registry]

RUN = os.environ.get("ENVKIT_TEST_RUN", "")
PASSWORD = "envkit-hub-test"


class _Printed(UI):
    """The plain UI with progress kept apart from what the command prints (as the terminal's stderr)."""

    @contextmanager
    def progress(self, title: str) -> Iterator:
        yield lambda event: None


def _cli(*argv: str) -> str:
    """Run an envkit subcommand in-process; what it prints."""
    out = io.StringIO()
    args = build_parser().parse_args(list(argv))
    assert args._module.run(args, _Printed(out)) == 0
    return out.getvalue()


def _wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended ({proc.returncode}):\n" + (log.read_text()[-4000:] if log else ""))
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s\n" + (log.read_text()[-4000:] if log else ""))
        time.sleep(0.5)


@pytest.fixture(scope="module")
def hub_notebook(lab_env, registry, tmp_path_factory):
    """A notebook with a local module next to it, its environment image pushed to the registry."""
    folder = tmp_path_factory.mktemp("hub") / "project"
    nb = notebook_for(lab_env, folder, name="answer.ipynb")
    (folder / "helper.py").write_text("ANSWER = 42\n")
    _cli("push", str(nb), "--to", registry.repository(f"envkit-hub-test-{RUN}"))
    return nb


@pytest.fixture(scope="module")
def network(engine):
    """A labelled bridge network for the hub's single-user containers; its gateway is on this host."""
    net = engine.networks.create(f"envkit-hub-test-{RUN}", driver="bridge", labels={LABEL_TEST_RUN: RUN})
    try:
        net.reload()
        gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
        yield net.name, gateway
    finally:
        for c in engine.containers.list(all=True, filters={"label": f"{LABEL_TEST_RUN}={RUN}", "network": net.name}):
            c.remove(force=True)
        net.remove()


def _hub_config(profile: str, *, folder: Path, port: int, hub_ip: str, hub_port: int, network: str) -> str:
    """The exported profile, then this machine's hub settings (what a team's admin would add)."""
    site = {
        "JupyterHub.ip": "127.0.0.1", "JupyterHub.port": port,
        "JupyterHub.hub_ip": hub_ip, "JupyterHub.hub_port": hub_port,
        "JupyterHub.authenticator_class": "dummy", "DummyAuthenticator.password": PASSWORD,
        "Authenticator.allowed_users": {"alice"},
        "JupyterHub.db_url": f"sqlite:///{folder / 'hub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(folder / "cookie_secret"),
        "ConfigurableHTTPProxy.pid_file": str(folder / "proxy.pid"),
        "JupyterHub.cleanup_servers": True,
        "DockerSpawner.network_name": network, "DockerSpawner.use_internal_ip": True,
        "DockerSpawner.name_template": f"envkit-hubtest-{RUN}-{{username}}",
        "DockerSpawner.extra_create_kwargs": {"labels": {LABEL_TEST_RUN: RUN}},
        "Spawner.start_timeout": 300, "Spawner.http_timeout": 180,
    }
    return profile + "\n# this machine's hub\n" + "".join(f"c.{k} = {v!r}\n" for k, v in site.items())


def test_jupyterhub_dockerspawner_serves_the_notebook_from_the_hub_image_by_digest(
        engine, registry, hub_notebook, network, tmp_path):
    requests = pytest.importorskip("requests")
    jupyterhub = Path(sys.executable).with_name("jupyterhub")
    if not jupyterhub.exists() or shutil.which("configurable-http-proxy") is None:
        pytest.skip("needs pip's jupyterhub and dockerspawner, and configurable-http-proxy")
    profile = _cli("export", "jupyterhub", str(hub_notebook), "--spawner", "docker", "--mem-limit", "1g",
                   "--cpus", "1")
    image = next(line.split(" = ", 1)[1] for line in profile.splitlines() if line.startswith("c.DockerSpawner.image"))
    image = json.loads(image.replace("'", '"'))
    assert image.startswith(registry.repository(f"envkit-hub-test-{RUN}") + "@sha256:")
    # The hub must pull it by digest: drop the local copy.
    hub_image = engine.images.get(image)
    assert hub_image.labels["dev.envkit.kind"] == "hub"
    engine.images.remove(hub_image.id, force=True)

    port, hub_port = free_port(), free_port()
    net_name, gateway = network
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(_hub_config(profile, folder=tmp_path, port=port, hub_ip=gateway, hub_port=hub_port,
                                  network=net_name))
    log = tmp_path / "hub.log"
    env = {**os.environ, "PATH": f"{jupyterhub.parent}:{os.environ['PATH']}"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(jupyterhub), "-f", str(config)], cwd=tmp_path, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    try:
        def healthy() -> bool:
            try:
                return session.get(f"{base}/hub/health", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        _wait_until(healthy, 60, "JupyterHub answering", proc, log)
        session.get(f"{base}/hub/login", timeout=10)
        r = session.post(f"{base}/hub/login", data={"username": "alice", "password": PASSWORD,
                                                    "_xsrf": session.cookies.get("_xsrf", "")}, timeout=30)
        assert r.status_code == 200 and "/hub/login" not in r.url, r.url
        xsrf = {"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""}
        r = session.post(f"{base}/hub/api/users/alice/server", headers=xsrf, timeout=60)
        assert r.status_code in (201, 202), r.text

        def ready() -> bool:
            user = session.get(f"{base}/hub/api/users/alice", headers=xsrf, timeout=10).json()
            server = (user.get("servers") or {}).get("", {})
            return bool(server.get("ready"))

        _wait_until(ready, 300, "alice's server ready", proc, log)
        # The single-user server's OAuth with the hub, as a browser does it.
        r = session.get(f"{base}/user/alice/lab", timeout=60)
        assert r.status_code == 200 and r.url.startswith(f"{base}/user/alice/"), (r.status_code, r.url)
        r = session.get(f"{base}/user/alice/api/contents/answer.ipynb", timeout=30)
        assert r.status_code == 200, r.text
        content = r.json()
        assert content["type"] == "notebook"
        sources = ["".join(c["source"]) for c in content["content"]["cells"]]
        assert "print('envkit answer', 6 * 7)" in sources
        listing = session.get(f"{base}/user/alice/api/contents/", timeout=30).json()
        assert {"answer.ipynb", "helper.py"} <= {item["name"] for item in listing["content"]}
        # The server runs in the hub image, pulled by digest, with the profile's limits.
        containers = engine.containers.list(filters={"label": f"{LABEL_TEST_RUN}={RUN}",
                                                     "name": f"envkit-hubtest-{RUN}-alice"})
        assert len(containers) == 1
        attrs = containers[0].attrs
        assert attrs["Config"]["Image"] == image
        assert attrs["HostConfig"]["Memory"] == 1 << 30
        assert attrs["HostConfig"]["CpuQuota"] == attrs["HostConfig"]["CpuPeriod"]
        assert attrs["Config"]["User"] in ("", "envkit")
        # A kernel starts in it, from the notebook's own environment.
        r = session.post(f"{base}/user/alice/api/kernels", json={"name": "python3"},
                         headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/user/alice/") or ""},
                         timeout=60)
        assert r.status_code == 201, r.text
        r = session.delete(f"{base}/hub/api/users/alice/server", headers=xsrf, timeout=60)
        assert r.status_code in (202, 204), r.text
        _wait_until(lambda: not engine.containers.list(all=True, filters={"name": f"envkit-hubtest-{RUN}-alice"}),
                    60, "the server's container removed")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for c in engine.containers.list(all=True, filters={"label": f"{LABEL_TEST_RUN}={RUN}",
                                                           "name": f"envkit-hubtest-{RUN}"}):
            c.remove(force=True)
        for ref in (image,):
            try:
                engine.images.remove(ref, force=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass


# Inside the container: a real kernel (jupyter_client + the image's ipykernel) imports the
# notebook's package and its local module from the workspace folder.
_KERNEL_CHECK = """
import json, os
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="python3", cwd=os.getcwd())
try:
    reply = kc.execute_interactive("import six, helper, os; print(json.dumps([six.__version__, helper.ANSWER, os.getcwd()]))"
                                   .replace("json.dumps", "__import__('json').dumps"), timeout=60,
                                   output_hook=lambda m: m["msg_type"] == "stream" and print(m["content"]["text"], end=""))
    assert reply["content"]["status"] == "ok", reply["content"]
finally:
    kc.stop_channels(); km.shutdown_kernel(now=True)
"""


def _mount(spec: str, variables: dict[str, str]):
    """A docker-py Mount from a devcontainer ``workspaceMount`` string (``source=…,target=…,type=bind``)."""
    from docker.types import Mount

    for name, value in variables.items():
        spec = spec.replace("${" + name + "}", value)
    fields = dict(part.split("=", 1) for part in spec.split(","))
    return Mount(target=fields["target"], source=fields["source"], type=fields.get("type", "bind"))


def test_devcontainer_opens_the_pushed_image_and_its_kernel_imports_the_notebooks_packages(engine, hub_notebook):
    root = hub_notebook.parent.parent
    written = _cli("export", str(hub_notebook), "--devcontainer", str(root / ".devcontainer"))
    assert "devcontainer.json" in written
    config = json.loads((root / ".devcontainer" / "devcontainer.json").read_text())
    from envkit.notebook import read_notebook

    assert config["image"] == read_notebook(hub_notebook).envkit().image.repo_digest
    variables = {"localWorkspaceFolder": str(root), "localWorkspaceFolderBasename": root.name}
    workspace = config["workspaceFolder"].replace("${localWorkspaceFolderBasename}", root.name)
    assert workspace == f"/workspaces/{root.name}/{hub_notebook.parent.name}"
    for folder in (root, hub_notebook.parent):
        folder.chmod(0o755)  # pytest's temporary folders are private; the container user reads them
    container = engine.containers.create(
        config["image"], ["python", "-c", _KERNEL_CHECK], user=config["containerUser"], working_dir=workspace,
        mounts=[_mount(config["workspaceMount"], variables)], init=config["init"], network_mode="none",
        environment={"JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime"}, labels={LABEL_TEST_RUN: RUN})
    try:
        container.start()
        status = container.wait(timeout=120)
        logs = container.logs().decode(errors="replace")
        assert status["StatusCode"] == 0, logs
        version, answer, cwd = json.loads(logs.strip().splitlines()[-1])
        assert version and answer == 42 and cwd == workspace
        assert container.attrs["Config"]["User"] == config["remoteUser"] == "envkit"
    finally:
        container.remove(force=True)
