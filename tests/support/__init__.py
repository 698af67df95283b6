"""Helpers shared by envkit's tests.

``TEST_RUN`` is this session's id. Importing this package adds the label
``dev.envkit.test-run=<id>`` to the public ``ENVKIT_LABELS`` setting, so everything envkit makes
during the session (in this process and in the CLI, kernel and nbclient processes it starts)
carries it: the session's end finds and removes it, and builds reuse only this run's images.
"""

from __future__ import annotations

import os
import uuid

TEST_RUN_LABEL = "dev.envkit.test-run"


def _join_test_run() -> str:
    given = dict(item.partition("=")[::2] for item in os.environ.get("ENVKIT_LABELS", "").split(",") if "=" in item)
    run = given.get(TEST_RUN_LABEL) or uuid.uuid4().hex[:12]
    if TEST_RUN_LABEL not in given:
        os.environ["ENVKIT_LABELS"] = ",".join(filter(None, [os.environ.get("ENVKIT_LABELS", ""),
                                                             f"{TEST_RUN_LABEL}={run}"]))
    return run


TEST_RUN = _join_test_run()
