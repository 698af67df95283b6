"""Runs after the other integration tests (file order): nothing this run made may be left."""

from __future__ import annotations

import pytest
from conftest import TAGS_BEFORE, TEST_RUN, changed_tags, tags_on_engine


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


@pytest.mark.docker
def test_no_tag_this_run_did_not_make_was_moved(engine):
    # The user's own images (envkit/analysis:latest from their notebook, a base image) keep
    # their names: tests build into repositories named after the run (support.build.run_tag).
    assert changed_tags(TAGS_BEFORE, tags_on_engine()) == []
