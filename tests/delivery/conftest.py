from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from target_middleware.delivery import TargetClient
from tests.datafiles import OPENAPI

from .edge import ScriptedEdge


@pytest.fixture
def edge(edge_server: ScriptedEdge) -> ScriptedEdge:
    edge_server.scenario = "html"
    edge_server.requests.clear()
    return edge_server


@pytest.fixture
async def client(edge: ScriptedEdge) -> AsyncIterator[TargetClient]:
    async with TargetClient("acme", "ABC123@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0) as c:
        yield c


@pytest.fixture(scope="session")
def openapi_dir() -> Path:
    return OPENAPI
