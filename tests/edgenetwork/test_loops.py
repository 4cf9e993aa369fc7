"""One EdgeNetworkClient from any event loop: the middleware's I/O thread and the app's handlers share it."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetMiddleware, TargetStats
from tests.servers import serve

from .test_transport import edge_client, local_edge  # noqa: F401 (the fixture)

PAGE = '<!DOCTYPE html><html><head></head><body><h1 id="hero">Welcome</h1></body></html>'


async def test_one_edge_network_client_serves_handlers_and_the_middleware_at_once(
    local_edge: tuple[str, object, object],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    domain, _, _ = local_edge
    client = edge_client(domain)
    stats = TargetStats()

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def api(request: Request) -> Response:
        result = await request.app.state.target_client.get_offers(["target-global-mbox"], timeout=10.0)
        return JSONResponse({"decisioning": result.decisioning.value})

    app = Starlette(routes=[Route("/", page), Route("/api", api)])
    app.state.target_client = client
    rules = [MboxRule("/", mboxes=["target-global-mbox"])]
    app.add_middleware(TargetMiddleware, client=client, rules=rules, timeout=10.0, io_thread=True, stats=stats)
    with caplog.at_level(logging.WARNING), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(2):
                answers = await asyncio.gather(*(http.get(url + path) for path in ["/", "/api"] * 4))
                assert [a.status_code for a in answers] == [200] * 8
                assert [a.json() for a in answers[1::2]] == [{"decisioning": "server-side"}] * 4
    assert stats["decided"] == 8, dict(stats)
    assert not {"error", "timeout", "parseerror", "breaker-open"} & set(stats), dict(stats)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    assert len(client._pools) == 0  # both loops' pools closed at the lifespan's end
