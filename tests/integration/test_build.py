"""Builds on a real engine: image layout, lock read back from the image, reuse."""

from __future__ import annotations

import json

import pytest
from support import build as support_build
from support.build import run_notebook, run_tag, tiny_spec

from envkit.build import BuildOptions, build_spec
from envkit.labels import LABEL_NOTEBOOK, LABEL_SPEC, base_labels
from envkit.settings import default_uid

pytestmark = pytest.mark.docker
env_image = support_build.env_image  # the session's shared image (a fixture)


def run_in(engine, image: str, *cmd: str) -> str:
    """Output of ``cmd`` in a labelled, removed container of ``image``."""
    out = engine.containers.run(image, list(cmd), remove=True, labels=base_labels("run"), network_disabled=True)
    return out.decode()


def test_image_layout_contract(engine, env_image):
    image = env_image.image.id
    out = json.loads(run_in(engine, image, "python", "-c",
                            "import json, os, sys, ipykernel, six; "
                            "print(json.dumps({'prefix': sys.prefix, 'uid': os.getuid(), 'home': os.environ['HOME'], "
                            "'cwd': os.getcwd(), 'user': os.environ['USER']}))"))
    # The one uid rule: ENVKIT_UID, else the caller's, else 1000 for root.
    assert out == {"prefix": "/opt/envkit/venv", "uid": default_uid(), "home": "/home/envkit", "cwd": "/home/envkit",
                   "user": "envkit"}
    labels = engine.images.get(image).labels
    assert labels[LABEL_SPEC] == tiny_spec().digest()
    assert labels["org.opencontainers.image.title"] == "tiny"
    repo = run_tag("tiny").rsplit(":", 1)[0]
    assert set(env_image.tags) == {f"{repo}:latest", f"{repo}:{tiny_spec().digest()[7:19]}"}
    for tag in env_image.tags:
        assert engine.images.get(tag).id == image


def installed_set(engine, image: str) -> dict[str, str]:
    out = run_in(engine, image, "python", "-c",
                 "import json; from importlib import metadata as m; "
                 "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}))")
    return json.loads(out)


def test_lock_is_the_installed_set(engine, env_image):
    lock = env_image.lock
    assert lock.source == "image" and lock.python.startswith("3.11.")
    assert {p.name: p.version for p in lock.packages} == installed_set(engine, env_image.image.id)
    assert lock.pin("six") and lock.pin("ipykernel")
    # Hashes come from the index (uv pip compile --generate-hashes) for every pin.
    assert all(p.hashes and all(h.startswith("sha256:") for h in p.hashes) for p in lock.packages)


def test_unchanged_spec_is_reused(env_image, base_image):
    again = build_spec(tiny_spec(), options=BuildOptions(base_image=base_image), notebook=run_notebook("tiny"))
    assert again.reused and again.image.id == env_image.image.id
    assert again.lock == env_image.lock


def test_build_from_lock_installs_exactly_the_lock(engine, env_image, base_image):
    # Another uid makes another build key: a real build, from the lock, reusing lower layers.
    result = build_spec(tiny_spec(), lock=env_image.lock, options=BuildOptions(base_image=base_image, uid=1001),
                        notebook=run_notebook("tiny-locked"))
    assert not result.reused
    assert "uv pip sync --require-hashes" in result.dockerfile
    assert installed_set(engine, result.image.id) == {p.name: p.version for p in env_image.lock.packages}
    assert result.lock.packages == env_image.lock.packages


def test_added_package_builds_on_the_previous_packages_layer(engine, env_image, base_image):
    from envkit.engine.images import tag_image
    from envkit.events import Log, Note

    tag = run_tag("delta-test")
    tag_image(env_image.image.id, tag)  # the notebook's previous image
    notebook = engine.images.get(env_image.image.id).labels[LABEL_NOTEBOOK]  # built for that notebook
    events: list = []
    result = build_spec(tiny_spec("six", "idna"), options=BuildOptions(base_image=base_image, tag=tag),
                        notebook=notebook, progress=events.append)
    assert "COPY delta/ /opt/envkit/delta/" in result.dockerfile
    logs = [e.line for e in events if isinstance(e, Log)]
    # The repeated packages layer came from the cache: only the difference was installed.
    notes = [e.text for e in events if isinstance(e, Note)]
    assert any(n.startswith("building on the packages layer") for n in notes), notes
    assert any(n.startswith("reused") and "cached layer" in n for n in notes), notes
    installs = [line.split()[1].split("==")[0] for line in logs if line.lstrip().startswith("+ ")]
    # Only the difference is installed; on an engine whose cache already holds this very delta
    # (an earlier run on the same machine) nothing is, which is as good.
    assert installs in (["idna"], []), "\n".join(logs[-40:])
    installed = installed_set(engine, result.image.id)
    assert installed == {p.name: p.version for p in result.lock.packages}
    assert "idna" in installed and installed["six"] == env_image.lock.pin("six").version
    assert engine.images.get(tag).id == result.image.id


def test_kernel_lock_pins_what_the_kernel_had(engine, env_image, base_image):
    from envkit.engine.images import tag_image
    from envkit.spec import Lock, Pin

    # A lock from a live kernel names only what the notebook imports, at the loaded versions.
    kernel_lock = Lock(spec_digest=tiny_spec().digest(), python="3.11.2", source="kernel",
                       packages=(Pin(name="six", version="1.16.0"),))
    tag = run_tag("kernel-lock")
    tag_image(env_image.image.id, tag)  # the notebook's previous image
    notebook = engine.images.get(env_image.image.id).labels[LABEL_NOTEBOOK]
    result = build_spec(tiny_spec(), lock=kernel_lock, options=BuildOptions(base_image=base_image, tag=tag),
                        notebook=notebook)
    try:
        assert not result.reused  # the image of this spec has another six: build one that has 1.16.0
        assert "COPY delta/" in result.dockerfile  # on top of the previous packages layer
        installed = installed_set(engine, result.image.id)
        assert installed["six"] == "1.16.0" and "ipykernel" in installed
        assert result.lock.source == "image" and result.lock.pin("six").version == "1.16.0"
        assert installed == {p.name: p.version for p in result.lock.packages}
        again = build_spec(tiny_spec(), lock=kernel_lock, options=BuildOptions(base_image=base_image, tag=tag),
                           notebook=notebook)
        assert again.reused and again.image.id == result.image.id  # now one does
    finally:
        # Later tests expect the newest image of the tiny spec to be the shared one.
        engine.images.remove(result.image.id, force=True)
