"""Every decision's outcome is counted, logged once when it failed and fed to the breaker, on every route."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.delivery.errors import UpstreamConnectError, UpstreamStatusError
from target_middleware.outcomes import describe
from tests.asgi import asgi_get
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge
from tests.servers import serve

PAGE = '<!DOCTYPE html><html><head></head><body><h1 id="hero">Welcome</h1></body></html>'
FAILED = ("timeout", "error", "parseerror")


@pytest.fixture(scope="module")
def edge() -> Iterator[ScriptedEdge]:
    edge, server, thread = start_edge()
    yield edge
    stop_edge(edge, server, thread)


@pytest.fixture(autouse=True)
def fresh(edge: ScriptedEdge) -> None:
    edge.requests.clear()
    edge.scenario = "actions"


def api_app(domain: str, stats: TargetStats, **options: Any) -> Starlette:
    async def data(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"<html><body>"
            yield b"streamed</body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    app = Starlette(routes=[Route("/api/data", data), Route("/stream", stream), Route("/", page)])
    client = TargetClient("acme", "O@AdobeOrg", server_domain=domain, secure=False, timeout=30.0)
    rules = [MboxRule("/api/{rest:path}", mboxes=["api"]), MboxRule("/{rest:path}", mboxes=["hero"])]
    options = {"timeout": 30.0, "stats": stats, "breaker_cooldown": 60.0, **options}
    app.add_middleware(TargetMiddleware, client=client, rules=rules, **options)
    return app


async def until(condition: Any, what: str, seconds: float = 20.0) -> None:
    """The outcome of a decision nobody waited for lands when the decision does: wait for it, generously."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    ours = [r for r in caplog.records if r.name.startswith("target_middleware")]
    return [r.getMessage() for r in ours if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("io_thread", [True, False])
async def test_failed_decisions_on_a_json_route_are_counted_logged_once_each_and_open_the_breaker(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture, io_thread: bool
) -> None:
    edge.scenario = "500"
    stats = TargetStats()
    app = api_app(edge.domain, stats, breaker_failures=5, io_thread=io_thread)
    with caplog.at_level(logging.DEBUG), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            for n in range(1, 6):
                answer = await http.get(url + "/api/data")
                assert answer.json() == {"ok": True}
                await until(lambda n=n: stats["error"] == n, f"decision {n} counted: {dict(stats)}")
            assert len(edge.requests) == 5
            answer = await http.get(url + "/api/data")  # five failures in a row: Target is not asked
            assert answer.json() == {"ok": True}
            assert len(edge.requests) == 5
    assert stats["breaker-open"] == 1, dict(stats)
    assert stats["not-eligible"] == 5
    assert stats["error"] == 5
    logged = warnings_of(caplog)
    assert len(logged) == 5, logged
    assert all("/api/{rest:path}" in m and "error: UpstreamStatusError 500" in m for m in logged), logged
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_a_successful_decision_on_a_stream_is_counted_and_closes_the_failure_streak(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture
) -> None:
    stats = TargetStats()
    app = api_app(edge.domain, stats, breaker_failures=2)
    with caplog.at_level(logging.DEBUG), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            edge.scenario = "500"
            assert (await http.get(url + "/stream")).text == "<html><body>streamed</body></html>"
            await until(lambda: stats["error"] == 1, f"the failure counted: {dict(stats)}")
            edge.scenario = "actions"
            assert (await http.get(url + "/api/data")).json() == {"ok": True}
            await until(lambda: stats["decided"] == 1, f"the success counted: {dict(stats)}")
            edge.scenario = "500"  # one failure more: the streak started again, the breaker stays closed
            assert (await http.get(url + "/stream")).status_code == 200
            await until(lambda: stats["error"] == 2, f"the failure counted: {dict(stats)}")
            edge.scenario = "actions"
            assert ">Hi</h1>" in (await http.get(url + "/")).text
    assert stats["breaker-open"] == 0
    assert (stats["decided"], stats["applied"], stats["not-eligible"]) == (2, 1, 3), dict(stats)
    assert len(warnings_of(caplog)) == 2


async def test_a_decision_nobody_waits_for_ends_at_the_budget_and_counts_as_a_timeout(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture
) -> None:
    edge.scenario = "no-answer"
    stats = TargetStats()
    app = api_app(edge.domain, stats, timeout=0.3)
    with caplog.at_level(logging.DEBUG), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(url + "/api/data")).json() == {"ok": True}
            await until(lambda: stats["timeout"] == 1, f"the timeout counted: {dict(stats)}")
    [message] = warnings_of(caplog)
    assert "failed (timeout: TimeoutError)" in message


async def test_a_page_that_waited_to_the_budget_is_counted_as_a_timeout_before_it_leaves(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture
) -> None:
    edge.scenario = "no-answer"
    stats = TargetStats()
    app = api_app(edge.domain, stats, timeout=0.3)
    with caplog.at_level(logging.DEBUG), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(url + "/")).text == PAGE
            assert stats["timeout"] == 1, dict(stats)  # no waiting: counted before the page was sent
            await asyncio.sleep(0.5)  # and not a second time when the decision's own deadline passes
    assert stats["timeout"] == 1, dict(stats)
    assert len(warnings_of(caplog)) == 1


@pytest.mark.parametrize(
    ("scenario", "logged"),
    [
        ("500", "(error: UpstreamStatusError 500)"),
        ("400", "(error: UpstreamStatusError 400)"),
        ("truncated", "(parseerror: ResponseParseError)"),
        ("refused", "(error: UpstreamConnectError from ConnectError)"),
    ],
)
async def test_the_one_warning_names_the_exception_class_never_its_text(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture, scenario: str, logged: str
) -> None:
    stats = TargetStats()
    if scenario == "refused":
        domain = f"127.0.0.1:{_closed_port()}"
    else:
        edge.scenario, domain = scenario, edge.domain
    app = api_app(domain, stats)
    with caplog.at_level(logging.DEBUG), serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(url + "/")).text == PAGE
    [message] = warnings_of(caplog)
    assert logged in message
    assert "Invalid token" not in message  # the 400's upstream message: text, not for logs


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_describe_says_the_class_its_cause_and_an_http_status_only() -> None:
    error = UpstreamStatusError("Target answered HTTP 503: secret=1", status_code=503, upstream_message="secret=1")
    assert describe(error) == "UpstreamStatusError 503"
    wrapped = UpstreamConnectError("could not talk to Target: ConnectError")
    wrapped.__cause__ = httpx.ConnectError("connect to 10.0.0.1 failed: user=bob")
    assert describe(wrapped) == "UpstreamConnectError from ConnectError"
    assert describe(KeyError("visitor-id")) == "KeyError"


def test_a_timeout_is_a_timeout_on_every_python() -> None:
    # Python 3.13's asyncio.timeout raises TimeoutError from the CancelledError it ended the work with; 3.11 and
    # 3.12 leave it as the context only. The log says the same on each.
    timeout = TimeoutError()
    timeout.__cause__ = asyncio.CancelledError()
    assert describe(timeout) == "TimeoutError"
    assert describe(TimeoutError()) == "TimeoutError"


# -- on-device, decided in __call__ itself -------------------------------------------------------------------------


class _FailingDecider:
    def decide(self, request: Any, *, session_id: str | None = None) -> Any:
        raise RuntimeError("the engine broke")


async def test_an_on_device_decision_made_in_place_is_counted_once_and_closes_the_streak() -> None:
    from target_middleware.testing import static_client

    offers = {"hero": [{"type": "actions", "content": [{"type": "setHtml", "selector": "h1", "content": "Hi"}]}]}
    stats = TargetStats()

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    app = Starlette(routes=[Route("/", page)])
    mw = TargetMiddleware(app, client=static_client(offers), rules=[MboxRule("/", mboxes=["hero"])], stats=stats)
    mw.breaker._streak = 3  # three failures before: a success starts the count again
    returning = "mbox=session%23s1%231900000000%7CPC%23abc.35_0%231900000000"
    for cookie in ("", returning):  # a first visit, and a returning visitor read from the header
        sent = await asgi_get(mw, cookie=cookie)
        assert b">Hi</h1>" in sent[-1]["body"]
    assert (stats["decided"], stats["applied"], mw.breaker._streak) == (2, 2, 0), dict(stats)


async def test_an_on_device_decision_that_fails_in_place_is_counted_logged_once_and_the_page_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = TargetStats()

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    client = TargetClient("acme", "O@AdobeOrg", decisioning="on-device", decider=_FailingDecider())
    app = Starlette(routes=[Route("/", page)])
    mw = TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=["hero"])], stats=stats)
    with caplog.at_level(logging.DEBUG):
        for n in (1, 2):
            sent = await asgi_get(mw)
            assert sent[-1]["body"] == PAGE.encode()
            await asyncio.sleep(0)  # the watch's done callback, had it one: still counted once
            assert (stats["error"], mw.breaker._streak) == (n, n), dict(stats)
    assert stats["decided"] == 0
    logged = warnings_of(caplog)
    assert len(logged) == 2, logged
    assert all("LocalDecisionError" in m for m in logged), logged
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_track_on_a_first_visit_decided_in_place_names_the_visitor_the_decision_made() -> None:
    from target_middleware.testing import static_client

    async def page(request: Request) -> Response:
        await request.state.target.track("signup")
        return HTMLResponse(PAGE)

    app = Starlette(routes=[Route("/", page)])
    mw = TargetMiddleware(app, client=static_client({}), rules=[MboxRule("/", mboxes=["hero"])])
    queued: list[Any] = []
    enqueue = mw.tracking.enqueue
    mw.tracking.enqueue = lambda entry: queued.append(entry) or enqueue(entry)  # type: ignore[method-assign]
    messages = await asgi_get(mw)  # no cookie: the decision gives the visitor its tntId
    cookie = dict(messages[0]["headers"])[b"set-cookie"].decode()
    tnt_id = cookie.split("%7CPC%23", 1)[1].split("%23", 1)[0]
    assert [entry.visitor.tnt_id for entry in queued] == [tnt_id]


class _Mirrored(TargetStats):
    """A user's Counter that mirrors each store (an override of ``__setitem__``) and counts from 10."""

    def __init__(self) -> None:
        super().__init__()
        self.stores: list[tuple[str, int]] = []

    def __setitem__(self, key: str, value: int) -> None:
        self.stores.append((key, value))
        super().__setitem__(key, value)

    def __missing__(self, key: str) -> int:
        return 10


@pytest.mark.parametrize("kind", [TargetStats, Counter, _Mirrored])
def test_outcomes_count_as_stats_key_plus_one_does_for_every_counter(kind: type[Counter[str]]) -> None:
    """Outcomes stores through ``stats``' own methods bound once: the same counts as ``stats[key] += 1`` (an
    override of ``__setitem__`` or ``__missing__`` honoured), and ``del stats[missing]`` still says nothing."""
    from target_middleware.outcomes import CircuitBreaker, Outcomes

    ours, theirs = kind(), kind()
    outcomes = Outcomes(ours, CircuitBreaker(5, 1.0), None, "on-device")  # type: ignore[arg-type]
    for key in ("decided", "applied", "decided", "timeout", "applied", "decided"):
        outcomes.count_for(key, "/", None)
        theirs[key] += 1
    outcomes.decided("/", None)
    outcomes.count("error", "/")
    theirs["decided"] += 1
    theirs["error"] += 1
    assert dict(ours) == dict(theirs)
    assert type(ours) is kind
    if isinstance(ours, _Mirrored) and isinstance(theirs, _Mirrored):
        assert ours.stores == theirs.stores
        assert ours["decided"] == 14
    del ours["never-counted"]  # Counter's own: no KeyError
    del ours["applied"]
    outcomes.count_for("applied", "/", None)
    assert ours["applied"] == (11 if kind is _Mirrored else 1)
