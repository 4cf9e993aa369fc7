from __future__ import annotations

from collections.abc import Iterator

import pytest

from target_middleware import tracking
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge

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
