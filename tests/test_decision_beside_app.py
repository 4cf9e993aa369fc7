"""The decision runs beside the app, not before it, with or without the I/O thread (real servers on 127.0.0.1).

Concurrency is shown by the order of events, never by a clock: the edge holds its answer until the app's handler
has started, and the handler waits until the edge has been asked. Run one after the other, the edge would give up
waiting for a handler that has not started, and the handler for an edge that has not been asked.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from tests.delivery.edge import ScriptedEdge
from tests.servers import serve, start_server

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

PAGE = '<html><head></head><body><h1 id="hero">Welcome</h1><a id="cta" href="/">Go</a></body></html>'
WAIT = 10.0  # how long each side waits for the other: far past what a loaded machine needs


class Handshake:
    def __init__(self) -> None:
        self.app_started = threading.Event()
        self.edge_asked = threading.Event()
        self.events: list[str] = []
        self._lock = threading.Lock()

    def note(self, event: str) -> None:
        with self._lock:
            self.events.append(event)


def edge_app(handshake: Handshake) -> Starlette:
    script = ScriptedEdge(scenario="actions")

    async def delivery(request: Request) -> Response:
        body = await request.json()
        handshake.note("edge asked")
        handshake.edge_asked.set()
        started = await asyncio.to_thread(handshake.app_started.wait, WAIT)
        handshake.note("edge answers" if started else "edge gave up waiting for the app")
        return JSONResponse(script.answer(body))

    return Starlette(routes=[Route("/rest/v1/delivery", delivery, methods=["POST"])])


def shop_app(handshake: Handshake, edge_domain: str, io_thread: bool | None, stats: TargetStats) -> Starlette:
    async def page(request: Request) -> Response:
        handshake.note("app started")
        handshake.app_started.set()
        asked = await asyncio.to_thread(handshake.edge_asked.wait, WAIT)
        handshake.note("app done" if asked else "app gave up waiting for the edge")
        return HTMLResponse(PAGE)

    client = TargetClient("acme", "ABC@AdobeOrg", server_domain=edge_domain, secure=False, timeout=30)
    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/", mboxes=["hero"])],
        timeout=30,
        io_thread=io_thread,
        stats=stats,
    )
    return app


@pytest.mark.parametrize("io_thread", [False, None], ids=["on-the-app-loop", "on-the-io-thread"])
async def test_the_edge_is_asked_while_the_app_renders(io_thread: bool | None) -> None:
    handshake = Handshake()
    edge = start_server(edge_app(handshake), lifespan="off")
    stats = TargetStats()
    try:
        with serve(shop_app(handshake, f"127.0.0.1:{edge.port}", io_thread, stats)) as url:
            async with httpx.AsyncClient(timeout=60) as http:
                answer = await http.get(url + "/")
    finally:
        edge.stop()
    assert answer.status_code == 200
    events = handshake.events
    assert "app done" in events, events
    assert "edge answers" in events, events
    # Both were under way together: each saw the other's start before it finished.
    assert events.index("app started") < events.index("edge answers")
    assert events.index("edge asked") < events.index("app done")
    assert ">Hi</h1>" in answer.text  # and the decision made beside the app was applied
    assert stats["applied"] == 1
