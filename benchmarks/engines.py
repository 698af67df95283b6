"""Kernel start and ``envkit run`` on a remote engine and on Podman against local Docker, in one run.

    python benchmarks/engines.py [--image IMAGE] [--runs 5] [--no-build]

The remote engine is the test's second dockerd (tests/support/remote_engine.py): its own mount
namespace, tcp://127.0.0.1 with TLS, so files move through the Engine API instead of bind
mounts. Prints the median time from ``start_kernel`` to the first ``kernel_info`` reply and of
``envkit run`` on a two-cell notebook that reads and writes a file in its folder, on each
engine, and their ratio; then the same over ssh:// (Debian's sshd on 127.0.0.1 in front of a
second dockerd reachable only through its unix socket, tests/support/ssh_engine.py: the engine's
socket and the kernel's ports through envkit's ssh master) and on a rootful Podman service
(tests/support/podman.py). ``--engines tcp,ssh`` measures only those next to local Docker.
On local Docker and Podman it also builds a notebook (``import six``, on the tests' base image)
once and then times a second ``envkit build`` of it unchanged (a reuse: no build) and
``envkit run`` of it without ``--image`` (the recorded image). Needs root, dockerd, unshare,
openssl, ip, openssh-server, podman, and the package index for the one build per engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
# A label of this run's own: the end removes the images it built, and only those.
os.environ.setdefault("ENVKIT_LABELS", f"dev.envkit.test-run=bench-{uuid.uuid4().hex[:8]}")

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


def _timed(*args: str, reuse: bool = True) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "envkit", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"envkit {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    if reuse and "built " in done.stdout:
        raise RuntimeError(f"envkit {args[0]} rebuilt an unchanged notebook:\n{done.stdout}")
    return elapsed


def rebuild_and_run(base: str, folder: Path, runs: int) -> dict[str, float]:
    """Build a notebook once, then time ``envkit build`` of it unchanged and ``envkit run`` of it."""
    nb = folder / "reuse.ipynb"
    nb.write_text(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import six\nprint(six.__version__)")],
        metadata={"language_info": {"name": "python", "version": "3.11.2"}})))
    _timed("build", str(nb), "--base-image", base, reuse=False)
    builds = [_timed("build", str(nb)) for _ in range(runs)]
    notebook_runs = [_timed("run", str(nb), "-o", str(folder / "reuse-out.ipynb")) for _ in range(runs)]
    return {"build, unchanged": statistics.median(builds), "run, built": statistics.median(notebook_runs)}


def measure(image: str, runs: int, base: str = "") -> dict[str, float]:
    envkit_engine.reset()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chown(folder, 1000, 1000)
        kernel_start(image, folder)  # warm-up: first container of the image on this engine
        starts = [kernel_start(image, folder) for _ in range(runs)]
        notebook_runs = [notebook_run(image, folder) for _ in range(runs)]
        figures = {"kernel start": statistics.median(starts), "envkit run": statistics.median(notebook_runs)}
        if base:
            figures.update(rebuild_and_run(base, folder, runs))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="", help="an image with ipykernel (default: the tests' stand-in, built here)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="tcp,ssh,podman", help="which engines besides local Docker")
    parser.add_argument("--no-build", action="store_true", help="skip the build and reuse figures")
    args = parser.parse_args()
    import docker
    from support import TEST_RUN
    from support.kernels import build_standin
    from support.system import ensure_base_image

    local = docker.from_env()
    built = not args.image
    args.base = ensure_base_image()
    # A tag of this run's own: removing the shared stand-in tag would pull it from under test sessions.
    args.image = args.image or build_standin(args.base, tag=f"envkit-test-kernel:{TEST_RUN}")
    try:
        _compare(local, args)
    finally:
        if built:
            local.images.remove(args.image, force=True)
        # The images the reuse figures built on the local engine (Podman's storage is reset).
        for image in local.images.list(filters={"label": os.environ["ENVKIT_LABELS"]}):
            local.images.remove(image.id, force=True)


def _compare(local, args: argparse.Namespace) -> None:
    base = "" if args.no_build else args.base
    figures = {"local": measure(args.image, args.runs, base)}
    engines = set(args.engines.split(","))
    if "tcp" in engines:
        _tcp(local, args, figures)
    if "ssh" in engines:
        _ssh(local, args, figures)
    if "podman" in engines:
        _podman(local, args, figures, base)
    print(f"median of {args.runs} runs, image {args.image}")
    keys = list(figures["local"])
    print("| engine | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    local_figures = figures["local"]
    for name, f in figures.items():
        cells = [f"{f[k]:.2f} s ({f[k] / local_figures[k]:.2f}×)" if k in f else "not measured" for k in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")


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


def _podman(local, args: argparse.Namespace, figures: dict[str, dict[str, float]], base: str) -> None:
    from support.podman import Unavailable, podman_service

    try:
        with podman_service(local, (args.image, args.base)) as host:
            os.environ["DOCKER_HOST"] = host
            try:
                figures["Podman 4.3 (rootful, bind mounts)"] = measure(args.image, args.runs, base)
            finally:
                os.environ.pop("DOCKER_HOST", None)
    except Unavailable as exc:
        print(f"Podman not measured: {exc}")


if __name__ == "__main__":
    main()
