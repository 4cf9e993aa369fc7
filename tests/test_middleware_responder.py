"""The held response, message by message: however the app cuts its page into body messages, the page leaves as it
would in one; a body over the cap, a message of another kind, or an app that stops mid-body sends what came before
as it came, then the rest as it comes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_middleware import MboxRule, TargetMiddleware, TargetStats
from target_middleware.testing import actions_option, static_client
from tests.asgi import asgi_get

PAGE = b'<!DOCTYPE html><html><head></head><body><h1 id="hero">Welcome</h1>' + b"<p>filler</p>" * 12 + b"</body></html>"
CAP = 256  # bytes: a page of more than that is passed through as it came
VOLATILE = {b"set-cookie", b"server-timing"}  # their values carry the clock


def middleware(app: Any, stats: TargetStats) -> TargetMiddleware:
    offer = actions_option({"type": "setHtml", "selector": "#hero", "content": "Hello"})
    client = static_client({"hero": [offer]})
    return TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=["hero"])], max_body_size=CAP, stats=stats)


def scripted(chunks: list[bytes], more_last: bool, tail: list[dict[str, Any]], length: int) -> Any:
    """An app that sends its start, ``chunks`` as body messages (the last with ``more_body=more_last``), then
    ``tail`` as it is."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(length).encode())],
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1 or more_last})
        for message in tail:
            await send(message)

    return app


def shape(messages: list[dict[str, Any]]) -> list[Any]:
    """The messages with the clock's header values left out."""
    shaped: list[Any] = []
    for message in messages:
        if message["type"] == "http.response.start":
            headers = [(k, b"" if k in VOLATILE else v) for k, v in message["headers"]]
            shaped.append((message["type"], message["status"], headers))
        else:
            shaped.append(dict(message))
    return shaped


@st.composite
def cuts(draw: st.DrawFn, page: bytes) -> list[bytes]:
    """``page`` cut into body messages at drawn points, empty ones among them."""
    points = sorted(draw(st.lists(st.integers(0, len(page)), max_size=6)))
    bounds = [0, *points, len(page)]
    return [page[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=60, deadline=None)
@given(chunks=cuts(PAGE))
async def test_a_page_in_any_number_of_body_messages_leaves_as_it_would_in_one(chunks: list[bytes]) -> None:
    whole = await asgi_get(middleware(scripted([PAGE], False, [], len(PAGE)), TargetStats()))
    stats = TargetStats()
    cut = await asgi_get(middleware(scripted(chunks, False, [], len(PAGE)), stats))
    assert shape(cut) == shape(whole)
    assert b"Hello" in cut[-1]["body"]
    assert (stats["decided"], stats["applied"]) == (1, 1)
    assert len(cut) == 2


BIG = PAGE + b"<p>more</p>" * 20  # over CAP, with a Content-Length that says less


@settings(max_examples=60, deadline=None)
@given(chunks=cuts(BIG), more_last=st.booleans())
async def test_a_body_over_the_cap_goes_out_as_it_came_from_the_chunk_that_crosses_it(
    chunks: list[bytes], more_last: bool
) -> None:
    stats = TargetStats()
    app = scripted(chunks, more_last, [], 100)
    sent = await asgi_get(middleware(app, stats))
    sizes = list(itertools.accumulate(len(c) for c in chunks))
    crossing = next(i for i, size in enumerate(sizes) if size > CAP)
    last = crossing == len(chunks) - 1
    expected: list[dict[str, Any]] = [
        {"type": "http.response.body", "body": b"".join(chunks[: crossing + 1]), "more_body": not last or more_last}
    ]
    expected += [
        {"type": "http.response.body", "body": c, "more_body": i < len(chunks) - 1 or more_last}
        for i, c in enumerate(chunks)
        if i > crossing
    ]
    assert sent[0]["headers"] == [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"100")]
    assert sent[1:] == expected
    assert (stats["too-large"], stats["applied"]) == (1, 0)


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.sampled_from([b"", b"<p>a</p>", b"<p>bb</p>"]), max_size=4), stop=st.booleans())
async def test_another_message_or_a_stop_mid_body_sends_what_came_before_as_it_was(
    chunks: list[bytes], stop: bool
) -> None:
    """An app that stops with its body unfinished: what it sent goes out, ended. A message of another kind (a
    debug or trailers message) after some body: the start and the body so far first (no body message when none
    came), then that message."""
    stats = TargetStats()
    other = {"type": "http.response.trailers", "headers": [], "more_trailers": False}
    tail = [] if stop else [other]
    sent = await asgi_get(middleware(scripted(chunks, True, tail, len(PAGE)), stats))
    assert sent[0]["type"] == "http.response.start"
    body = {"type": "http.response.body", "body": b"".join(chunks), "more_body": not stop}
    if stop:
        assert sent[1:] == [body]
    else:
        assert sent[1:] == ([body] if chunks else []) + [other]
    assert stats["applied"] == 0
    assert stats["decided"] == 1


async def test_the_handle_a_task_keeps_is_a_target_request_that_keeps_neither_page_nor_cycle() -> None:
    """``request.state.target`` on a decided route is a TargetRequest (decisions() answers); kept past its
    request, it holds none of the page's bytes, and the request leaves nothing for the cycle collector."""
    import gc

    from target_middleware.decisions import TargetRequest

    kept: list[Any] = []
    inner = scripted([PAGE[:40], PAGE[40:]], False, [], len(PAGE))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        handle = scope["state"]["target"]
        assert isinstance(handle, TargetRequest)
        decided = await handle.decisions()
        assert decided is not None
        assert decided.result.page_load is not None or decided.mboxes
        kept.append(handle)
        await inner(scope, receive, send)

    mw = middleware(app, TargetStats())
    await asgi_get(mw)  # warm: what is made once
    gc.collect()
    gc.disable()
    try:
        sent = await asgi_get(mw)
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert b"Hello" in sent[-1]["body"]
    pages = [o for o in gc.get_referents(*kept) if isinstance(o, (bytes, list))]
    assert not pages, pages


def test_an_app_that_gathers_its_sends_is_served_on_one_event_loop_after_another() -> None:
    """The app's send of a kept message answers a future already done, of the loop the app runs on: gathered (which
    calls back on the future's loop), it works on a second event loop after a first has closed, as when one app
    serves the tests of a suite each on its own loop."""
    import asyncio

    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(PAGE)).encode())],
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.gather(send(start))
        await asyncio.gather(send({"type": "http.response.body", "body": PAGE, "more_body": False}))

    wrapped = middleware(app, TargetStats())
    for _ in range(2):  # asyncio.run: a new loop each time, the one before closed
        messages = asyncio.run(asyncio.wait_for(asgi_get(wrapped), 10))
        assert b"Hello" in messages[-1]["body"]


@pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)
def test_a_request_served_by_uvicorn_leaves_no_reference_cycle() -> None:
    """Through a real server the handle must not keep the server's ``send`` past the request: uvicorn's is a bound
    method of its request's cycle, which holds the scope whose state holds the handle. Kept, every request's
    objects would wait for the cycle collector (which then runs ~4x as often)."""
    import gc

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from target_middleware.middleware import _Responder
    from tests.servers import serve

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(PAGE.decode())

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(
        TargetMiddleware,
        client=static_client({"hero": [actions_option({"type": "setHtml", "selector": "#hero", "content": "Hello"})]}),
        rules=[MboxRule("/", mboxes=["hero"])],
    )
    with serve(app) as url, httpx.Client(base_url=url) as http:
        assert "Hello" in http.get("/").text  # warm: what is made once
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(5):
                assert "Hello" in http.get("/").text
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, _Responder)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert not left, f"{len(left)} requests' handles found only by the cycle collector"
