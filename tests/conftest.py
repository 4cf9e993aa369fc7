from __future__ import annotations

from collections.abc import Iterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from target_middleware import tracking
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge


def _stale_builds() -> list[str]:
    """Compiled modules (built in place by ``pip install -e .``) older than their source: the .so would shadow the
    edit."""
    package = Path(tracking.__file__).parent
    stale = []
    for source in package.rglob("*.py"):
        for suffix in EXTENSION_SUFFIXES:
            built = source.with_suffix(suffix)
            if built.exists() and built.stat().st_mtime < source.stat().st_mtime:
                stale.append(str(source.relative_to(package.parent)))
    return stale


_STALE = _stale_builds()
if _STALE:
    pytest.exit(
        f"compiled modules older than their source: {', '.join(sorted(_STALE))}; rebuild them "
        "(python setup.py build_ext --inplace, or pip install -e .) or delete the .so files for pure Python",
        returncode=2,
    )

# A middleware without a signing_key says once per process that its clicks verify only on this process: counted as
# said here, so that tests counting their own middleware's warnings do not depend on which test ran first.
# tests/test_tracking.py checks the warning itself.
tracking._said.add("process-key")


@pytest.fixture(scope="session")
def edge_server() -> Iterator[ScriptedEdge]:
    """One scripted Delivery API edge on 127.0.0.1 for the session; each module's ``edge`` fixture resets it."""
    edge, server, thread = start_edge()
    yield edge
    stop_edge(edge, server, thread)
