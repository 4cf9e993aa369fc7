"""Headless Chromium for the tests that need a real browser: Debian's ``chromium``, driven by Playwright.

Never Playwright's own browser download: the system's Chromium is launched by path (``$CHROMIUM`` names another).
A module that imports this is skipped, saying why, where Playwright is not installed; ``needs_chromium`` skips
its tests where there is no Chromium. Pages come from 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "FLAGS", "chromium", "needs_chromium"]

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = chromium_path()
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (.[test])")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install chromium, or set CHROMIUM=/path/to/chromium)"
)


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """A headless Chromium (a fresh temporary profile, removed when it closes), with ``args`` beside ours."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*FLAGS, *args])
        try:
            yield browser
        finally:
            browser.close()
