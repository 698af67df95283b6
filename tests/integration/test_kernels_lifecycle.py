"""No orphans: SIGKILLed owners, the start-up sweep; installed kernelspecs in both forms."""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from support.kernels import (  # noqa: F401
    env_image,
    jupyter_dirs,
    kernel_containers,
    kernel_image,
    wait_until,
)

from envkit.engine import containers
from envkit.kernels import container as kernel_container
from envkit.labels import LABEL_KERNEL_ID, LABEL_OWNER, base_labels

pytestmark = pytest.mark.docker

OWNER_SCRIPT = """
import json, sys
from envkit.kernels.kernelspec import kernel_manager
from envkit.kernels.options import KernelOptions
km = kernel_manager(KernelOptions(image=sys.argv[1]), asynchronous=False)
km.start_kernel(cwd=sys.argv[2])
kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=60)
print(json.dumps({"kernel_id": km.kernel_id}), flush=True)
sys.stdin.read()
"""


def test_sigkilled_owner_leaves_no_container(engine, kernel_image, tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, kernel_image, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        kernel_id = json.loads(owner.stdout.readline())["kernel_id"]
        [container] = kernel_containers(engine, kernel_id)
        assert container.status == "running"
        assert container.labels[LABEL_OWNER].endswith(f":{owner.pid}")
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert wait_until(lambda: not kernel_containers(engine, kernel_id), timeout=15)


def test_startup_sweep_removes_containers_of_dead_owners(engine, kernel_image):
    dead = subprocess.Popen(["true"])
    dead.wait()
    made = {}
    for who, pid in (("dead", dead.pid), ("alive", os.getpid())):
        labels = {**base_labels("kernel"), LABEL_KERNEL_ID: f"sweep-{who}",
                  LABEL_OWNER: f"{kernel_container.owner().rpartition(':')[0]}:{pid}"}
        made[who] = containers.create(kernel_image, ["sleep", "300"], labels=labels)
        containers.start(made[who])
    try:
        removed = kernel_container.sweep()
        assert made["dead"] in removed and made["alive"] not in removed
        assert containers.inspect(made["dead"]) is None
        assert containers.inspect(made["alive"]).running
    finally:
        for cid in made.values():
            containers.remove(cid)


def envkit_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envkit", *args], capture_output=True, text=True, **kw)


@pytest.mark.parametrize("argv_only", [False, True], ids=["provisioner", "argv-launcher"])
def test_installed_kernelspec_runs_and_is_removed(engine, kernel_image, jupyter_dirs, tmp_path, argv_only):  # noqa: F811
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    name = "envkit-test-" + ("argv" if argv_only else "prov")
    extra = ["--argv-only"] if argv_only else []
    done = envkit_cli("kernel", "install", kernel_image, "--name", name, "--mem-limit", "512m", *extra)
    assert done.returncode == 0, done.stderr
    spec = KernelSpecManager().get_kernel_spec(name)
    assert ("kernel_provisioner" in spec.metadata) is not argv_only
    assert "(envkit: envkit-test-kernel)" in spec.display_name or "(envkit: " in spec.display_name
    listed = envkit_cli("kernel", "list")
    assert name in listed.stdout and kernel_image in listed.stdout

    km = KernelManager(kernel_name=name)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive("import os; os.getcwd()", timeout=30)
        assert reply["content"]["status"] == "ok"
        [container] = kernel_containers(engine)  # this test's only kernel
        assert container.attrs["HostConfig"]["Memory"] == 512 * 1024 * 1024
        if argv_only:
            assert type(km.provisioner).__name__ == "LocalProvisioner"
            # Interrupts reach the kernel through the launcher (it forwards SIGINT).
            msg_id = kc.execute("import time\ntime.sleep(60)")
            while kc.get_iopub_msg(timeout=30)["msg_type"] != "execute_input":
                pass
            time.sleep(0.3)
            km.interrupt_kernel()
            reply = kc.get_shell_msg(timeout=20)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=20)
            assert reply["content"].get("ename") == "KeyboardInterrupt"
            # The launcher is the kernel process here; SIGKILL it and the container must go.
            os.kill(km.provisioner.pid, signal.SIGKILL)
            assert wait_until(lambda: not kernel_containers(engine), timeout=15)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert wait_until(lambda: not kernel_containers(engine), timeout=15)

    assert envkit_cli("kernel", "remove", name).returncode == 0
    assert name not in KernelSpecManager().find_kernel_specs()
    refused = envkit_cli("kernel", "remove", "python3")
    assert refused.returncode != 0 and "not an envkit kernel" in refused.stderr + refused.stdout

