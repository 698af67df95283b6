"""Runs after the other integration tests (file order): nothing this run made may be left."""

from __future__ import annotations

import pytest
from conftest import TEST_RUN


@pytest.mark.docker
def test_no_container_of_this_run_is_left(engine):
    left = engine.containers.list(all=True, filters={"label": f"dev.envkit.test-run={TEST_RUN}"})
    assert [c.name for c in left] == []


@pytest.mark.docker
def test_no_stopped_build_container_is_left(engine):
    # Intermediate build containers carry no labels of ours; a failed classic build that was not
    # run with rm/forcerm leaves one in state "exited" whose image is an unnamed layer.
    exited = engine.containers.list(all=True, filters={"status": "exited"})
    orphans = [c.name for c in exited if not c.image.tags and not c.labels]
    assert orphans == []
