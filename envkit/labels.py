"""The labels on everything envkit creates, and the names envkit looks objects up by.

Every image and container carries ``dev.envkit=1``, its kind and envkit's version, plus the
extra labels of the ``ENVKIT_LABELS`` setting (a team's own marks; a test run's id). Images
carry more (spec digest, build and options keys, notebook): see ``envkit.plan.image_labels``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .settings import extra_labels
from .version import __version__

LABEL = "dev.envkit"
LABEL_KIND = f"{LABEL}.kind"              # image | kernel | launch | run | build
LABEL_SPEC = f"{LABEL}.spec-digest"
LABEL_NOTEBOOK = f"{LABEL}.notebook"
LABEL_VERSION = f"{LABEL}.version"
LABEL_KERNEL_ID = f"{LABEL}.kernel-id"
LABEL_OWNER = f"{LABEL}.owner"
LABEL_BUILD_KEY = f"{LABEL}.build-key"    # spec digest + base image + uid + platform
LABEL_OPTIONS_KEY = f"{LABEL}.options-key"  # base image + uid + platform (the layers below the packages)
# The test suite puts this one into ENVKIT_LABELS, so it finds (and removes) what each run made.
LABEL_TEST_RUN = f"{LABEL}.test-run"


def own_labels(kind: str) -> dict[str, str]:
    """The labels envkit itself puts on an object of ``kind`` (no settings read)."""
    return {LABEL: "1", LABEL_KIND: kind, LABEL_VERSION: __version__}


def base_labels(kind: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels every object envkit creates carries: ``extra`` (default: ``ENVKIT_LABELS``), then envkit's own.

    envkit's own labels win over an extra label of the same key.
    """
    return {**(extra_labels() if extra is None else extra), **own_labels(kind)}


__all__ = ["LABEL", "LABEL_BUILD_KEY", "LABEL_KERNEL_ID", "LABEL_KIND", "LABEL_NOTEBOOK", "LABEL_OPTIONS_KEY",
           "LABEL_OWNER", "LABEL_SPEC", "LABEL_TEST_RUN", "LABEL_VERSION", "base_labels", "own_labels"]
