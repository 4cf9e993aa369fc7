"""The client's own contract under faults: every upstream failure is a DeliveryError (at.js: an error status)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from target_middleware import TargetClient
from target_middleware.delivery.errors import DeliveryError, ResponseParseError

from .faultedge import FaultEdge, fault_edge


@pytest.fixture(scope="module")
def edge() -> Iterator[FaultEdge]:
    with fault_edge() as edge:
        yield edge


@pytest.mark.parametrize(
    ("scenario", "status"),
    [("nested-json", "parseerror"), ("huge", "parseerror"), ("huge-unannounced", "parseerror"), ("429", "error")],
)
async def test_upstream_faults_raise_the_error_tree_and_at_js_gets_a_status(
    edge: FaultEdge, scenario: str, status: str
) -> None:
    edge.scenario = scenario
    async with TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=20) as client:
        with pytest.raises(DeliveryError) as raised:
            await client.get_offers(["hero"])
        assert raised.value.status == status
        seen: list[Any] = []
        await client.get_offer({"mbox": "hero", "success": seen.append, "error": lambda s, e: seen.append(s)})
    assert seen == [status]


async def test_an_oversized_answer_is_refused_without_reading_it_all(edge: FaultEdge) -> None:
    edge.scenario = "huge-unannounced"
    async with TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=20) as client:
        started = time.perf_counter()
        with pytest.raises(ResponseParseError, match="over"):
            await client.get_offers(["hero"])
    assert time.perf_counter() - started < 10  # well before the 50 MB (and the 20 s deadline) are through
