"""Adobe's Web SDK from npm and a TLS certificate, made once per test session in a temporary folder.

alloy is a node package (``@adobe/alloy``, Apache-2.0): ``npm ci`` of the pinned lockfile in ``alloy/`` gives its
standalone browser build, ``dist/alloy.js``. alloy calls its edge over https only (it builds
``https://<edgeDomain>/ee/…``), so the local edge it talks to serves a self-signed certificate made by ``openssl``.
Each fixture skips, saying why, only where that cannot be done here (no node/npm, no network, no openssl).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.edgenetwork.test_transport import local_edge  # noqa: F401 (the local edge fixture, shared)
from tests.installs import npm_ci, tail

HERE = Path(__file__).resolve().parent
ALLOY_PACKAGE = HERE / "alloy"


@pytest.fixture(scope="session")
def alloy_js(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned ``@adobe/alloy``'s standalone build (``dist/alloy.js``), installed by ``npm ci``."""
    folder = npm_ci(ALLOY_PACKAGE, tmp_path_factory.mktemp("alloy"), what="Adobe's Web SDK, @adobe/alloy")
    built = folder / "node_modules" / "@adobe" / "alloy" / "dist" / "alloy.js"
    if not built.is_file():
        pytest.fail(f"@adobe/alloy has no standalone build at {built}: the pinned package changed its layout")
    return built


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and key for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is needed for the https local edge alloy talks to (Debian: apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {tail(done.stderr)}")
    return str(cert), str(key)
