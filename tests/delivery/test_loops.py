"""One TargetClient from any event loop: the middleware's I/O thread and the app's handlers share it."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.delivery.loops import PerLoop, run_on
from target_middleware.testing import StaticDecision
from tests.servers import serve

from .edge import ScriptedEdge

PAGE = '<!DOCTYPE html><html><head></head><body><h1 id="hero">Welcome</h1><a id="cta" href="/">Go</a></body></html>'


def shared_client_app(client: TargetClient, stats: TargetStats) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def api(request: Request) -> Response:
        # What a user writes: the one client on app.state, called from a handler on the app's loop.
        result = await request.app.state.target_client.get_offers(["api-hero"], timeout=30.0)
        return JSONResponse({"mboxes": [m.name for m in result.mboxes]})

    app = Starlette(routes=[Route("/", page), Route("/api", api)])
    app.state.target_client = client
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/", mboxes=["target-global-mbox", "hero"])],
        timeout=30.0,
        io_thread=True,
        stats=stats,
    )
    return app


async def test_one_client_serves_handlers_and_the_middleware_io_thread_at_once(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture
) -> None:
    edge.scenario = "actions"
    stats = TargetStats()
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    app = shared_client_app(client, stats)
    with caplog.at_level(logging.WARNING), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(3):  # rounds: every pool is reused after its first use
                answers = await asyncio.gather(*(http.get(url + path) for path in ["/", "/api"] * 5))
                for answer in answers:
                    assert answer.status_code == 200, answer.text
                    if answer.headers["content-type"].startswith("application/json"):
                        assert answer.json() == {"mboxes": ["api-hero"]}
                    else:
                        assert ">Hi</h1>" in answer.text
    assert stats["applied"] == 15, dict(stats)
    assert not {"error", "timeout", "parseerror", "breaker-open"} & set(stats), dict(stats)
    assert len(edge.requests) == 30
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    # Two loops met the client (the app's, the I/O thread's); the middleware closed both pools at shutdown.
    assert len(client._pools) == 0


def _loop_in_thread() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    return loop, thread


async def test_each_loop_gets_its_own_pool_and_aclose_closes_each_on_its_own_loop(edge: ScriptedEdge) -> None:
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    other, thread = _loop_in_thread()
    try:
        here = await client.get_offers(["m"])
        there = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.get_offers(["m"]), other))
        assert [m.name for m in here.mboxes] == [m.name for m in there.mboxes] == ["m"]
        pools = list(client._pools._values.items())
        assert {loop for loop, _ in pools} == {asyncio.get_running_loop(), other}
        closed_on: list[asyncio.AbstractEventLoop] = []

        async def close(http: httpx.AsyncClient) -> None:
            closed_on.append(asyncio.get_running_loop())
            await http.aclose()

        await client._pools.aclose(close)
        assert set(closed_on) == {asyncio.get_running_loop(), other}
        assert all(http.is_closed for _, http in pools)
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()


def test_a_closed_loop_leaves_its_value_behind_and_asyncio_run_per_call_does_not_pile_up() -> None:
    made: list[object] = []
    per_loop: PerLoop[object] = PerLoop(lambda: made.append(object()) or made[-1])

    async def use() -> Any:
        return per_loop.get()

    first = asyncio.run(use())
    for _ in range(5):
        assert asyncio.run(use()) is not first
    assert len(made) == 6
    assert len(per_loop) == 1  # only the last loop's value: the closed loops' were dropped


async def test_run_on_a_stopped_loop_does_nothing_and_on_this_loop_runs_here() -> None:
    stopped = asyncio.new_event_loop()
    ran: list[str] = []

    async def mark(name: str) -> str:
        ran.append(name)
        return name

    try:
        assert await run_on(stopped, mark("stopped")) is None
    finally:
        stopped.close()
    assert await run_on(asyncio.get_running_loop(), mark("here")) == "here"
    assert ran == ["here"]


@dataclass(frozen=True, slots=True)
class OwingDecider:
    """Every decision owes one display notification (as an on-device decision does)."""

    def decide(self, request: Any, *, session_id: str | None = None) -> StaticDecision:
        note = {"id": uuid.uuid4().hex, "type": "display", "timestamp": 0, "mbox": {"name": "m"}}
        return StaticDecision({"status": 200, "execute": {}}, notifications=(note,))


async def test_aclose_sends_what_every_loop_queued_from_the_queue_s_own_loop() -> None:
    delivered: list[tuple[asyncio.AbstractEventLoop, int]] = []

    async def slow_sink(notifications: Any) -> None:
        await asyncio.sleep(0.2)  # still in flight when aclose starts
        delivered.append((asyncio.get_running_loop(), len(notifications)))

    client = TargetClient(
        "acme", "O@AdobeOrg", decisioning="on-device", decider=OwingDecider(), on_notifications=slow_sink
    )
    other, thread = _loop_in_thread()
    try:
        await client.get_offers(["m"])
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.get_offers(["m"]), other))
        await client.aclose()
        # One queue (bound to the loop that queued first) sends for both loops; aclose waited for it.
        assert sum(count for _, count in delivered) == 2
        assert {loop for loop, _ in delivered} == {asyncio.get_running_loop()}
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()
