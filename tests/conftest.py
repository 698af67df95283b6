"""Shared fixtures. Integration tests (marked ``docker``) get a real engine and base image.

Every object a test makes carries the label ``dev.envkit.test-run=<id>`` (``support`` puts it
into ``ENVKIT_LABELS``); the session checks at the end that no container with this run's label is left.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import TEST_RUN, system  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def engine():
    """A Docker client for a real engine (started in CI when none answers)."""
    try:
        system.ensure_engine()
    except system.Missing as exc:
        pytest.exit(f"envkit integration tests: {exc}", returncode=3)
    import docker

    from envkit import engine as envkit_engine

    envkit_engine.reset()
    return docker.from_env()


@pytest.fixture(scope="session")
def base_image(engine) -> str:
    """A local stand-in for python:3.11-slim (debootstrap + docker import), built once per machine."""
    try:
        return system.ensure_base_image()
    except system.Missing as exc:
        pytest.exit(f"envkit integration tests: {exc}", returncode=3)


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's containers, and fail the run if any were left behind."""
    if not system.engine_answers():
        return
    import docker

    client = docker.from_env()
    left = client.containers.list(all=True, filters={"label": f"dev.envkit.test-run={TEST_RUN}"})
    for c in left:
        c.remove(force=True)
    # Images this run built are removed too, unless a developer keeps them to iterate faster.
    if not os.environ.get("ENVKIT_TEST_KEEP_IMAGES"):
        for image in client.images.list(filters={"label": f"dev.envkit.test-run={TEST_RUN}"}):
            try:
                client.images.remove(image.id, force=True)
            except docker.errors.APIError:
                pass
    if left:
        names = ", ".join(c.name for c in left)
        print(f"\nLEAK: {len(left)} container(s) left by this test run: {names}", file=sys.stderr)
        session.exitstatus = 1
