"""Kernels started together: 20 container kernels from 20 threads of a fresh process all start.

A fresh process matters: the failure this guards against (issue 10.4) happened while several
threads imported docker-py for the first time at once (``ImportError: cannot import name
'CancellableStream' from partially initialized module 'docker.types'``); a process that had
already imported docker never showed it.
"""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from support.kernels import env_image, kernel_image, wait_until  # noqa: F401

from envkit.labels import LABEL_OWNER

pytestmark = pytest.mark.docker

KERNELS = 20

# Every thread waits at a barrier, so all first calls into envkit's engine happen together.
SCRIPT = """
import json, sys, threading
from envkit.kernels.kernelspec import kernel_manager
from envkit.kernels.options import KernelOptions

image, cwd, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert "docker" not in sys.modules, "docker must not be imported before the kernels start"
barrier = threading.Barrier(count)
results = [None] * count

def one(i):
    km = None
    try:
        km = kernel_manager(KernelOptions(image=image), asynchronous=False)
        barrier.wait()
        km.start_kernel(cwd=cwd)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=600)
            reply = kc.kernel_info(reply=True, timeout=300)
            results[i] = {"ok": reply["content"]["status"] == "ok", "kernel_id": km.kernel_id,
                          "implementation": reply["content"].get("implementation")}
        finally:
            kc.stop_channels()
    except BaseException as exc:
        results[i] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)

threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(results), flush=True)
"""


def owned_by(engine, pid: int) -> list:
    """Containers (running or not) whose owner label names process ``pid`` on this host."""
    return engine.containers.list(all=True, filters={"label": f"{LABEL_OWNER}={socket.gethostname()}:{pid}"})


def test_twenty_kernels_started_at_once_from_a_fresh_process_all_answer(engine, kernel_image, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, kernel_image, str(tmp_path), str(KERNELS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    results = json.loads(out.strip().splitlines()[-1])
    failed = [r for r in results if not r["ok"]]
    assert not failed, f"{len(failed)} of {KERNELS} kernels failed: " + "; ".join(
        sorted({r.get("error", "no kernel_info reply")[:300] for r in failed}))
    assert len({r["kernel_id"] for r in results}) == KERNELS
    assert all(r["implementation"] == "ipython" for r in results)
    assert wait_until(lambda: not owned_by(engine, proc.pid), timeout=30), \
        [c.name for c in owned_by(engine, proc.pid)]
