"""Kernel start and ``envkit run`` on a remote engine and on Podman against local Docker, in one run.

    python benchmarks/engines.py [--image IMAGE] [--runs 5]

The remote engine is the test's second dockerd (tests/support/remote_engine.py): its own mount
namespace, tcp://127.0.0.1 with TLS, so files move through the Engine API instead of bind
mounts. Prints the median time from ``start_kernel`` to the first ``kernel_info`` reply and of
``envkit run`` on a two-cell notebook that reads and writes a file in its folder, on each
engine, and their ratio; then the same over ssh:// (Debian's sshd on 127.0.0.1 in front of a
second dockerd reachable only through its unix socket, tests/support/ssh_engine.py: the engine's
socket and the kernel's ports through envkit's ssh master) and on a rootful Podman service
(tests/support/podman.py). ``--engines tcp,ssh`` measures only those next to local Docker.
Needs root, dockerd, unshare, openssl, ip, openssh-server, podman.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("ENVKIT_LABELS", "dev.envkit.test-run=bench")

import nbformat  # noqa: E402

from envkit import engine as envkit_engine  # noqa: E402
from envkit.kernels.kernelspec import kernel_manager  # noqa: E402
from envkit.kernels.options import KernelOptions  # noqa: E402


def kernel_start(image: str, folder: Path) -> float:
    km = kernel_manager(KernelOptions(image=image), asynchronous=False)
    t0 = time.perf_counter()
    km.start_kernel(cwd=str(folder))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def notebook_run(image: str, folder: Path) -> float:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = int(open('input.txt').read())"),
                nbformat.v4.new_code_cell("open('answer.txt', 'w').write(str(n * 2))")]
    (folder / "input.txt").write_text("21")
    nbformat.write(nb, str(folder / "nb.ipynb"))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "envkit", "run", str(folder / "nb.ipynb"), "-o", str(folder / "out.ipynb"),
                    "--image", image], check=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    assert (folder / "answer.txt").read_text() == "42"
    (folder / "answer.txt").unlink()
    return elapsed


def measure(image: str, runs: int) -> dict[str, float]:
    envkit_engine.reset()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chown(folder, 1000, 1000)
        kernel_start(image, folder)  # warm-up: first container of the image on this engine
        starts = [kernel_start(image, folder) for _ in range(runs)]
        notebook_runs = [notebook_run(image, folder) for _ in range(runs)]
    return {"kernel start": statistics.median(starts), "envkit run": statistics.median(notebook_runs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="", help="an image with ipykernel (default: the tests' stand-in, built here)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="tcp,ssh,podman", help="which engines besides local Docker")
    args = parser.parse_args()
    import docker
    from support.kernels import build_standin
    from support.system import ensure_base_image

    local = docker.from_env()
    built = not args.image
    # A tag of its own: the tests' stand-in tag may belong to a test session running meanwhile.
    args.image = args.image or build_standin(ensure_base_image(), tag="envkit-test-kernel:bench")
    try:
        _compare(local, args)
    finally:
        if built:
            local.images.remove(args.image, force=True)


def _compare(local, args: argparse.Namespace) -> None:
    figures = {"local": measure(args.image, args.runs)}
    engines = set(args.engines.split(","))
    if "tcp" in engines:
        _tcp(local, args, figures)
    if "ssh" in engines:
        _ssh(local, args, figures)
    if "podman" in engines:
        _podman(local, args, figures)
    print(f"median of {args.runs} runs, image {args.image}")
    print("| engine | kernel start | envkit run |")
    print("|---|---|---|")
    base = figures["local"]
    for name, f in figures.items():
        cells = [f"{f[k]:.2f} s ({f[k] / base[k]:.2f}×)" for k in ("kernel start", "envkit run")]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


def _ssh(local, args: argparse.Namespace, figures: dict[str, dict[str, float]]) -> None:
    from support.ssh_engine import ssh_engine

    with ssh_engine(local, (args.image,)) as server:
        path = os.environ["PATH"]
        os.environ.update(DOCKER_HOST=server.url, PATH=f"{server.client('bench')}{os.pathsep}{path}")
        try:
            figures["ssh:// (sshd + second dockerd, tunnel, copies)"] = measure(args.image, args.runs)
        finally:
            os.environ.pop("DOCKER_HOST", None)
            os.environ["PATH"] = path
            envkit_engine.reset()


def _tcp(local, args: argparse.Namespace, figures: dict[str, dict[str, float]]) -> None:
    from support.remote_engine import remote_engine

    with remote_engine(local, (args.image,)) as (host, certs):
        os.environ.update(DOCKER_HOST=host, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
        try:
            figures["remote (tcp+TLS, copies)"] = measure(args.image, args.runs)
        finally:
            for key in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
                os.environ.pop(key, None)


def _podman(local, args: argparse.Namespace, figures: dict[str, dict[str, float]]) -> None:
    from support.podman import Unavailable, podman_service

    try:
        with podman_service(local, (args.image,)) as host:
            os.environ["DOCKER_HOST"] = host
            try:
                figures["Podman 4.3 (rootful, bind mounts)"] = measure(args.image, args.runs)
            finally:
                os.environ.pop("DOCKER_HOST", None)
    except Unavailable as exc:
        print(f"Podman not measured: {exc}")


if __name__ == "__main__":
    main()
