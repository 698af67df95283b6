"""Build speed and image size, on one small notebook spec (issue 3, "Speed").

    python benchmarks/build.py [--base-image IMAGE] [--write docs/build.md]

Measures, in one run: a cold build (no layer cache), a rebuild with nothing changed (the spec
digest look-up), a rebuild after adding one small package (and, beside it, the time to install
that package alone on the same environment), the same lock installed with pip and with uv, and
the image's size against the base image plus the installed packages. Everything it builds
carries a ``dev.envkit.test-run=bench-…`` label and is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

RUN = f"bench-{uuid.uuid4().hex[:8]}"
# Everything envkit makes here carries the test-run label (the public ENVKIT_LABELS setting).
os.environ["ENVKIT_LABELS"] = ",".join(filter(None, [os.environ.get("ENVKIT_LABELS", ""), f"dev.envkit.test-run={RUN}"]))

from envkit.build import BuildOptions, build_dockerfile, build_spec, forwarding_files  # noqa: E402
from envkit.engine import connect  # noqa: E402
from envkit.engine.images import tag_image  # noqa: E402
from envkit.labels import LABEL_TEST_RUN, base_labels  # noqa: E402
from envkit.plan import UV_VERSION  # noqa: E402
from envkit.spec import EnvSpec, Requirement  # noqa: E402

PACKAGES = ("requests", "six")
ADDED = ("attrs", "iniconfig", "pluggy")
REPEAT = 3
BEGIN, END = "<!-- benchmark:begin -->", "<!-- benchmark:end -->"


def spec(*names: str) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(n) for n in names))


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN201 - a tiny stopwatch
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - start


def run_in(image: str, command: str) -> str:
    out = connect().containers.run(image, ["sh", "-c", command], remove=True, labels=base_labels("run"))
    return out.decode().strip()


def install_alone(image: str, package: str) -> float:
    """Seconds for one build step that installs ``package`` onto ``image``'s environment."""
    dockerfile = f"FROM {image}\nRUN uv pip install {package}\n"
    _, seconds = timed(build_dockerfile, dockerfile, {}, tag="", labels={})
    return seconds


def pip_vs_uv(base: str, requirements: str) -> tuple[float, float]:
    """Seconds to install the same hashed lock with pip and with uv, on the same prepared image."""
    prep = (f"FROM {base}\nCOPY ca-certificates.crt /ca.crt\n"
            "ENV PIP_CERT=/ca.crt SSL_CERT_FILE=/ca.crt\n"
            "RUN python3 -m venv /opt/pip-venv && python3 -m venv --without-pip /opt/uv-venv"
            f" && python3 -m venv /tmp/b && /tmp/b/bin/pip install -q --target /opt/uv uv=={UV_VERSION} && rm -rf /tmp/b\n"
            "COPY requirements.txt /requirements.txt\n")
    files = {**forwarding_files(), "requirements.txt": requirements.encode()}
    files.setdefault("ca-certificates.crt", b"")
    prepared = build_dockerfile(prep, files, tag="", labels={})
    pip_cmd = ("/opt/pip-venv/bin/pip install -q --no-cache-dir --disable-pip-version-check --no-deps "
               "--require-hashes -r /requirements.txt")
    uv_cmd = "UV_NO_CACHE=1 /opt/uv/bin/uv pip install -q --compile-bytecode --python /opt/uv-venv/bin/python --no-deps " \
             "--require-hashes -r /requirements.txt"
    # pip byte-compiles by default; uv is asked to (as envkit's images do), so both do the same work.
    pip_runs, uv_runs = [], []
    for n in range(REPEAT):  # alternated, so a slow moment of the network hits both alike
        # A distinct comment per run: the engine's cache must not answer for the install.
        pip_runs.append(timed(build_dockerfile, f"FROM {prepared}\nRUN {pip_cmd} # {n}\n", {}, tag="",
                              labels={})[1])
        uv_runs.append(timed(build_dockerfile, f"FROM {prepared}\nRUN {uv_cmd} # {n}\n", {}, tag="",
                             labels={})[1])
    return statistics.median(pip_runs), statistics.median(uv_runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", default=os.environ.get("ENVKIT_TEST_BASE_IMAGE", "envkit-test-base:bookworm"))
    parser.add_argument("--write", default="", help="replace the figures between the markers in this file")
    args = parser.parse_args(argv)
    client = connect()
    options = BuildOptions(base_image=args.base_image, uid=1500)
    rows: list[tuple[str, str]] = []
    try:
        cold, cold_s = timed(build_spec, spec(*PACKAGES), options=replace(options, no_cache=True),
                             notebook="bench.ipynb")
        rows.append((f"cold build ({', '.join(PACKAGES)} + ipykernel; installer and packages, no layer cache)",
                     f"{cold_s:.1f} s"))
        again, again_s = timed(build_spec, spec(*PACKAGES), options=options, notebook="bench.ipynb")
        assert again.reused
        rows.append(("rebuild, nothing changed (spec digest look-up)", f"{again_s:.2f} s"))
        added_runs, alone_runs = [], []
        for package in ADDED:  # each one added to the cold image's spec, under a tag of its own
            tag = f"envkit/bench-add-{package}:latest"
            tag_image(cold.image.id, tag)
            added_runs.append(timed(build_spec, spec(*PACKAGES, package),
                                    options=replace(options, tag=tag), notebook="bench.ipynb")[1])
            alone_runs.append(install_alone(cold.image.id, package))
        ratios = sorted(a / b for a, b in zip(added_runs, alone_runs, strict=True))
        rows.append((f"rebuild after adding one package ({', '.join(ADDED)}; packages layer and later only)",
                     f"{statistics.median(added_runs):.1f} s (median {ratios[len(ratios) // 2]:.1f}x, range "
                     f"{ratios[0]:.1f}-{ratios[-1]:.1f}x, the time to install that package alone: "
                     f"{statistics.median(alone_runs):.1f} s)"))
        pip_s, uv_s = pip_vs_uv(args.base_image, cold.lock.requirements_txt())
        rows.append((f"same lock ({len(cold.lock.packages)} packages, hashes), pip install (median of {REPEAT})",
                     f"{pip_s:.1f} s"))
        rows.append((f"same lock, uv pip install (median of {REPEAT})", f"{uv_s:.1f} s ({pip_s / uv_s:.1f}x faster)"))
        base_size = client.images.get(args.base_image).attrs["Size"]
        image_size = client.images.get(cold.image.id).attrs["Size"]
        sizes = run_in(cold.image.id, "du -sb /opt/envkit/venv /opt/envkit/installer | cut -f1")
        venv_size, installer_size = (int(x) for x in sizes.split())
        overhead = image_size - base_size - venv_size
        rows.append(("image size", f"{image_size / 1e6:.0f} MB = base {base_size / 1e6:.0f} MB + packages "
                                   f"{venv_size / 1e6:.0f} MB + {overhead / 1e6:.0f} MB "
                                   f"({100 * overhead / (base_size + venv_size):.0f}% overhead; uv itself "
                                   f"{installer_size / 1e6:.0f} MB)"))
    finally:
        for image in client.images.list(filters={"label": f"{LABEL_TEST_RUN}={RUN}"}):
            try:
                client.images.remove(image.id, force=True)
            except Exception:  # noqa: BLE001 - best effort: a parent removed first takes its children
                pass
    table = "| measurement | result |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    print(table)
    if args.write:
        path = Path(args.write)
        text = path.read_text()
        block = f"{BEGIN}\n{table}{END}"
        path.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
