"""Image names as Podman reports them, compared as Docker writes them."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("given", "familiar"), [
    ("docker.io/envkit/tiny:latest", "envkit/tiny:latest"),  # Podman's answer for a tag envkit set
    ("docker.io/library/python:3.11", "python:3.11"),
    ("localhost/envkit-test-base:bookworm", "envkit-test-base:bookworm"),
    ("localhost:5000/envkit/tiny:latest", "localhost:5000/envkit/tiny:latest"),  # a registry, kept
    ("envkit/tiny:latest", "envkit/tiny:latest"),
    ("ghcr.io/team/env:1", "ghcr.io/team/env:1"),
])
def test_podman_image_names_are_compared_as_docker_writes_them(given, familiar):
    from envkit.engine.images import familiar_name, image_info

    assert familiar_name(given) == familiar
    assert image_info({"Id": "sha256:1", "RepoTags": [given]}).tags == (familiar,)
