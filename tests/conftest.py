"""Shared fixtures. Integration tests (marked ``docker``) get a real engine and base image.

Every object a test makes carries the label ``dev.envkit.test-run=<id>`` (``support`` puts it
into ``ENVKIT_LABELS``); the session checks at the end that no container with this run's label is
left, and that no tag it did not make was moved or removed (``tags_before`` / ``changed_tags``):
tests build into names of their own.
The suite may run as root (it does in CI). envkit never runs a container as root, so for a
root caller the folders tests make (``tmp_path``, ``tmp_path_factory.mktemp``) belong to
``TEST_UID``, the uid of envkit images built by root, as a project folder of a real user would;
the tests that need a root-owned folder make one themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import TEST_RUN, system  # noqa: E402

# One Chromium for the whole session: a fixture imported into two test modules would be two
# session fixtures, and a second sync Playwright inside the first one's event loop fails.
from support.browser import browser_context  # noqa: E402, F401

ROOT = Path(__file__).resolve().parent.parent
TEST_UID = 1000  # envkit's images built by root give their envkit user this uid (envkit build --uid)


def _give_tmp_folders_to_the_image_user() -> None:
    """As root: every folder pytest makes for a test belongs to TEST_UID (see the module's docstring)."""
    if not hasattr(os, "getuid") or os.getuid() != 0:
        return
    from _pytest.tmpdir import TempPathFactory

    mktemp = TempPathFactory.mktemp

    def owned_mktemp(self, basename: str, numbered: bool = True) -> Path:
        path = mktemp(self, basename, numbered)
        os.chown(path, TEST_UID, TEST_UID)
        return path

    TempPathFactory.mktemp = owned_mktemp  # type: ignore[method-assign]


_give_tmp_folders_to_the_image_user()


def tags_on_engine() -> dict[str, str]:
    """Every tag on the engine and the image ID it names, plus ``"@" + id`` for every image.

    A listing only (nothing inspected: concurrent sessions remove images meanwhile).
    """
    import docker

    client = docker.from_env()
    found: dict[str, str] = {}
    for image in client.api.images():
        found["@" + image["Id"]] = image["Id"]
        for tag in image.get("RepoTags") or ():
            if tag != "<none>:<none>":
                found[tag] = image["Id"]
    return found


def changed_tags(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Tags of ``before`` (not this run's own names) moved to another image, or removed from one still here.

    A tag removed together with its image is another session's own cleanup, not a change to
    someone else's image; a tag moved, or taken off an image that stays, is.
    """
    changed = []
    for tag, image_id in before.items():
        if tag.startswith("@") or TEST_RUN in tag or after.get(tag) == image_id:
            continue
        if tag in after:
            changed.append(f"{tag}: moved from {image_id[7:19]} to {after[tag][7:19]}")
        elif "@" + image_id in after:
            changed.append(f"{tag}: removed from {image_id[7:19]}, which is still here")
    return sorted(changed)


TAGS_BEFORE: dict[str, str] = {}


def pytest_sessionstart(session):
    """Record every tag on the engine: the session's end checks that none of them moved."""
    if system.engine_answers():
        TAGS_BEFORE.update(tags_on_engine())


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


@pytest.fixture(scope="module")
def second_engine(engine):
    """Start a dockerd of the test's own: ``second_engine(name, own_mounts=, tls=, swarm=, images=())``.

    ``support.second_engine`` says what each parameter gives; ``images`` are copied in from the
    shared engine. Skips where this machine cannot run one (no root, a tool missing). Every
    engine started through it is stopped and removed, with its data and bridges, at the end of
    the module.
    """
    from support.second_engine import SecondEngine, Unavailable

    started: list[SecondEngine] = []

    def start(name: str, *, own_mounts: bool = False, tls: bool = False, swarm: bool = False,
              images: tuple[str, ...] = ()) -> SecondEngine:
        try:
            found = SecondEngine(name, own_mounts=own_mounts, tls=tls, swarm=swarm)
        except Unavailable as exc:
            pytest.skip(str(exc))
        started.append(found)
        found.start()
        for image in images:
            found.load(image, engine)
        return found

    try:
        yield start
    finally:
        for found in reversed(started):
            found.close()


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
        # envkit's environment images carry no test-run label (it would change their build
        # key); the run's own repository names (envkit/<name>-<run>) find them.
        for tag, image_id in tags_on_engine().items():
            if TEST_RUN in tag and not tag.startswith("@"):
                try:
                    client.images.remove(tag)
                    client.images.remove(image_id)  # only if no other name is left on it
                except docker.errors.APIError:
                    pass
    if left:
        names = ", ".join(c.name for c in left)
        print(f"\nLEAK: {len(left)} container(s) left by this test run: {names}", file=sys.stderr)
        session.exitstatus = 1
    # Only a session that used the engine can have moved a tag (unit tests never touch it).
    used_engine = any(item.get_closest_marker("docker") for item in session.items)
    moved = changed_tags(TAGS_BEFORE, tags_on_engine()) if TAGS_BEFORE and used_engine else []
    if moved:
        print(f"\nLEAK: {len(moved)} tag(s) this run did not make were moved or removed: {', '.join(moved)}",
              file=sys.stderr)
        session.exitstatus = 1
