"""Adobe's SDKs as referees, installed once per test session into a temporary folder.

Neither can live in the project's venv: target-python-sdk pins 2020-era packages that conflict with ours (and
its wheel declares none of them), and the Node SDK is a node package. Each fixture installs the pinned
version from its registry (PyPI, npm) and skips, saying why, only where that cannot be done here (no node,
no network).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PYTHON_REFEREE = HERE / "python_referee"
NODE_REFEREE = HERE / "node_referee"
INSTALL_TIMEOUT = 900  # seconds: a cold cache on a loaded machine; an install never takes this long here


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


@pytest.fixture(scope="session")
def target_python_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter that has target-python-sdk and its pins (python_referee/requirements.txt).

    ``$TARGET_SDK_PYTHON`` names one to use instead (no install)."""
    override = os.environ.get("TARGET_SDK_PYTHON")
    if override:
        return Path(override)
    venv = tmp_path_factory.mktemp("target-python-sdk") / "venv"
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
            str(PYTHON_REFEREE / "requirements.txt"),
        ],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            pytest.skip(f"installing target-python-sdk timed out after {INSTALL_TIMEOUT} s (no network?)")
        if done.returncode != 0:
            pytest.skip(f"cannot install target-python-sdk from PyPI (no network?): {_tail(done.stderr)}")
    return python


@pytest.fixture(scope="session")
def node_referee(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with referee.js and the pinned @adobe/target-nodejs-sdk installed by ``npm ci``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed to run Adobe's Node.js SDK (Debian: apt-get install nodejs npm)")
    folder = tmp_path_factory.mktemp("node-referee")
    for name in ("package.json", "package-lock.json", "referee.js"):
        shutil.copy(NODE_REFEREE / name, folder / name)
    command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm ci of @adobe/target-nodejs-sdk timed out after {INSTALL_TIMEOUT} s (no network?)")
    if done.returncode != 0:
        pytest.skip(f"npm ci of @adobe/target-nodejs-sdk failed (no network?): {_tail(done.stderr)}")
    return folder
