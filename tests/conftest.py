from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from target_middleware import tracking
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge
from tests.servers import STACKS, using_stack

# No property test's outcome may depend on the machine's speed: hypothesis's default deadline (200 ms an example)
# and its "too slow" health check both fail a test a loaded machine merely runs slowly.
settings.register_profile("target-middleware", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("target-middleware")

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


@pytest.fixture(params=sorted(STACKS))
def each_stack(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test once on each of uvicorn's stacks (tests/servers.py: h11 and asyncio, httptools and uvloop): the
    servers it starts run that stack. A module asks for it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    with using_stack(request.param):
        yield request.param
