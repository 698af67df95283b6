"""Container kernels through a real engine, real ipykernel and a real jupyter_client.KernelManager."""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.kernels import (  # noqa: F401
    env_image,
    jupyter_dirs,
    kernel_containers,
    kernel_image,
    wait_until,
)

from envkit.kernels.container import owner
from envkit.kernels.kernelspec import kernel_manager
from envkit.kernels.options import KernelOptions
from envkit.labels import LABEL_KERNEL_ID, LABEL_OWNER

pytestmark = pytest.mark.docker


def run_code(kc, code: str, timeout: float = 60) -> tuple[dict, str]:
    """Execute ``code``; the reply content and everything printed to stdout/stderr."""
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"], "".join(out)


@pytest.fixture
def started(kernel_image, tmp_path, monkeypatch):
    """A started container kernel (KernelManager + ready client) working in tmp_path."""
    monkeypatch.setenv("JPY_PARENT_PID", "4242")
    monkeypatch.setenv("ENVKIT_SERVER_SECRET", "must-not-leak")
    km = kernel_manager(KernelOptions(image=kernel_image), asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield km, kc
    kc.stop_channels()
    if km.has_kernel:
        km.shutdown_kernel(now=True)


def test_kernel_runs_in_container_with_callers_identity_and_folder(engine, started, tmp_path):
    km, kc = started
    reply, out = run_code(kc, "import os, json\n"
                              "print(json.dumps({'cwd': os.getcwd(), 'uid': os.getuid(), 'gid': os.getgid(),"
                              " 'env': dict(os.environ), 'exe': __import__('sys').executable}))\n"
                              "open('written.txt', 'w').write('hi')")
    assert reply["status"] == "ok", out
    import json

    seen = json.loads(out)
    assert seen["cwd"] == str(tmp_path.resolve())
    # The caller's identity; a root caller's kernel runs as the folder's owner instead (never root).
    folder = tmp_path.stat()
    expected = (os.getuid(), os.getgid()) if os.getuid() != 0 else (folder.st_uid, folder.st_gid)
    assert (seen["uid"], seen["gid"]) == expected and seen["uid"] != 0
    assert seen["exe"].startswith("/opt/envkit/venv/")
    assert "JPY_PARENT_PID" not in seen["env"] and "ENVKIT_SERVER_SECRET" not in seen["env"]
    assert seen["env"]["HOME"] and seen["env"]["USER"]
    written = tmp_path / "written.txt"
    assert written.read_text() == "hi" and written.stat().st_uid == expected[0]

    [container] = kernel_containers(engine, km.kernel_id)
    assert container.labels[LABEL_KERNEL_ID] == km.kernel_id
    assert container.labels[LABEL_OWNER] == owner()
    host = container.attrs["HostConfig"]
    assert host["Init"] is True and host["AutoRemove"] is True
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert host["NetworkMode"] == "host"
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    # Only a private folder with a copy of the connection file (writable: ipykernel 6 writes it
    # back) and the working folder: never the host's file, nor the runtime folder.
    assert set(mounts) == {"/run/envkit", str(tmp_path.resolve())}
    assert mounts["/run/envkit"]["Source"] != str(Path(km.connection_file).resolve().parent)
    assert mounts["/run/envkit"]["RW"] is True


def test_interrupt_restart_twice_shutdown(engine, started):
    km, kc = started
    msg_id = kc.execute("import time\ntime.sleep(60)")
    # Wait until the kernel is busy with the sleep before interrupting it.
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            break
    time.sleep(0.3)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=20)
    while reply["parent_header"].get("msg_id") != msg_id:  # a late kernel_info reply from wait_for_ready
        reply = kc.get_shell_msg(timeout=20)
    assert reply["content"]["status"] == "error", reply["content"]
    assert reply["content"]["ename"] == "KeyboardInterrupt"

    info = km.get_connection_info()
    first = {c.id for c in kernel_containers(engine, km.kernel_id)}
    for n in range(2):
        run_code(kc, f"x = {n}")
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        reply, out = run_code(kc, "print('x' in globals())")
        assert out.strip() == "False"           # a fresh kernel ...
        assert km.get_connection_info() == info  # ... on the same ports and key
    now = {c.id for c in kernel_containers(engine, km.kernel_id)}
    assert len(now) == 1 and not (now & first)

    km.shutdown_kernel()
    assert not km.is_alive()
    assert wait_until(lambda: not kernel_containers(engine, km.kernel_id))


def test_poll_notices_a_dead_container(engine, started):
    km, _ = started
    [container] = kernel_containers(engine, km.kernel_id)
    assert km.is_alive()
    container.kill()
    assert wait_until(lambda: not km.is_alive())


def test_limits_bridge_network_and_gpu_request(engine, kernel_image, tmp_path):
    options = KernelOptions(image=kernel_image, mem_limit="256m", cpus=0.5, network="bridge")
    km = kernel_manager(options, asynchronous=False)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply, _ = run_code(kc, "1 + 1")
        assert reply["status"] == "ok"
        [container] = kernel_containers(engine, km.kernel_id)
        host = container.attrs["HostConfig"]
        assert host["Memory"] == 256 * 1024 * 1024 and host["NanoCpus"] == 500_000_000
        assert host["NetworkMode"] != "host"
        bindings = [b for spec in host["PortBindings"].values() for b in spec]
        assert len(bindings) == 5 and {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    # No GPU runtime here: create (not start) and check the request reached the engine.
    from envkit.kernels import container as kernel_container

    conn = tmp_path / "kernel-gpu.json"
    conn.write_text('{"ip": "127.0.0.1", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, '
                    '"hb_port": 4, "control_port": 5, "key": "k", "transport": "tcp"}')
    created = kernel_container.create(KernelOptions(image=kernel_image, gpus="all"), connection_file=conn,
                                      cwd=tmp_path, kernel_id="gpu-test")
    try:
        requests = engine.containers.get(created.id).attrs["HostConfig"]["DeviceRequests"]
        assert requests[0]["Count"] == -1 and requests[0]["Capabilities"] == [["gpu"]]
    finally:
        created.close()



def test_curve_encrypted_kernel_gets_its_keys(engine, kernel_image, tmp_path):
    from envkit.kernels.kernelspec import probe_image

    options = KernelOptions(image=kernel_image)
    probed = probe_image(options)
    assert probed.get("supported_encryption") == ["curve"]  # the image's ipykernel declares it
    km = kernel_manager(options, asynchronous=False, probed=probed)
    km.transport_encryption = "required"
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply, out = run_code(kc, "print('encrypted')")
        assert out.strip() == "encrypted"
        [container] = kernel_containers(engine, km.kernel_id)
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        # ipykernel rewrites a keyed connection file: it gets a private copy, never the host's file.
        assert mounts["/run/envkit"]["Source"] != str(Path(km.connection_file).resolve().parent)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
