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


@pytest.mark.parametrize(("labels", "wanted", "matches"), [
    ({"dev.envkit": "1", "dev.envkit.spec-digest": "sha256:a"}, {"dev.envkit": None, "dev.envkit.spec-digest": "sha256:a"},
     True),
    ({"dev.envkit": "1", "dev.envkit.spec-digest": "sha256:b"}, {"dev.envkit.spec-digest": "sha256:a"}, False),
    ({"dev.envkit": "1"}, {"dev.envkit": None, "dev.envkit.test-run": "x"}, False),  # every label, not any
    ({"dev.envkit.test-run": ""}, {"dev.envkit.test-run": ""}, True),
])
def test_image_labels_are_matched_on_the_client_as_the_engine_would(labels, wanted, matches):
    # Podman 4.3 lists no images for two label filters, later Podmans OR them: envkit matches here.
    from envkit.engine.images import has_labels

    assert has_labels(labels, wanted) is matches
