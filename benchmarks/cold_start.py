"""Cold start of envkit's commands that read a notebook, beside a peer measured in the same run.

    python benchmarks/cold_start.py [NOTEBOOK] [--repeat N] [--before REV] [--no-kernel]

Every figure is the median wall time of ``--repeat`` fresh processes (after one unmeasured run,
so Python's bytecode caches are warm, as after ``pip install``); the commands take turns, so
load on the machine hits all of them alike. The peer is what any Jupyter tool
pays to read the same notebook: ``python -c "import nbformat; nbformat.read(...)"``, whose import
brings jsonschema (and, where JupyterLab is installed, rfc3987-syntax's grammars). envkit's
commands run on a copy of NOTEBOOK (default: examples/sales/analysis.ipynb), made afresh before
each run; ``dockerfile`` on a copy that already holds a record. ``kernel`` is
``%load_ext envkit`` + ``%envkit capture --write`` in a fresh ipykernel (nbclient), timed inside
the kernel (kernel start-up left out).

``--before REV`` runs the same commands from the envkit and templates of a git revision
(extracted with ``git archive`` into a temporary folder, first on ``PYTHONPATH``) in the same
run, taking turns with today's; the table then shows before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEER = "peer: import nbformat; nbformat.read"

KERNEL_DRIVER = textwrap.dedent("""
    import sys
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell("import time\\nt0 = time.perf_counter()"),
        new_code_cell("%load_ext envkit"),
        new_code_cell("%envkit capture --write " + sys.argv[1]),
        new_code_cell("print('SECONDS', time.perf_counter() - t0)"),
    ])
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    print(nb.cells[-1].outputs[0]["text"])
""")


def timed(argv: list[str], env: dict[str, str], prepare: Callable[[], None] | None = None) -> float:
    """Seconds one fresh process takes; a failure stops the benchmark with its stderr."""
    if prepare:
        prepare()
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd="/tmp")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    if "SECONDS" in proc.stdout:  # the kernel driver: the time measured inside the kernel
        return float(proc.stdout.split("SECONDS", 1)[1].split()[0])
    return elapsed


Run = tuple[list[str], dict[str, str], Callable[[], None] | None]  # argv, environment, preparation


def medians(runs: dict[str, Run], repeat: int) -> dict[str, float]:
    """The median seconds of each run; the runs take turns, so load on the machine hits all alike."""
    for argv, env, prepare in runs.values():
        timed(argv, env, prepare)  # warm the bytecode caches; not counted
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (argv, env, prepare) in runs.items():
            times[name].append(timed(argv, env, prepare))
    return {name: statistics.median(t) for name, t in times.items()}


def tree_of(rev: str, into: Path) -> Path:
    """envkit and templates as they were at ``rev``, in ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "envkit", "templates"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def environment(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "ENVKIT_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def envkit_runs(notebook: Path, tree: Path, work: Path, kernel: bool) -> dict[str, Run]:
    """envkit's cold starts with the envkit in ``tree``, on copies of ``notebook`` in ``work``."""
    env = environment(tree)
    copy, recorded = work / notebook.name, work / "recorded" / notebook.name
    for folder in (work, recorded.parent):
        folder.mkdir(parents=True, exist_ok=True)
        for extra in notebook.parent.iterdir():  # the notebook's local modules come along
            if extra.is_file():
                shutil.copy(extra, folder / extra.name)

    def fresh() -> None:
        shutil.copy(notebook, copy)

    envkit = [sys.executable, "-m", "envkit"]
    subprocess.run([*envkit, "capture", "--write", str(recorded)], env=env, check=True, capture_output=True)
    runs: dict[str, Run] = {
        "envkit capture": ([*envkit, "capture", str(copy)], env, fresh),
        "envkit capture --write": ([*envkit, "capture", "--write", str(copy)], env, fresh),
        "envkit dockerfile": ([*envkit, "dockerfile", str(recorded)], env, None),
    }
    if kernel:
        runs["kernel: %load_ext + %envkit capture --write"] = ([sys.executable, "-c", KERNEL_DRIVER, str(copy)],
                                                               env, fresh)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", nargs="?", type=Path, default=REPO / "examples" / "sales" / "analysis.ipynb")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also measure envkit as of this git revision")
    parser.add_argument("--no-kernel", dest="kernel", action="store_false", help="skip the in-kernel figure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    notebook = args.notebook.resolve()

    base_env = environment(REPO)
    read = f"import nbformat; nbformat.read({str(notebook)!r}, as_version=4)"
    runs: dict[str, Run] = {
        "python -c pass": ([sys.executable, "-c", "pass"], base_env, None),
        PEER: ([sys.executable, "-c", read], base_env, None),
        # envkit asks pip for the host's index settings (envkit.settings): part of every build
        "pip config list (inside dockerfile and build)": ([sys.executable, "-m", "pip", "config", "list"],
                                                          base_env, None),
    }
    with tempfile.TemporaryDirectory(prefix="envkit-cold-") as tmp:
        root = Path(tmp)
        after = envkit_runs(notebook, REPO, root / "after", args.kernel)
        runs.update(after)
        if args.before:
            (root / "tree").mkdir()
            tree = tree_of(args.before, root / "tree")
            before = envkit_runs(notebook, tree, root / "before", args.kernel)
            runs.update({f"{name} (before)": run for name, run in before.items()})
        figures = medians(runs, args.repeat)

    peer = figures[PEER]
    print(f"{notebook.name}, median of {args.repeat} fresh processes, seconds\n")
    head = "| command | s | ÷ peer |" + (f" s at {args.before} | before ÷ now |" if args.before else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, seconds in figures.items():
        if name.endswith(" (before)"):
            continue
        row = f"| {name} | {seconds:.2f} | {seconds / peer:.2f} |"
        if args.before:
            then = figures.get(f"{name} (before)")
            row += f" {then:.2f} | {then / seconds:.1f}× |" if then is not None else " | |"
        print(row)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
