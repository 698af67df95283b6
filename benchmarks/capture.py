"""Benchmark envkit's static capture against the adjudicated corpus, beside pipreqs.

    python benchmarks/capture.py [CORPUS] [--no-pipreqs] [--json OUT]

CORPUS defaults to ``../shared/corpus`` next to the repository. For each ``<owner>+<repo>/``
folder with a ``truth/<owner>+<repo>.json``, envkit captures every notebook below it (the
``envkit capture --json FOLDER`` command, in a fresh process, as a user runs it) and pipreqs runs
on the same folder (``--scan-notebooks --mode no-pin --print``) from its own virtual environment
(``/tmp/pipreqs-venv``, created with pipreqs from the package index if missing). A pipreqs crash
counts as predicting nothing. Scoring follows the corpus README:

    recall    = |predicted ∩ required| / |required|
    precision = |predicted ∩ (required ∪ acceptable)| / |predicted|

Overall figures pool the counts of all repositories; times are the median of ``--repeat`` runs
per tool and repository, summed. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PIPREQS_VENV = Path("/tmp/pipreqs-venv")


def envkit_predict(folder: Path) -> tuple[set[str], float, int]:
    """Distribution names envkit predicts for ``folder``, seconds taken, notebooks read."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "envkit", "capture", "--json", str(folder)],
                          capture_output=True, text=True, cwd="/tmp")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"envkit failed on {folder.name}: {proc.stderr.strip()}", file=sys.stderr)
        return set(), elapsed, 0
    data = json.loads(proc.stdout)
    return {canonicalize_name(r["name"]) for r in data["requirements"]}, elapsed, len(data["notebooks"])


def envkit_in_process(folder: Path) -> float:
    """Seconds ``capture_paths`` takes inside a running process, as ``%envkit capture`` runs."""
    sys.path.insert(0, str(REPO))
    from envkit.capture import capture_paths

    start = time.perf_counter()
    capture_paths([folder])
    return time.perf_counter() - start


def ensure_pipreqs() -> Path:
    """pipreqs in its own virtual environment (never in envkit's)."""
    exe = PIPREQS_VENV / "bin" / "pipreqs"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PIPREQS_VENV)], check=True)
        subprocess.run([str(PIPREQS_VENV / "bin" / "pip"), "install", "-q", "pipreqs"], check=True)
    return exe


def _index_json_api() -> str:
    """pip's own default index JSON API (pipreqs' built-in default host may not resolve here)."""
    proc = subprocess.run([str(PIPREQS_VENV / "bin" / "python"), "-c",
                           "from pip._internal.models.index import PyPI; print(PyPI.pypi_url)"],
                          capture_output=True, text=True)
    return proc.stdout.strip().rstrip("/") + "/" if proc.returncode == 0 else ""


def pipreqs_predict(exe: Path, folder: Path, server: str) -> tuple[set[str], float, bool]:
    """Names pipreqs prints for ``folder``, seconds taken, and whether it crashed."""
    env = dict(os.environ)
    cert = env.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    if Path(cert).exists():  # pipreqs talks to the index through requests: same CA bundle as pip
        env.setdefault("REQUESTS_CA_BUNDLE", cert)
    cmd = [str(exe), "--scan-notebooks", "--mode", "no-pin", "--print"]
    if server:
        cmd += ["--pypi-server", server]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, str(folder)], capture_output=True, text=True, env=env, cwd="/tmp")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        return set(), elapsed, True
    names = set()
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "INFO", "WARNING", "ERROR")):
            names.add(canonicalize_name(line.split("==")[0].split(">=")[0].split("~=")[0].strip()))
    return names, elapsed, False


def score(predicted: set[str], truth: dict) -> dict[str, int]:  # type: ignore[type-arg]
    required = {canonicalize_name(n) for n in truth["required"]}
    acceptable = {canonicalize_name(n) for n in truth.get("acceptable", [])}
    return {"hit_required": len(predicted & required), "required": len(required),
            "hit_ok": len(predicted & (required | acceptable)), "predicted": len(predicted)}


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=str(REPO.parent / "shared" / "corpus"))
    parser.add_argument("--no-pipreqs", action="store_true", help="score envkit alone")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per tool and repository; the median time counts (pipreqs' index look-ups vary)")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    truths = sorted((corpus / "truth").glob("*.json"))
    if not truths:
        print(f"no truth files in {corpus / 'truth'}", file=sys.stderr)
        return 1
    exe = None if args.no_pipreqs else ensure_pipreqs()
    server = _index_json_api() if exe else ""
    rows, totals = [], {"envkit": [0, 0, 0, 0], "pipreqs": [0, 0, 0, 0]}
    times = {"envkit": 0.0, "pipreqs": 0.0, "in_process": 0.0}
    notebooks = 0
    for truth_file in truths:
        truth = json.loads(truth_file.read_text())
        folder = corpus / truth_file.stem
        runs = [envkit_predict(folder) for _ in range(max(1, args.repeat))]
        predicted, count = runs[0][0], runs[0][2]
        seconds = statistics.median(r[1] for r in runs)
        in_process = statistics.median(envkit_in_process(folder) for _ in range(max(1, args.repeat)))
        times["in_process"] += in_process
        notebooks += count
        times["envkit"] += seconds
        s = score(predicted, truth)
        row = {"repo": truth["repo"], "notebooks": count, "envkit": s, "envkit_s": seconds,
               "missing": sorted({canonicalize_name(n) for n in truth["required"]} - predicted),
               "extra": sorted(predicted - {canonicalize_name(n) for n in truth["required"] + truth.get("acceptable", [])})}
        for i, key in enumerate(("hit_required", "required", "hit_ok", "predicted")):
            totals["envkit"][i] += s[key]
        if exe is not None:
            p_runs = [pipreqs_predict(exe, folder, server) for _ in range(max(1, args.repeat))]
            p_pred, crashed = p_runs[0][0], p_runs[0][2]
            p_seconds = statistics.median(r[1] for r in p_runs)
            times["pipreqs"] += p_seconds
            ps = score(p_pred, truth)
            row.update(pipreqs=ps, pipreqs_s=p_seconds, pipreqs_crashed=crashed)
            for i, key in enumerate(("hit_required", "required", "hit_ok", "predicted")):
                totals["pipreqs"][i] += ps[key]
        rows.append(row)

    print("| repository | notebooks | envkit P | envkit R | envkit s | pipreqs P | pipreqs R | pipreqs s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        e = r["envkit"]
        line = (f"| {r['repo']} | {r['notebooks']} | {_ratio(e['hit_ok'], e['predicted']):.2f} | "
                f"{_ratio(e['hit_required'], e['required']):.2f} | {r['envkit_s']:.2f} |")
        if "pipreqs" in r:
            p = r["pipreqs"]
            crash = " (crashed)" if r["pipreqs_crashed"] else ""
            line += (f" {_ratio(p['hit_ok'], p['predicted']):.2f} | {_ratio(p['hit_required'], p['required']):.2f}"
                     f" | {r['pipreqs_s']:.2f}{crash} |")
        else:
            line += " – | – | – |"
        print(line)
    e = totals["envkit"]
    overall = {"precision": _ratio(e[2], e[3]), "recall": _ratio(e[0], e[1]),
               "notebooks": notebooks, "envkit_seconds": times["envkit"],
               "envkit_notebooks_per_second": notebooks / times["envkit"] if times["envkit"] else 0.0,
               "envkit_in_process_seconds": times["in_process"],
               "envkit_in_process_notebooks_per_second": notebooks / times["in_process"]}
    line = (f"| **overall** | {notebooks} | {overall['precision']:.2f} | {overall['recall']:.2f} | "
            f"{times['envkit']:.2f} |")
    if exe is not None:
        p = totals["pipreqs"]
        overall.update(pipreqs_precision=_ratio(p[2], p[3]), pipreqs_recall=_ratio(p[0], p[1]),
                       pipreqs_seconds=times["pipreqs"],
                       pipreqs_notebooks_per_second=notebooks / times["pipreqs"] if times["pipreqs"] else 0.0,
                       speedup=times["pipreqs"] / times["envkit"] if times["envkit"] else 0.0,
                       speedup_in_process=times["pipreqs"] / times["in_process"])
        line += f" {overall['pipreqs_precision']:.2f} | {overall['pipreqs_recall']:.2f} | {times['pipreqs']:.2f} |"
    else:
        line += " – | – | – |"
    print(line)
    print()
    print(f"envkit CLI (a process per repository): {overall['envkit_notebooks_per_second']:.1f} notebooks/s;"
          f" envkit in a running process: {overall['envkit_in_process_notebooks_per_second']:.1f} notebooks/s")
    if exe is not None:
        print(f"pipreqs: {overall['pipreqs_notebooks_per_second']:.1f} notebooks/s; envkit is"
              f" {overall['speedup']:.1f}x pipreqs' speed as a CLI, {overall['speedup_in_process']:.1f}x in process")
    for r in rows:
        if r["missing"] or r["extra"]:
            print(f"{r['repo']}: missing {r['missing']}, extra {r['extra']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"overall": overall, "repositories": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
