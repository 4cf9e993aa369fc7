"""A decision that fails after its page went out is not logged a second time by asyncio."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats

from .faultedge import FaultEdge, fault_edge
from .harness import call, middleware_of


@pytest.fixture
def edge() -> Iterator[FaultEdge]:
    with fault_edge() as edge:
        edge.scenario = "500"
        yield edge


async def test_a_failed_decision_no_page_waited_for_leaves_no_unretrieved_exception(
    edge: FaultEdge, caplog: pytest.LogCaptureFixture
) -> None:
    async def slow_json(request: Request) -> Response:
        await asyncio.sleep(0.3)  # the edge has failed by now; the answer is not HTML, so nobody awaits it
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/", slow_json)])
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=2.0)
    stats = TargetStats()
    app.add_middleware(
        TargetMiddleware, client=client, rules=[MboxRule("/", mboxes=["hero"])], timeout=2.0, stats=stats
    )
    try:
        with caplog.at_level(logging.DEBUG):
            for _ in range(3):
                answer = await call(app)
                assert answer.body == b'{"ok":true}'
            gc.collect()
            await asyncio.sleep(0)
    finally:
        await middleware_of(app).aclose()
    assert stats["not-eligible"] == 3
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
