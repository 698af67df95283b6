"""Team hubs for real: JupyterHub + DockerSpawner spawning the notebook's hub image by digest from a
local registry, and a devcontainer's settings applied to the pushed image.

The hub runs here as a subprocess (pip's ``jupyterhub`` with Debian's configurable-http-proxy),
its public proxy on 127.0.0.1, its API on the gateway of a bridge network this test creates (so
the single-user containers on that network reach it), SharedPasswordAuthenticator. The test logs in over
HTTP, starts the server, and reads the notebook through the hub's proxy. KubeSpawner has no
cluster here: its pod is built offline in tests/unit/test_hub_export.py.
"""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support import TEST_RUN, system
from support.build import env_image  # noqa: F401
from support.registry import free_port, registry  # noqa: F401
from support.share_image import lab_env, notebook_for  # noqa: F401

from envkit.commands import build_parser
from envkit.labels import LABEL_TEST_RUN
from envkit.ui import UI

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.registry]

RUN = TEST_RUN
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


def _site_config(*, folder: Path, port: int, hub_ip: str, hub_port: int) -> dict:
    """This machine's hub settings, added after the exported profile (what a team's admin writes)."""
    return {
        "JupyterHub.ip": "127.0.0.1", "JupyterHub.port": port,
        "JupyterHub.hub_ip": hub_ip, "JupyterHub.hub_port": hub_port,
        "JupyterHub.authenticator_class": "shared-password", "SharedPasswordAuthenticator.user_password": PASSWORD,
        "Authenticator.allowed_users": {"alice"},
        "JupyterHub.db_url": f"sqlite:///{folder / 'hub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(folder / "cookie_secret"),
        "ConfigurableHTTPProxy.pid_file": str(folder / "proxy.pid"),
        "JupyterHub.cleanup_servers": True,
        "Spawner.start_timeout": 300, "Spawner.http_timeout": 180,
    }


def _profile_value(profile: str, key: str):
    """The value the exported profile assigns to ``c.<key>`` (a Python literal)."""
    import ast

    line = next(line for line in profile.splitlines() if line.startswith(f"c.{key} = "))
    return ast.literal_eval(line.split(" = ", 1)[1])


@pytest.fixture(scope="module")
def hub_profile(engine, registry, hub_notebook):
    """``envkit export jupyterhub`` run once: the DockerSpawner profile and the hub image's digest
    reference. The local copy is removed, so every spawner here pulls it by digest."""
    profile = _cli("export", "jupyterhub", str(hub_notebook), "--spawner", "docker", "--mem-limit", "1g",
                   "--cpus", "1")
    image = _profile_value(profile, "DockerSpawner.image")
    assert image.startswith(registry.repository(f"envkit-hub-test-{RUN}") + "@sha256:")
    hub_image = engine.images.get(image)
    assert hub_image.labels["dev.envkit.kind"] == "hub"
    assert hub_image.labels["dev.envkit.hub-major"].startswith("jupyterhub>=")
    engine.images.remove(hub_image.id, force=True)
    try:
        yield profile, image
    finally:
        try:
            engine.images.remove(image, force=True)
        except Exception:  # noqa: BLE001 - not pulled, or already gone
            pass


@contextmanager
def _running_hub(config: str, folder: Path, env_extra: dict[str, str]) -> Iterator:
    """JupyterHub with ``config`` as a subprocess (its proxy included); stopped and waited for."""
    requests = pytest.importorskip("requests")
    jupyterhub = Path(sys.executable).with_name("jupyterhub")
    try:  # installed in CI as root, like the suite's other Debian packages
        system.apt_install("node-configurable-http-proxy", binaries=("configurable-http-proxy",))
    except system.Missing as exc:
        pytest.skip(str(exc))
    if not jupyterhub.exists():
        pytest.skip("needs pip's jupyterhub and dockerspawner (the test extra)")
    (folder / "jupyterhub_config.py").write_text(config)
    log = folder / "hub.log"
    env = {**os.environ, **env_extra, "PATH": f"{jupyterhub.parent}:{os.environ['PATH']}",
           # Debian's proxy keeps its modules in /usr/share/nodejs, which a Node.js from elsewhere
           # (nodesource's, here) does not search.
           "NODE_PATH": ":".join(filter(None, [os.environ.get("NODE_PATH"), "/usr/share/nodejs"]))}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(jupyterhub), "-f", str(folder / "jupyterhub_config.py")], cwd=folder,
                                stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        yield proc, log, requests
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the hub and the proxy it started
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _serve_notebook(base: str, proc, log: Path, requests):
    """Log in as alice, start her server, read the notebook through the proxy; the session and headers."""
    session = requests.Session()

    def healthy() -> bool:
        try:
            return session.get(f"{base}/hub/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    _wait_until(healthy, 60, "JupyterHub answering", proc, log)
    session.get(f"{base}/hub/login", timeout=10)
    # next=/hub/home: the server is started through the REST API below, not by the login redirect.
    r = session.post(f"{base}/hub/login?next=%2Fhub%2Fhome", data={"username": "alice", "password": PASSWORD,
                                                "_xsrf": session.cookies.get("_xsrf", "")}, timeout=30)
    assert r.status_code == 200 and "/hub/login" not in r.url, (r.url, log.read_text()[-3000:])
    xsrf = {"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""}
    r = session.post(f"{base}/hub/api/users/alice/server", headers=xsrf, timeout=60)
    assert r.status_code in (201, 202), (r.text, log.read_text()[-3000:])

    def ready() -> bool:
        user = session.get(f"{base}/hub/api/users/alice", headers=xsrf, timeout=10).json()
        server = (user.get("servers") or {}).get("")
        if server is None:  # the spawn failed; the hub's log says why
            raise AssertionError("alice's server failed to start:\n" + log.read_text()[-4000:])
        return bool(server.get("ready"))

    _wait_until(ready, 300, "alice's server ready", proc, log)
    # The single-user server's OAuth with the hub, as a browser does it.
    r = session.get(f"{base}/user/alice/lab", timeout=60)
    assert r.status_code == 200 and r.url.startswith(f"{base}/user/alice/"), (r.status_code, r.url, log.read_text()[-3000:])
    r = session.get(f"{base}/user/alice/api/contents/answer.ipynb", timeout=30)
    assert r.status_code == 200, r.text
    content = r.json()
    assert content["type"] == "notebook"
    assert "print('envkit answer', 6 * 7)" in ["".join(c["source"]) for c in content["content"]["cells"]]
    listing = session.get(f"{base}/user/alice/api/contents/", timeout=30).json()
    assert {"answer.ipynb", "helper.py"} <= {item["name"] for item in listing["content"]}
    # A kernel starts in it, from the notebook's own environment.
    r = session.post(f"{base}/user/alice/api/kernels", json={"name": "python3"},
                     headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/user/alice/") or ""}, timeout=60)
    assert r.status_code == 201, r.text
    return session, xsrf


def _stop_server(base: str, session, xsrf) -> None:
    r = session.delete(f"{base}/hub/api/users/alice/server", headers=xsrf, timeout=60)
    assert r.status_code in (202, 204), r.text


def test_jupyterhub_dockerspawner_serves_the_notebook_from_the_hub_image_by_digest(
        engine, hub_profile, network, tmp_path):
    profile, image = hub_profile
    port, hub_port = free_port(), free_port()
    net_name, gateway = network
    name = f"envkit-hubtest-{RUN}-alice"
    site = {**_site_config(folder=tmp_path, port=port, hub_ip=gateway, hub_port=hub_port),
            "DockerSpawner.network_name": net_name, "DockerSpawner.use_internal_ip": True,
            "DockerSpawner.name_template": f"envkit-hubtest-{RUN}-{{username}}",
            "DockerSpawner.extra_create_kwargs": {"labels": {LABEL_TEST_RUN: RUN}}}
    config = profile + "\n# this machine's hub\n" + "".join(f"c.{k} = {v!r}\n" for k, v in site.items())
    base = f"http://127.0.0.1:{port}"
    try:
        with _running_hub(config, tmp_path, {}) as (proc, log, requests):
            session, xsrf = _serve_notebook(base, proc, log, requests)
            # The server runs in the hub image, pulled by digest, with the profile's limits.
            (container,) = engine.containers.list(filters={"label": f"{LABEL_TEST_RUN}={RUN}", "name": name})
            attrs = container.attrs
            assert attrs["Config"]["Image"] == image
            assert attrs["HostConfig"]["Memory"] == 1 << 30
            assert attrs["HostConfig"]["CpuQuota"] == attrs["HostConfig"]["CpuPeriod"]
            assert attrs["Config"]["User"] in ("", "envkit")
            _stop_server(base, session, xsrf)
            _wait_until(lambda: not engine.containers.list(all=True, filters={"name": name}), 60,
                        "the server's container removed")
    finally:
        for c in engine.containers.list(all=True, filters={"label": f"{LABEL_TEST_RUN}={RUN}", "name": name}):
            c.remove(force=True)


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


@pytest.fixture(scope="module")
def swarm_engine(second_engine):
    """A second dockerd of this test's own in Swarm mode (``support.second_engine``); the shared
    engine is never touched. It shares this host's network namespace, so it pulls from the
    registry on 127.0.0.1."""
    found = second_engine("swarm", swarm=True)
    return found.url, found.client()


# What this machine's hub adds for Swarm: tasks on the host's network (there is no second host
# for an overlay network), each server on a port of its own on 127.0.0.1.
_HOST_NETWORK_SWARM = '''
from dockerspawner import SwarmSpawner


class HostNetworkSwarmSpawner(SwarmSpawner):
    async def get_ip_and_port(self):
        return "127.0.0.1", self.port


c.JupyterHub.spawner_class = HostNetworkSwarmSpawner
'''


def test_jupyterhub_swarmspawner_on_a_single_node_swarm_pulls_the_hub_image_by_digest(
        hub_notebook, hub_profile, swarm_engine, tmp_path):
    _, image = hub_profile
    host, client = swarm_engine
    profile = _cli("export", "jupyterhub", str(hub_notebook), "--spawner", "swarm", "--image", image,
                   "--mem-limit", "1g", "--cpus", "1")
    assert _profile_value(profile, "JupyterHub.spawner_class") == "dockerspawner.SwarmSpawner"
    assert _profile_value(profile, "SwarmSpawner.image") == image
    port, hub_port = free_port(), free_port()
    site = {**_site_config(folder=tmp_path, port=port, hub_ip="127.0.0.1", hub_port=hub_port),
            "SwarmSpawner.network_name": "host", "SwarmSpawner.use_internal_ip": True,
            "SwarmSpawner.port": free_port(), "SwarmSpawner.ip": "127.0.0.1",
            "SwarmSpawner.name_template": f"envkit-hubtest-{RUN}-{{username}}",
            "SwarmSpawner.extra_create_kwargs": {"labels": {LABEL_TEST_RUN: RUN}}}
    config = (profile + _HOST_NETWORK_SWARM + "\n# this machine's hub\n"
              + "".join(f"c.{k} = {v!r}\n" for k, v in site.items()))
    base = f"http://127.0.0.1:{port}"
    with _running_hub(config, tmp_path, {"DOCKER_HOST": host}) as (proc, log, requests):
        session, xsrf = _serve_notebook(base, proc, log, requests)
        (service,) = client.services.list(filters={"label": f"{LABEL_TEST_RUN}={RUN}"})
        spec = service.attrs["Spec"]["TaskTemplate"]
        assert spec["ContainerSpec"]["Image"] == image
        assert spec["Resources"]["Limits"] == {"MemoryBytes": 1 << 30, "NanoCPUs": 10**9}
        assert any(t["Status"]["State"] == "running" for t in service.tasks())
        assert client.images.get(image).id  # pulled by the swarm's engine, by digest
        _stop_server(base, session, xsrf)
        _wait_until(lambda: not client.services.list(filters={"label": f"{LABEL_TEST_RUN}={RUN}"}), 60,
                    "the server's service removed")
