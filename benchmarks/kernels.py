"""Kernel start-up and round-trip: local ipykernel vs envkit's container kernel vs dockernel.

    python benchmarks/kernels.py [--image IMAGE] [--runs 7] [--many 20] [--no-docs]

Prints the median time from ``start_kernel`` to the first ``kernel_info`` reply for each kind,
the median round-trip of a trivial ``execute_request`` (local vs container), then starts
``--many`` container kernels at once and reports whether all answered and the memory each
uses. Figures are written into docs/kernels.md between the ``bench`` markers. dockernel is
installed from the package index into /tmp/dockernel-venv (created here) and run on the
same image. Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
RUN = "bench"
# Everything envkit makes here carries the test-run label (the public ENVKIT_LABELS setting).
os.environ.setdefault("ENVKIT_LABELS", f"dev.envkit.test-run={RUN}")

from jupyter_client import KernelManager  # noqa: E402

from envkit.engine import api  # noqa: E402
from envkit.kernels.kernelspec import OneSpecManager, kernel_manager  # noqa: E402
from envkit.kernels.options import KernelOptions  # noqa: E402
from envkit.labels import LABEL_KIND, LABEL_TEST_RUN, base_labels  # noqa: E402

DOCKERNEL_VENV = Path("/tmp/dockernel-venv")
DOCS = ROOT / "docs" / "kernels.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def time_start(make_km) -> tuple[float, KernelManager]:
    """Seconds from start_kernel to the first kernel_info reply, and the running manager."""
    km = make_km()
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.kernel_info()
    kc.get_shell_msg(timeout=120)  # first reply (the request above; no other shell traffic yet)
    elapsed = time.perf_counter() - t0
    km._bench_client = kc  # type: ignore[attr-defined]
    return elapsed, km


def stop(km: KernelManager) -> None:
    km._bench_client.stop_channels()  # type: ignore[attr-defined]
    km.shutdown_kernel(now=True)


def round_trips(km: KernelManager, n: int = 200) -> float:
    """Median seconds for ``execute_request('pass')`` → ``execute_reply``."""
    kc = km._bench_client  # type: ignore[attr-defined]
    kc.execute("pass")  # warm up; the shell reply is what is timed below, so iopub is not awaited
    kc.get_shell_msg(timeout=30)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        kc.execute("pass", silent=False, store_history=False)
        kc.get_shell_msg(timeout=30)
        times.append(time.perf_counter() - t0)
    # Drain iopub so nothing piles up.
    while kc.iopub_channel.msg_ready():
        kc.get_iopub_msg(timeout=1)
    return statistics.median(times)


def local_km() -> KernelManager:
    return KernelManager(kernel_name="python3")


def dockernel_image(image: str) -> str:
    """``image`` with dockernel's start convention: the kernel reads $DOCKERNEL_CONNECTION_FILE."""
    tag = "envkit-bench-dockernel:latest"
    # dockernel runs as the image's user, which cannot read a connection file that another
    # uid wrote with mode 0600 (root here); the benchmark runs its kernel as that file's owner.
    dockerfile = (f"FROM {image}\nUSER {os.getuid()}\n"
                  'CMD ["sh", "-c", "exec python -m ipykernel_launcher -f $DOCKERNEL_CONNECTION_FILE"]\n')
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    buf.seek(0)
    for chunk in api().build(fileobj=buf, custom_context=True, tag=tag, rm=True, forcerm=True,
                             labels=base_labels("image"), decode=True):
        if "error" in chunk:
            raise SystemExit(f"dockernel image: {chunk['error']}")
    return tag


def dockernel_km(image: str):
    if not (DOCKERNEL_VENV / "bin" / "dockernel").exists():
        subprocess.run([sys.executable, "-m", "venv", str(DOCKERNEL_VENV)], check=True)
        subprocess.run([str(DOCKERNEL_VENV / "bin" / "pip"), "install", "-q", "dockernel"], check=True)
    spec = {"argv": [str(DOCKERNEL_VENV / "bin" / "python"), "-m", "dockernel", "start", image,
                     "{connection_file}"],
            "display_name": "dockernel", "language": "python", "interrupt_mode": "message"}
    return lambda: KernelManager(kernel_name="dockernel", kernel_spec_manager=OneSpecManager("dockernel", spec))


def remove_leftovers(image: str) -> None:
    # dockernel's containers carry no labels and outlive a killed launcher: find them by image.
    for c in api().containers(all=True, filters={"ancestor": image}):
        api().remove_container(c["Id"], force=True)


def median_start(name: str, make_km, runs: int, *, rtt: bool = False, after=None) -> dict:
    starts, rtts = [], []
    for i in range(runs):
        elapsed, km = time_start(make_km)
        starts.append(elapsed)
        if rtt and i == 0:
            rtts.append(round_trips(km))
        stop(km)
        if after:
            after()
    out = {"start": statistics.median(starts), "starts": starts}
    if rtts:
        out["rtt"] = rtts[0]
    print(f"{name:10s} start→kernel_info median {out['start']:.3f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in starts)})"
          + (f"; execute round-trip {out['rtt'] * 1000:.2f} ms" if rtts else ""), flush=True)
    return out


def many(image: str, n: int) -> dict:
    """Start ``n`` container kernels at once; all must answer; memory per kernel from the engine."""
    def one(_: int):
        return time_start(lambda: kernel_manager(KernelOptions(image=image), asynchronous=False))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    kms = [km for _, km in results]
    answered = 0
    for km in kms:
        reply = km._bench_client.execute_interactive(  # type: ignore[attr-defined]
            "import os; os.getpid()", timeout=60, output_hook=lambda msg: None)
        answered += reply["content"]["status"] == "ok"
    ids = [c["Id"] for c in api().containers(filters={"label": [f"{LABEL_KIND}=kernel",
                                                                   f"{LABEL_TEST_RUN}={RUN}"]})]
    mems = []
    for cid in ids:
        stats = api().stats(cid, stream=False, one_shot=True)
        mem = stats.get("memory_stats", {})
        usage = mem.get("usage", 0) - (mem.get("stats", {}).get("inactive_file", 0))
        mems.append(usage / 2**20)
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(stop, kms))
    out = {"n": n, "answered": answered, "wall": wall, "slowest": max(s for s, _ in results),
           "mem": statistics.median(mems) if mems else 0.0, "containers": len(ids)}
    print(f"{n} at once: {answered}/{n} answered; all started within {wall:.2f} s (slowest "
          f"{out['slowest']:.2f} s); memory per kernel median {out['mem']:.1f} MiB over {len(ids)} containers",
          flush=True)
    return out


def write_docs(text: str) -> None:
    doc = DOCS.read_text() if DOCS.exists() else f"# Kernels\n\n{START}\n{END}\n"
    if START not in doc:
        doc += f"\n{START}\n{END}\n"
    head, rest = doc.split(START, 1)
    tail = rest.split(END, 1)[1]
    DOCS.write_text(f"{head}{START}\n{text}{END}{tail}")


def image_note(image: str) -> str:
    """How many of the image venv's modules are precompiled (start-up cost depends on it)."""
    out = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", image, "-c",
                          "find /opt/envkit/venv -name '*.py' | wc -l; find /opt/envkit/venv -name '*.pyc' | wc -l"],
                         capture_output=True, text=True)
    try:
        py, pyc = (int(x) for x in out.stdout.split())
    except ValueError:
        return ""
    return f"{pyc} .pyc for {py} .py files in its venv"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", action="append", default=[],
                   help="image with ipykernel in /opt/envkit/venv; repeat to compare images "
                        "(default: the test stand-in); dockernel and the 20-kernel run use the first")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--many", type=int, default=20)
    p.add_argument("--no-docs", action="store_true", help="print only; leave docs/kernels.md alone")
    args = p.parse_args()
    images = args.image
    if not images:
        from support.kernels import build_standin
        from support.system import ensure_base_image

        images = [build_standin(ensure_base_image())]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"images {', '.join(images)}; {os.cpu_count()} CPUs; load {load:.1f}; {platform.platform()}", flush=True)
    local = median_start("local", local_km, args.runs, rtt=True)
    rows = []
    for image in images:
        envkit = median_start("envkit", lambda image=image: kernel_manager(KernelOptions(image=image),
                                                                          asynchronous=False),
                              args.runs, rtt=True)
        note = image_note(image)
        rows.append(
            f"| envkit container, `{image}`{f' ({note})' if note else ''} | {envkit['start']:.3f} s "
            f"({envkit['start'] / local['start']:.2f}× local) | {envkit['rtt'] * 1000:.2f} ms "
            f"({envkit['rtt'] / local['rtt']:.2f}× local) |\n")
        if image == images[0]:
            first = envkit
    dimage = dockernel_image(images[0])
    try:
        docker_k = median_start("dockernel", dockernel_km(dimage), args.runs,
                                after=lambda: remove_leftovers(dimage))
    finally:
        remove_leftovers(dimage)
    crowd = many(images[0], args.many)
    speedup = docker_k["start"] / first["start"]
    text = (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs ({platform.machine()}, load average "
        f"{load:.1f} at the start), median of {args.runs} starts each (`python benchmarks/kernels.py`).\n\n"
        "| kernel | start → first `kernel_info` reply | `execute_request` round-trip |\n"
        "|---|---|---|\n"
        f"| local ipykernel | {local['start']:.3f} s | {local['rtt'] * 1000:.2f} ms |\n"
        + "".join(rows) +
        f"| dockernel 1.0 on `{images[0]}` | {docker_k['start']:.3f} s (envkit {speedup:.1f}× faster) | – |\n\n"
        f"{crowd['n']} container kernels of `{images[0]}` started at once: {crowd['answered']}/{crowd['n']} "
        f"answered, all within {crowd['wall']:.1f} s (slowest start {crowd['slowest']:.1f} s); memory per "
        f"kernel (container, median) {crowd['mem']:.0f} MiB.\n"
    )
    print()
    print(text)
    if not args.no_docs:
        write_docs(text)
        print(f"written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
