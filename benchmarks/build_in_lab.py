"""``%envkit build`` with nothing changed, from a notebook in a real kernel (issue 8, "Tests and figures").

    python benchmarks/build_in_lab.py [--base-image IMAGE] [--repeat N] [--browser]

A small notebook (``six``) is built once (warm-up, not counted); then, N times, a fresh kernel
(nbclient, as a front end starts one) runs ``%load_ext envkit`` and ``%envkit build``, and the
time from sending the build cell's ``execute_request`` to its reply is measured: what a user
waits for after pressing Shift+Enter, kernel start-up excluded. Everything it builds carries a
``dev.envkit.test-run=bench-…`` label and is removed at the end.

With ``--browser`` (needs ``jupyterlab`` on the host and Debian's ``/usr/bin/chromium``), the
same notebook is opened in a JupyterLab on 127.0.0.1 driven by Playwright: the first cells are
run, then the time from pressing Shift+Enter on the build cell to the command's last line
("wrote the lock …") appearing in the page is measured, N times in one kernel.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

RUN = f"bench-{uuid.uuid4().hex[:8]}"
# Everything envkit makes here carries the test-run label (the public ENVKIT_LABELS setting),
# in this process and in the kernels nbclient starts (they inherit the environment).
os.environ["ENVKIT_LABELS"] = ",".join(filter(None, [os.environ.get("ENVKIT_LABELS", ""), f"dev.envkit.test-run={RUN}"]))
os.environ["ENVKIT_WIDGETS"] = "1"

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from envkit.engine import connect  # noqa: E402
from envkit.labels import LABEL_TEST_RUN  # noqa: E402
from envkit.notebook import write_envkit  # noqa: E402
from envkit.spec import EnvkitMetadata, EnvSpec, Requirement  # noqa: E402


def notebook(folder: Path, base_image: str) -> Path:
    """A notebook with a stored spec whose last cell is ``%envkit build``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        "import six", "%load_ext envkit", f"%config EnvkitMagics.base_image = '{base_image}'", "%envkit build")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "bench.ipynb"
    nbformat.write(nb, str(path))
    write_envkit(path, EnvkitMetadata(spec=EnvSpec(python="3.11", requirements=(Requirement.parse("six"),))))
    return path


def timed_build(path: Path) -> tuple[float, str]:
    """Seconds from the build cell's execute request to its reply, and what the cell showed."""
    nb = nbformat.read(str(path), as_version=4)
    marks: dict[str, float] = {}

    def started(cell, cell_index, **_):  # type: ignore[no-untyped-def]
        if cell_index == len(nb.cells) - 1:
            marks["start"] = time.perf_counter()

    def finished(cell, cell_index, **_):  # type: ignore[no-untyped-def]
        if cell_index == len(nb.cells) - 1:
            marks["end"] = time.perf_counter()

    os.environ["JPY_SESSION_NAME"] = str(path.resolve())
    client = NotebookClient(nb, timeout=900, kernel_name="python3", on_cell_execute=started,
                            on_cell_executed=finished, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = nb.cells[-1].outputs
    errors = [o for o in outputs if o.output_type == "error"]
    if errors:
        raise SystemExit("the build cell failed:\n" + "\n".join(errors[0].traceback))
    shown = "\n".join(o.get("text") or o.get("data", {}).get("text/plain", "") for o in outputs)
    return marks["end"] - marks["start"], shown


CHROMIUM = "/usr/bin/chromium"


def browser_builds(path: Path, repeat: int) -> list[float]:
    """Seconds from Shift+Enter on the build cell to its result line in a real JupyterLab page."""
    import secrets
    import socket
    import subprocess

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={path.parent}", "--allow-root",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: list[float] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            deadline = time.monotonic() + 180
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/lab/tree/{path.name}?token={token}", timeout=30_000)
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            while cells.count() < 4:  # the page renders its cells one after another
                if time.monotonic() > deadline:
                    raise TimeoutError("the notebook's cells did not appear")
                time.sleep(0.2)
            for i in range(cells.count() - 1):  # import, %load_ext, %config
                cells.nth(i).locator(".jp-InputArea-editor").click()
                page.keyboard.press("Shift+Enter")
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            build = cells.nth(cells.count() - 1)
            for _ in range(repeat):
                build.locator(".jp-InputArea-editor").click()
                started = time.perf_counter()
                page.keyboard.press("Shift+Enter")
                build.locator("text=wrote the lock").wait_for(timeout=600_000)
                times.append(time.perf_counter() - started)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return times


def cleanup() -> None:
    client = connect()
    for image in client.images.list(filters={"label": f"{LABEL_TEST_RUN}={RUN}"}):
        try:
            client.images.remove(image.id, force=True)
        except Exception:  # noqa: BLE001 - best effort: a parent removed first takes its children
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", default="envkit-test-base:bookworm")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also measure Shift+Enter to done in a real JupyterLab")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="envkit-bench-") as folder:
            path = notebook(Path(folder), args.base_image)
            warm, _ = timed_build(path)
            print(f"warm-up (first build of this spec): {warm:.2f} s", file=sys.stderr)
            times, shown = [], ""
            for _ in range(args.repeat):
                seconds, shown = timed_build(path)
                times.append(seconds)
            print("the cell showed:\n" + shown)
            print(f"%envkit build, nothing changed, execute to done (nbclient, {args.repeat} fresh kernels): "
                  f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
            if args.browser:
                clicks = browser_builds(path, args.repeat)
                print(f"%envkit build, nothing changed, Shift+Enter to the result line in JupyterLab (chromium, "
                      f"{args.repeat} runs in one kernel): median {statistics.median(clicks):.2f} s, "
                      f"min {min(clicks):.2f} s, max {max(clicks):.2f} s")
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
