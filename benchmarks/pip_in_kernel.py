"""``%pip install`` in envkit's container kernel vs the same install in a host kernel.

    python benchmarks/pip_in_kernel.py [--image IMAGE] [--package tomli-w==1.0.0] [--runs 5] [--no-docs]

The container kernel runs in an image envkit built (``--image``, else a tiny spec built here on
the test base image) and installs through the image's pip shim (uv). The host kernel is a plain
ipykernel in a fresh virtual environment (``/tmp/envkit-pip-bench-venv``, made here once), where
``%pip`` is pip itself. Each run uninstalls the package first (not timed) and times the
``%pip install`` cell from request to reply. Prints the medians and their ratio; writes them into
docs/kernels.md between the ``pip-bench`` markers. Needs a Docker engine and the package index.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
# A label of its own, so the images it builds can be told apart (and removed) later.
os.environ.setdefault("ENVKIT_LABELS", "dev.envkit.test-run=pip-bench")

from jupyter_client import KernelManager  # noqa: E402

from envkit.kernels.kernelspec import OneSpecManager, kernel_manager  # noqa: E402
from envkit.kernels.options import KernelOptions  # noqa: E402

HOST_VENV = Path("/tmp/envkit-pip-bench-venv")
DOCS = ROOT / "docs" / "kernels.md"
START, END = "<!-- pip-bench:start -->", "<!-- pip-bench:end -->"


def run(kc, code: str) -> str:
    """Execute ``code`` and return what it printed; fail loudly if it failed."""
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, timeout=600, output_hook=hook)
    if reply["content"]["status"] != "ok":
        raise SystemExit(f"{code!r} failed:\n{''.join(out)}")
    return "".join(out)


def timed_installs(km: KernelManager, package: str, runs: int, cwd: str) -> list[float]:
    km.start_kernel(cwd=cwd)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        name = package.split("==")[0]
        times = []
        for _ in range(runs):
            run(kc, f"!{sys_python(kc)} -m pip uninstall -y -q {name} >/dev/null 2>&1 || true")
            t0 = time.perf_counter()
            out = run(kc, f"%pip install -q {package}")
            times.append(time.perf_counter() - t0)
            if "rror" in out:
                raise SystemExit(f"%pip install {package} printed an error:\n{out}")
        return times
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def sys_python(kc) -> str:
    return run(kc, "import sys; print(sys.executable)").strip()


def host_km() -> KernelManager:
    python = HOST_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(HOST_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ipykernel"], check=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "host venv", "language": "python"}
    return KernelManager(kernel_name="host", kernel_spec_manager=OneSpecManager("host", spec))


def built_image(base: str) -> tuple[str, tuple[str, ...]]:
    """A tiny image built here: its id and its tags (removed again at the end)."""
    from support.build import tiny_spec

    from envkit.build import BuildOptions, build_spec

    result = build_spec(tiny_spec(), options=BuildOptions(base_image=base, tag="envkit/pip-bench:latest"))
    return result.image.id, result.tags


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", default="", help="an envkit-built image (default: build a tiny one here)")
    p.add_argument("--base-image", default="envkit-test-base:bookworm")
    p.add_argument("--package", default="tomli-w==1.0.0")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args()
    image, tags = (args.image, ()) if args.image else built_image(args.base_image)
    try:
        with tempfile.TemporaryDirectory() as work:
            os.chmod(work, 0o777)
            container = timed_installs(kernel_manager(KernelOptions(image=image), asynchronous=False),
                                       args.package, args.runs, work)
            host = timed_installs(host_km(), args.package, args.runs, work)
    finally:
        from envkit.engine import api

        for tag in tags:  # only what this script built
            api().remove_image(tag, noprune=False)
    c, h = statistics.median(container), statistics.median(host)
    lines = [f"`%pip install {args.package}`, median of {args.runs} (uninstalled before each):",
             f"container kernel (uv through envkit's pip shim) {c:.2f} s; host kernel (pip) {h:.2f} s; "
             f"ratio container/host {c / h:.2f}",
             f"({platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
             f"runs: container {', '.join(f'{t:.2f}' for t in container)}, host {', '.join(f'{t:.2f}' for t in host)})"]
    print("\n".join(lines))
    if not args.no_docs:
        text = DOCS.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            DOCS.write_text(head + START + "\n" + "\n".join(lines) + "\n" + END + rest.split(END, 1)[1])


if __name__ == "__main__":
    main()
