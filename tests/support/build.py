"""Shared build fixtures: one tiny environment image per test session.

Other areas' tests (kernels, launch, run, share) import ``env_image`` from here::

    from support import build as support_build
    env_image = support_build.env_image   # a fixture; this form keeps ruff's F811 quiet

It yields a ``BuildResult`` for a spec with ``six`` (plus ipykernel, which envkit always
installs), built on the ``base_image`` fixture and tagged ``envkit/tiny-<test run>:latest``. The image carries this test run's label, so
the session's end removes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import TEST_RUN, system

TINY_REQUIREMENTS = ("six",)


def run_tag(name: str) -> str:
    """``envkit/<name>-<test run>:latest``: tags of concurrent test sessions never collide."""
    return f"envkit/{name}-{TEST_RUN}:latest"


def run_notebook(stem: str) -> str:
    """``<stem>-<test run>.ipynb``: its image goes to ``envkit/<stem>-<run>``, never to a user's ``envkit/<stem>``."""
    return f"{stem}-{TEST_RUN}.ipynb"


def tiny_spec(*requirements: str, python: str = "3.11", base: str = system.BASE_IMAGE):
    """An EnvSpec with ``requirements`` (default: ``six``) on ``base`` (the test base image).

    The base is stored in the spec, as a build with ``--base-image`` stores it in a notebook:
    the session's image and the notebooks built with the test base share one spec digest.
    """
    from envkit.spec import EnvSpec, Requirement

    return EnvSpec(python=python, requirements=tuple(Requirement.parse(r) for r in requirements or TINY_REQUIREMENTS),
                   base_image=base)


def tiny_notebook(path: Path, *, spec=None, cells: tuple[str, ...] = ("import six\nprint(six.__version__)",)) -> Path:
    """Write a small notebook at ``path``, with ``spec`` stored in its metadata when given."""
    import nbformat

    from envkit.notebook import write_envkit
    from envkit.spec import EnvkitMetadata

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2"}
    nbformat.write(nb, str(path))
    if spec is not None:
        write_envkit(path, EnvkitMetadata(spec=spec))
    return path


def committed_layers(lines: list[str]) -> list[str]:
    """Short IDs of the images a classic build committed itself, from its log.

    Each step ends with `` ---> <id>``; a ``FROM`` step's ID is the base image and a step
    after `` ---> Using cache`` reused an existing layer: neither was made by this build.
    """
    import re

    layers, ours = [], False
    for line in lines:
        if m := re.match(r"Step (\d+)/\d+ : ", line):
            # Step 1 is envkit's FROM (progress may tell it in words: "starting from ...").
            ours = m.group(1) != "1" and not line.split(" : ", 1)[1].upper().startswith("FROM ")
        elif line == " ---> Using cache":
            ours = False
        elif (m := re.fullmatch(r" ---> ([0-9a-f]{12,64})", line)) and ours:
            layers.append(m.group(1))
    return layers


def remove_failed_layers(lines: list[str]) -> list[str]:
    """Remove the layers a failed build committed itself (newest first); returns those kept.

    A failed classic build leaves the images of its finished steps behind, untagged. Only the
    ones its own log names as committed are removed, without force and without pruning
    parents: a layer with a tag or children (another build uses it) stays.
    """
    import docker

    client = docker.from_env()
    kept = []
    for layer in reversed(committed_layers(lines)):
        try:
            if client.api.inspect_image(layer).get("RepoTags"):
                kept.append(layer)
                continue
            client.api.remove_image(layer, noprune=True)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError:
            kept.append(layer)
    return kept


_SHARED: dict[str, object] = {}


@pytest.fixture(scope="session")
def env_image(base_image, tmp_path_factory):
    """A BuildResult for a tiny spec (``six`` + ipykernel) on the test base image, built once."""
    return shared_env_image(base_image, tmp_path_factory)


def shared_env_image(base_image: str, tmp_path_factory):
    """``env_image``'s BuildResult, for a fixture that needs it without importing that fixture."""
    from envkit.build import BuildOptions, build_spec

    # Each module that imports this fixture registers a session fixture of its own: keep one
    # result for the whole session, so every module sees the same image.
    if "env_image" in _SHARED:
        return _SHARED["env_image"]
    folder = tmp_path_factory.mktemp("env-image")
    notebook = tiny_notebook(folder / "tiny.ipynb", spec=tiny_spec())
    # A tag of this run's own: a concurrent session's cleanup cannot take it away.
    result = build_spec(tiny_spec(), options=BuildOptions(base_image=base_image, tag=run_tag("tiny")),
                        notebook=str(notebook))
    _SHARED["env_image"] = result
    return result


class PrivateIndex:
    """A PEP 503 simple index on 127.0.0.1 that demands HTTP basic credentials."""

    def __init__(self, wheels: Path, user: str, password: str) -> None:
        import base64
        import http.server
        import threading

        from packaging.utils import canonicalize_name, parse_wheel_filename

        self.authorized = 0
        self.refused = 0
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        files = {w.name: w for w in sorted(wheels.glob("*.whl"))}
        projects: dict[str, list[str]] = {}
        for name in files:
            projects.setdefault(str(canonicalize_name(parse_wheel_filename(name)[0])), []).append(name)
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.headers.get("Authorization") != expected:
                    index.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="envkit-test"')
                    self.end_headers()
                    return
                index.authorized += 1
                parts = [p for p in self.path.split("/") if p]
                if len(parts) == 2 and parts[0] == "simple":
                    names = projects.get(str(canonicalize_name(parts[1])), [])
                    body = "".join(f'<a href="/files/{n}">{n}</a>\n' for n in names).encode()
                    status = 200 if names else 404
                elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
                    body, status = files[parts[1]].read_bytes(), 200
                else:
                    body, status = b"", 404
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://{user}:{password}@127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def download_for_index(dest: Path, *requirements: str) -> Path:
    """Wheels of ``requirements`` and their dependencies, fetched with the host's pip settings."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(dest),
                    *requirements], check=True)
    return dest
