"""Adobe's SDKs as referees, installed once per test session into a temporary folder.

Neither can live in the project's venv: target-python-sdk pins 2020-era packages that conflict with ours (and
its wheel declares none of them), and the Node SDK is a node package. Each fixture installs the pinned
version from its registry (PyPI, npm) and skips, saying why, only where that cannot be done here (no node,
no network).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.installs import npm_ci, run_or_skip

HERE = Path(__file__).resolve().parent
PYTHON_REFEREE = HERE / "python_referee"
NODE_REFEREE = HERE / "node_referee"


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
        run_or_skip(step, "installing target-python-sdk from PyPI")
    return python


@pytest.fixture(scope="session")
def node_referee(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with referee.js and the pinned @adobe/target-nodejs-sdk installed by ``npm ci``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed to run Adobe's Node.js SDK (Debian: apt-get install nodejs npm)")
    folder = tmp_path_factory.mktemp("node-referee")
    return npm_ci(NODE_REFEREE, folder, files=["referee.js"], what="@adobe/target-nodejs-sdk")
