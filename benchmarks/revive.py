"""Reviving notebooks nobody here wrote: the default path notebook → image → ``envkit run``.

    python benchmarks/revive.py [CORPUS] [--limit N] [--base-image IMAGE] [--envkit-src DIR]
                                [--notebook PATH ...] [--json OUT] [--outputs DIR] [--keep]

CORPUS defaults to ``../shared/corpus`` next to the repository. Notebooks are picked in a fixed
order (round robin over the repositories) among those that need no network, data download,
GPU, credentials or a person at the keyboard, judged from their code by the written rules of
``eligibility.py`` (``--survey`` prints how many each rule leaves out and stops). Each notebook's
repository is copied to a scratch folder first (envkit writes its record into the notebook; the
corpus stays as it is), then ``envkit run NB -o OUT --allow-errors`` runs it, building its image
on ``--base-image``. ``--envkit-src`` runs another checkout's envkit (``git archive main envkit |
tar -x -C DIR``: the "before" figures), for the run and for the comparison of outputs.

Per notebook: built (an image ran the kernel), imports resolved (no ImportError in any cell),
ran to end (no cell raised), cells reproduced (code cells with stored outputs whose new
outputs compare equal under that envkit's ``compare_cells``). Prints a table by notebook, by
failure class and by the Python the notebook was saved with. Every image it builds carries
``dev.envkit.test-run=<label>`` and is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eligibility import needs  # noqa: E402 (a sibling module, run as a script)

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_CELL = 300
# Run as root (as here), the copy goes to the uid envkit's images give their user when root builds
# them: a root-owned folder is closed to the kernel's user, and every write would fail.
USER_UID = 1000
TIMEOUT_NOTEBOOK = 1800
COMPARE = """
import json, sys
from envkit.run import compare_cells
stored, new = (json.load(open(p)) for p in sys.argv[1:3])
n = sum(1 for c in stored["cells"] if c.get("cell_type") == "code" and c.get("outputs"))
diffs = {d.cell for d in compare_cells(stored["cells"], new["cells"])}
same = sum(1 for i, c in enumerate(stored["cells"], 1)
           if c.get("cell_type") == "code" and c.get("outputs") and i not in diffs)
print(json.dumps([same, n]))
"""


@dataclass
class Outcome:
    notebook: str
    python: str
    built: bool = False
    imports: bool = False
    to_end: bool = False
    reproduced: int = 0
    compared: int = 0
    failure: str = ""
    seconds: float = 0.0


def eligible(path: Path, root: Path | None = None) -> str | None:
    """None when ``path`` counts for the goal (see ``eligibility``), else what it needs."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unreadable"
    found = needs(nb, path.parent, root)
    return "; ".join(found) if found else None


def survey(corpus: Path) -> tuple[dict[str, list[Path]], Counter[str]]:
    """Eligible notebooks per repository (name order), and why the others are not, by rule."""
    eligible_by_repo: dict[str, list[Path]] = {}
    excluded: Counter[str] = Counter()
    for repo in sorted(p for p in corpus.iterdir() if p.is_dir() and p.name != "truth"):
        eligible_by_repo[repo.name] = []
        for nb in sorted(repo.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in nb.parts:
                continue
            why = eligible(nb, repo)
            if why is None:
                eligible_by_repo[repo.name].append(nb)
            else:  # the first rule a notebook meets names it
                excluded[why.split(" (")[0]] += 1
    return eligible_by_repo, excluded


def pick(corpus: Path, limit: int) -> list[Path]:
    """Eligible notebooks, round robin over repositories in name order; within a repository in a
    fixed pseudo-random order (a hash of the path), so a large one is sampled across its chapters
    rather than by its first files."""
    per_repo = [sorted(found, key=lambda nb: hashlib.sha256(str(nb.relative_to(corpus)).encode()).hexdigest())
                for found in survey(corpus)[0].values()]
    out: list[Path] = []
    while len(out) < limit and any(per_repo):
        for found in per_repo:
            if found and len(out) < limit:
                out.append(found.pop(0))
    return out


def python_of(path: Path) -> str:
    info = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("language_info", {})
    parts = str(info.get("version", "")).split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else "unknown"


def classify(stored: dict, executed: dict) -> tuple[bool, str]:
    """(imports resolved, first failure class) from an executed notebook's error outputs.

    A cell whose stored outputs hold an error too raised on purpose (a lesson on tracebacks); a
    code cell its author never ran (no execution count, no outputs: ``pd.read_csv(`` left to show
    tab completion) is not held against the run either.
    """
    old = stored.get("cells", [])
    for index, cell in enumerate(executed.get("cells", [])):
        before = old[index] if index < len(old) else {}
        expected = any(o.get("output_type") == "error" for o in before.get("outputs", [])) or (
            before.get("cell_type") == "code" and before.get("execution_count") is None and not before.get("outputs"))
        for out in [] if expected else cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            name, value = out.get("ename", ""), out.get("evalue", "")
            module = re.search(r"No module named '([\w.]+)'", value)
            if name == "ModuleNotFoundError" and module and "." in module.group(1):
                return True, "API change (submodule removed)"  # its package is there
            if name == "ImportError" and value.startswith("cannot import name"):
                return True, "API change (name removed from a module)"
            if name in {"ModuleNotFoundError", "ImportError"}:
                return False, f"missing import ({value[:80]})"
            if name == "OSError" and "is not a valid package style" in value:
                return True, "API change (matplotlib style removed)"
            if name == "FileNotFoundError" or (name == "OSError" and "No such file" in value):
                return True, "missing file"
            if name in {"AttributeError", "TypeError"} and re.search(r"unexpected keyword|has no attribute", value):
                return True, f"API change ({name})"
            if name == "CellTimeoutError" or "timed out" in value.lower():
                return True, "timeout"
            return True, f"error ({name})"
    return True, ""


def run_one(src: Path, corpus: Path, scratch: Path, base_image: str, env: dict[str, str]) -> Outcome:
    rel = src.relative_to(corpus)
    repo = scratch / rel.parts[0]
    if not repo.exists():
        shutil.copytree(corpus / rel.parts[0], repo)
        for path in [repo, *repo.rglob("*")]:  # the shared corpus has no write bits
            path.chmod(path.stat().st_mode | 0o200)
            if os.geteuid() == 0:  # a checkout belongs to its user, not root (see USER_UID)
                os.chown(path, USER_UID, USER_UID)
    nb = scratch / rel
    out = scratch / "out" / (str(rel).replace("/", "__"))
    out.parent.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(notebook=str(rel), python=python_of(src))
    command = [sys.executable, "-m", "envkit", "run", str(nb), "-o", str(out), "--allow-errors",
               "--timeout", str(TIMEOUT_CELL)]
    if base_image:
        command += ["--base-image", base_image]
    start = time.perf_counter()
    for attempt in range(2):  # a build that fails in seconds is often the shared proxy: once more
        try:
            proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=scratch,
                                  timeout=TIMEOUT_NOTEBOOK)
            stderr = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            stderr = "notebook timed out"
        if out.exists() or attempt:
            break
        print(f"{rel}: retrying after: {_first_error(stderr)}", file=sys.stderr, flush=True)
    outcome.seconds = round(time.perf_counter() - start, 1)
    if not out.exists():
        # "built envkit/x:… in 80s" or "reused …": the image is there, the run failed
        outcome.built = bool(re.search(r"^(built|reused) ", stderr, re.M))
        if re.search(r"CellTimeoutError|timed out", stderr):
            outcome.failure = "timeout (no output written)"
        elif outcome.built:
            outcome.failure = f"run failed: {_first_error(stderr)}"
        else:
            outcome.failure = f"build failed: {_first_error(stderr)}"
        return outcome
    outcome.built = True
    executed = json.loads(out.read_text(encoding="utf-8"))
    outcome.imports, outcome.failure = classify(json.loads(src.read_text(encoding="utf-8")), executed)
    outcome.to_end = outcome.failure == ""
    compared = subprocess.run([sys.executable, "-c", COMPARE, str(src), str(out)], capture_output=True,
                              text=True, env=env)
    if compared.returncode == 0:
        outcome.reproduced, outcome.compared = json.loads(compared.stdout)
    return outcome


def rescore(results: Path, outputs: Path, corpus: Path) -> list[Outcome]:
    """A run's outcomes (its ``--json``) classified again from its executed copies (``--outputs``),
    leaving out the notebooks the eligibility rules now leave out."""
    outcomes = []
    for item in json.loads(results.read_text()):
        outcome = Outcome(**item)
        src = corpus / outcome.notebook
        if eligible(src, corpus / Path(outcome.notebook).parts[0]) is not None:
            continue
        out = outputs / outcome.notebook.replace("/", "__")
        if out.exists():
            executed = json.loads(out.read_text(encoding="utf-8"))
            outcome.imports, outcome.failure = classify(json.loads(src.read_text(encoding="utf-8")), executed)
            outcome.to_end = outcome.failure == ""
        outcomes.append(outcome)
    return outcomes


def _first_error(text: str) -> str:
    """The first line that says what went wrong, for the table."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if re.search(r"error|failed|cannot|No solution", line, re.I) and not line.startswith("["):
            return line[:140].replace("|", "/")
    return lines[-1][:140].replace("|", "/") if lines else "?"


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f} %)" if d else "0/0"


def report(outcomes: list[Outcome], title: str) -> str:
    lines = [f"## {title}", "", "| notebook | Python | built | imports | to end | cells reproduced | failure | s |",
             "|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        yes = {True: "yes", False: "no"}
        lines.append(f"| {o.notebook} | {o.python} | {yes[o.built]} | {yes[o.imports]} | {yes[o.to_end]} | "
                     f"{o.reproduced}/{o.compared} | {o.failure} | {o.seconds:.0f} |")
    n = len(outcomes)
    cells = sum(o.reproduced for o in outcomes), sum(o.compared for o in outcomes)
    lines += ["", f"built {pct(sum(o.built for o in outcomes), n)}, imports resolved "
              f"{pct(sum(o.imports and o.built for o in outcomes), n)}, ran to end "
              f"{pct(sum(o.to_end for o in outcomes), n)}, cells reproduced {pct(*cells)}", ""]
    classes = Counter(o.failure.split(":")[0] for o in outcomes if o.failure)
    lines += ["| failure class | notebooks |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in classes.most_common()] or ["| (none) | 0 |"]
    by_python: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_python[o.python].append(o)
    lines += ["", "| notebook's Python | notebooks | built | ran to end | cells reproduced |", "|---|---|---|---|---|"]
    for py, group in sorted(by_python.items()):
        lines.append(f"| {py} | {len(group)} | {sum(o.built for o in group)} | {sum(o.to_end for o in group)} | "
                     f"{sum(o.reproduced for o in group)}/{sum(o.compared for o in group)} |")
    return "\n".join(lines)


def cleanup(label: str) -> int:
    """Remove the containers and images this run labelled; the number of images removed."""
    import docker

    client = docker.from_env()
    selector = {"label": f"dev.envkit.test-run={label}"}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True)
    removed = 0
    for image in client.images.list(filters=selector):
        try:
            client.images.remove(image.id, force=True)
            removed += 1
        except docker.errors.APIError as exc:
            print(f"could not remove {image.short_id}: {exc}", file=sys.stderr)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=str(REPO.parent.parent / "shared" / "corpus"))
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--base-image", default="envkit-test-base:bookworm")
    parser.add_argument("--envkit-src", default="", help="a folder holding another envkit/ to measure")
    parser.add_argument("--notebook", action="append", default=[], help="run these (paths under CORPUS)")
    parser.add_argument("--json", default="")
    parser.add_argument("--title", default="revive")
    parser.add_argument("--keep", action="store_true", help="keep the images (default: removed)")
    parser.add_argument("--outputs", default="", help="copy the executed notebooks here (to score them again)")
    parser.add_argument("--rescore", default="", help="score a run's --json and --outputs again (no run)")
    parser.add_argument("--survey", action="store_true", help="print what the eligibility rules leave out, and stop")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus).resolve()
    if not corpus.is_dir():
        corpus = Path("/work/shared/corpus")
    if args.survey:
        found, excluded = survey(corpus)
        print(f"eligible: {sum(len(v) for v in found.values())} "
              f"({', '.join(f'{k} {len(v)}' for k, v in found.items())})")
        print("\n".join(f"left out, {why}: {n}" for why, n in excluded.most_common()))
        return 0
    if args.rescore:
        print(report(rescore(Path(args.rescore), Path(args.outputs), corpus), args.title))
        return 0
    notebooks = [corpus / n for n in args.notebook] or pick(corpus, args.limit)
    label = f"revive-{uuid.uuid4().hex[:10]}"
    # envkit reads no ENVKIT_TEST_RUN any more: the run's label goes in through ENVKIT_LABELS
    extra = ",".join(x for x in (os.environ.get("ENVKIT_LABELS", ""), f"dev.envkit.test-run={label}") if x)
    env = dict(os.environ, ENVKIT_LABELS=extra)
    if args.envkit_src:
        env["PYTHONPATH"] = str(Path(args.envkit_src).resolve())
    outcomes: list[Outcome] = []
    # a SIGTERM still removes what this run built
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="envkit-revive-") as tmp:
        Path(tmp).chmod(0o755)  # the copies' user reaches them
        try:
            for nb in notebooks:
                outcome = run_one(nb, corpus, Path(tmp), args.base_image, env)
                print(json.dumps(asdict(outcome)), file=sys.stderr, flush=True)
                outcomes.append(outcome)
        finally:
            if args.outputs and (Path(tmp) / "out").is_dir():
                shutil.copytree(Path(tmp) / "out", args.outputs, dirs_exist_ok=True)
            if not args.keep:
                print(f"removed {cleanup(label)} images labelled {label}", file=sys.stderr)
    print(report(outcomes, args.title))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
