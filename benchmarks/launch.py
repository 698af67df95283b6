"""Launch time: from ``envkit launch NB --no-browser`` to the first 200 of the notebook page.

    python benchmarks/launch.py [NOTEBOOK] [--runs 3] [--base-image IMAGE] [--no-docs]

The environment image is built first and not timed (the figure is "image already built", as
mybinder.org's launch times for built images are). The first launch may add the JupyterLab
layer (reported as such); later launches reuse it. Each launch runs the real CLI in a
subprocess, polls the URL it prints until the notebook page answers 200 with the token, then
sends Ctrl-C and checks the container is gone. Figures are written into docs/share.md between
the ``bench`` markers. Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Everything envkit makes here carries the test-run label (the public ENVKIT_LABELS setting).
os.environ.setdefault("ENVKIT_LABELS", "dev.envkit.test-run=bench")

DOCS = ROOT / "docs" / "share.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
DEFAULT_NOTEBOOK = ROOT / "examples" / "sales" / "analysis.ipynb"
MYBINDER_MEDIAN = 15.0  # s, mybinder.org's published median launch time for an already-built image


def launch_once(notebook: Path, timeout: float = 600) -> tuple[float, str]:
    """Seconds from starting the CLI to a 200 of the notebook page; the CLI's output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "launch", str(notebook), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, lines = "", []
        while not url:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise RuntimeError("envkit launch ended early:\n" + proc.stderr.read())  # type: ignore[union-attr]
            lines.append(line)
            if "?token=" in line:
                url = line.split(": ", 1)[1].strip()
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"no answer from {url.split('?')[0]} within {timeout}s")
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        proc.send_signal(signal.SIGINT)
        if proc.wait(timeout=60) != 0:
            raise RuntimeError("envkit launch did not exit cleanly on Ctrl-C")
        return elapsed, "".join(lines) + proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOCS}: no {START} … {END} markers")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{START}\n{text}{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(DEFAULT_NOTEBOOK))
    parser.add_argument("--runs", type=int, default=3, help="launches after the first (default 3)")
    parser.add_argument("--base-image", default="",
                        help="build the environment FROM this image (default python:X.Y-slim; offline: "
                             "envkit-test-base:bookworm)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/share.md alone")
    args = parser.parse_args()

    from envkit.build import BuildOptions, ensure_image
    from envkit.engine.registry import inspect
    from envkit.launch import lab_image_plan

    work = Path(tempfile.mkdtemp(prefix="envkit-bench-launch-"))
    try:
        src = Path(args.notebook).resolve()
        shutil.copytree(src.parent, work / src.parent.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        notebook = work / src.parent.name / src.name
        t0 = time.perf_counter()
        record = ensure_image(notebook, options=BuildOptions(base_image=args.base_image))
        build_s = time.perf_counter() - t0
        layer_cached = inspect(lab_image_plan(record.id)[2]) is not None
        first, _ = launch_once(notebook)
        later = [launch_once(notebook)[0] for _ in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first_kind = "JupyterLab layer reused" if layer_cached else "JupyterLab layer built"
    rows = [
        "| launch (image built) | envkit, this machine | mybinder.org (published median) |",
        "|---|---|---|",
        f"| first launch ({first_kind}) | {first:.1f} s | {MYBINDER_MEDIAN:.0f} s |",
        f"| next launches (median of {len(later)}) | {statistics.median(later):.1f} s "
        f"(min {min(later):.1f}, max {max(later):.1f}) | {MYBINDER_MEDIAN:.0f} s |",
    ]
    env = (f"\nMeasured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
           f"notebook `{src.relative_to(ROOT) if src.is_relative_to(ROOT) else src.name}` "
           f"(environment image ready in {build_s:.1f} s before timing: built or reused).\n")
    table = "\n".join(rows) + "\n" + env
    print(table)
    if not args.no_docs:
        write_docs(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
