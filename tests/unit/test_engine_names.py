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


def test_a_missing_podman_init_is_named_with_what_to_do():
    from envkit.engine.containers import missing_init

    # Podman 4.3's answer to creating an --init container without catatonit (seen in test_podman.py).
    said = ("creating a container of envkit/x:latest: the engine refused (container create: container-init "
            "binary not found on the host: stat /usr/libexec/podman/catatonit: no such file or directory)")
    error = missing_init(said)
    assert error is not None and "\n" not in error.message
    assert "catatonit" in error.message and "/usr/libexec/podman/catatonit is missing" in error.message
    assert "apt-get install catatonit" in error.hint
    assert missing_init("creating a container of x: not found (No such image: x)") is None
