"""A package index of the test's own, served on a private engine's bridge.

Builds in a private dockerd reach no network (``--iptables=false``, see second_engine.py); they
do reach the host at the bridge's gateway address. This index holds the wheels the host's pip
downloads for the image's Python (uv and ipykernel with their dependencies), as a PEP 503 simple
index with sha256 fragments, served over HTTP on that address only, for the test's lifetime.
"""

from __future__ import annotations

import hashlib
import html
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

MARKED = ("exceptiongroup", "typing_extensions", "importlib_metadata", "zipp", "tomli")


def platforms(glibc: int) -> list[str]:
    """pip ``--platform`` tags of an x86_64 Linux with glibc 2.``glibc`` (bullseye 31, bookworm 36, trixie 41)."""
    return [f"manylinux_2_{n}_x86_64" for n in range(glibc, 4, -1)] + ["manylinux2014_x86_64", "manylinux2010_x86_64",
                                                                        "manylinux1_x86_64"]


def download(requirements: Sequence[str], python: str, dest: Path, *, glibc: int) -> None:
    """The wheels of ``requirements`` and their dependencies for CPython ``python`` on x86_64 Linux
    with glibc 2.``glibc`` (a wheel for a newer glibc would not install in the image)."""
    dest.mkdir(parents=True, exist_ok=True)
    # pip judges dependency markers by the Python it runs on, not --python-version: name the
    # backports an older (or newer) Python needs (ipython: exceptiongroup below 3.11, ...).
    requirements = [*requirements, *MARKED]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
           "--python-version", python, "--dest", str(dest), *[a for p in platforms(glibc) for a in ("--platform", p)],
           *requirements]
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)


def write_simple_index(wheels: Path, root: Path) -> None:
    """``root/simple/<name>/index.html`` linking to the wheels in ``wheels`` (a PEP 503 index)."""
    names: dict[str, list[Path]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        names.setdefault(str(canonicalize_name(parse_wheel_filename(wheel.name)[0])), []).append(wheel)
    simple = root / "simple"
    simple.mkdir(parents=True, exist_ok=True)
    (simple / "index.html").write_text("".join(f'<a href="{n}/">{n}</a>\n' for n in sorted(names)))
    for name, files in names.items():
        (simple / name).mkdir(exist_ok=True)
        links = "".join(f'<a href="/files/{html.escape(f.name)}#sha256={hashlib.sha256(f.read_bytes()).hexdigest()}">'
                        f"{html.escape(f.name)}</a>\n" for f in files)
        (simple / name / "index.html").write_text(links)
    files_dir = root / "files"
    files_dir.mkdir(exist_ok=True)
    for wheel in wheels.glob("*.whl"):
        target = files_dir / wheel.name
        if not target.exists():
            target.symlink_to(wheel)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def served(root: Path, address: str) -> Iterator[str]:
    """Serve ``root`` on ``address`` (a free port); yields the index URL (``http://address:port/simple``)."""
    server = ThreadingHTTPServer((address, 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


__all__ = ["download", "served", "write_simple_index"]
