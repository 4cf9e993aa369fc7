"""Installing a pinned package into a temporary folder for a test session, skipping (saying why) where it cannot
be done here: no program for it, no network."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

INSTALL_TIMEOUT = 900  # seconds: a cold cache on a loaded machine; an install never takes this long here


def tail(text: str, lines: int = 5) -> str:
    """The last lines of a command's output, on one line, for a skip reason."""
    return " | ".join(text.strip().splitlines()[-lines:])


def run_or_skip(command: list[str], what: str, *, cwd: Path | None = None) -> None:
    """Run an install step; skip the test, saying why, when it fails or does not finish."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{what} timed out after {INSTALL_TIMEOUT} s (no network?)")
    if done.returncode != 0:
        pytest.skip(f"{what} failed (no network?): {tail(done.stderr)}")


def npm_ci(package: Path, folder: Path, *, files: Iterable[str] = (), what: str) -> Path:
    """``npm ci`` of ``package``'s pinned lockfile in ``folder`` (with ``files`` copied beside it)."""
    npm = shutil.which("npm")
    if not npm:
        pytest.skip(f"npm is needed for {what} (Debian: apt-get install npm)")
    for name in ("package.json", "package-lock.json", *files):
        shutil.copy(package / name, folder / name)
    run_or_skip(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], f"npm ci of {what}", cwd=folder
    )
    return folder
