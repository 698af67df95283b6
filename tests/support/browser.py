"""A real browser for the launch tests: Debian's headless Chromium driven by Playwright.

Playwright's own browser download is never used (``playwright install`` is not run anywhere):
Chromium comes from Debian (/usr/bin/chromium; CI installs the ``chromium`` package).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import system

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="session")
def browser_context() -> Iterator[object]:
    """A Playwright BrowserContext of headless Chromium with a fresh, temporary profile."""
    try:
        system.apt_install("chromium", binaries=(CHROMIUM,))
    except system.Missing as exc:
        pytest.exit(f"envkit browser tests: {exc}", returncode=3)
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="envkit-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1280, "height": 800})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a screenshot of ``page`` to artifacts/<name>.png (gitignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
