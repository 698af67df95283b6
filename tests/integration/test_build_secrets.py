"""A credentialed private index: the build works, and the secret reaches no layer, label or history."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from support.build import PrivateIndex, download_for_index, run_notebook, tiny_spec

from envkit.build import BuildOptions, build_spec
from envkit.labels import base_labels

pytestmark = pytest.mark.docker


def stream_contains(chunks, needle: bytes) -> bool:
    """True when ``needle`` occurs in a byte stream (across chunk borders too)."""
    tail = b""
    for chunk in chunks:
        data = tail + chunk
        if needle in data:
            return True
        tail = data[-len(needle):]
    return False


def test_credentialed_index_leaves_no_trace(engine, base_image, tmp_path, monkeypatch):
    secret = f"s3cr3t-{uuid.uuid4().hex[:10]}"
    wheels = download_for_index(tmp_path / "wheels", "six", "ipykernel")
    index = PrivateIndex(wheels, "envkit-user", secret)
    try:
        monkeypatch.setenv("PIP_INDEX_URL", index.url)
        result = build_spec(tiny_spec("six"), options=BuildOptions(base_image=base_image, uid=1002),
                            notebook=run_notebook("private"))
    finally:
        index.close()
    assert index.authorized > 0, "the host never fetched from the private index"
    assert result.lock.pin("six") is not None and result.lock.pin("ipykernel") is not None
    assert all(p.hashes for p in result.lock.packages)  # sha256 of the wheels the host fetched
    image = engine.images.get(result.image.id)
    history = subprocess.run(["docker", "history", "--no-trunc", result.image.id], capture_output=True,
                             text=True, check=True).stdout
    assert "--offline --no-index" in history
    assert secret not in history
    assert secret not in json.dumps(image.attrs)
    assert secret not in result.dockerfile
    assert not stream_contains(image.save(), secret.encode()), "the secret is in the image's layers"
    container = engine.containers.create(result.image.id, ["true"], labels=base_labels("run"))
    try:
        assert not stream_contains(container.export(), secret.encode())
    finally:
        container.remove(force=True)
