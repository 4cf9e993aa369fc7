"""No request leaves work for the cycle collector, on any path through a real server.

uvicorn's ``send`` is a bound method of its request's cycle, which holds the scope; the scope's state holds the
middleware's handle. Whatever of ours outlives a request's frame and keeps the server's ``send`` (or the scope)
closes a reference cycle: every request's objects then wait for the collector, which runs ~4x as often and each
time finds them (~40 K instructions a request through uvicorn, measured 2026-11-30). Each path is served by uvicorn
here, with the collector off, and what it would have had to collect is looked at.
"""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from target_middleware import MboxRule, TargetMiddleware
from target_middleware.testing import actions_option, static_client
from tests.servers import serve

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

PAGE = '<!DOCTYPE html><html><head></head><body><h1 id="hero">Welcome</h1><a id="cta" href="/">Go</a></body></html>'
HERO = actions_option({"type": "setHtml", "selector": "#hero", "content": "Hello"})
REDIRECT = {"type": "redirect", "content": "https://shop.example/elsewhere"}


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def tracked(request: Request) -> Response:
    await request.state.target.track("order-confirmed", order={"orderId": "o-1", "orderTotal": 10})
    return HTMLResponse(PAGE)


async def data(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for part in ("<!DOCTYPE html><html><body>", '<h1 id="hero">Welcome</h1>', "</body></html>"):
            yield part.encode()

    return StreamingResponse(chunks(), media_type="text/html")


async def large(request: Request) -> Response:
    return HTMLResponse(PAGE.replace("Go", "x" * 4096))


async def broken(request: Request) -> Response:
    raise RuntimeError("the app fails")


def shop() -> Starlette:
    routes = [
        Route("/", page),
        Route("/tracked", tracked),
        Route("/data", data),
        Route("/stream", stream),
        Route("/large", large),
        Route("/broken", broken),
        Route("/away", page),
        Route("/plain", page),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(
        TargetMiddleware,
        client=static_client({"hero": [HERO], "away": [REDIRECT]}),
        rules=[MboxRule(path, mboxes=["hero"]) for path in ("/", "/tracked", "/data", "/stream", "/large", "/broken")]
        + [MboxRule("/away", mboxes=["away"])],
        max_body_size=2048,
        signing_key=b"a test key of at least 16 bytes",
    )
    return app


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(shop()) as url:
        yield url


def _request(http: httpx.Client, path: str) -> httpx.Response | None:
    """``path`` asked; None when the server closed the connection (after an app's exception, it may)."""
    try:
        if path == "/_target/click":  # the click endpoint: a beacon it refuses (no valid token)
            content = json.dumps({"clicks": ["forged"]})
            return http.post(path, content=content, headers={"content-type": "application/json"})
        return http.get(path)
    except httpx.TransportError:
        return None


def _collected_after(base: str, path: str, times: int) -> list[Any]:
    """What the collector finds after ``times`` requests of ``path`` (a warm one first): objects of ours or of the
    server's request."""
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        _request(http, path)  # warm: what is made once
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(times):
                _request(http, path)
            gc.collect()
            found = [o for o in gc.garbage if _ours_or_the_request(o)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    return found


def _ours_or_the_request(value: Any) -> bool:
    module = getattr(type(value), "__module__", "") or ""
    return module.startswith(("target_middleware", "uvicorn.protocols"))


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/", "Hello"),  # decided and personalized
        ("/tracked", "Hello"),  # the app tracks a conversion through request.state.target
        ("/data", '"ok"'),  # decided route, a JSON answer: sent as it came
        ("/stream", "Welcome"),  # decided route, a streamed answer
        ("/large", "Welcome"),  # over max_body_size: passed through
        ("/away", ""),  # a redirect offer
        ("/broken", None),  # the app raises (Starlette answers 500, uvicorn may close the connection)
        ("/plain", "Welcome"),  # no rule: the undecided handle
        ("/_target/click", ""),  # the click endpoint, a refused beacon
    ],
)
def test_no_path_leaves_a_reference_cycle(base: str, path: str, expect: str | None) -> None:
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        response = _request(http, path)
    if expect is None:  # the app raised: the connection may be closed
        assert response is None or response.status_code == 500
    else:  # the path is the one named
        assert response is not None
        assert expect in response.text
    if path == "/away":
        assert response is not None
        assert response.status_code == 302
        assert response.headers["location"] == "https://shop.example/elsewhere"
    if path == "/_target/click":
        assert response is not None
        assert 400 <= response.status_code < 500
    found = _collected_after(base, path, 5)
    kinds = sorted({type(o).__qualname__ for o in found})
    assert not found, f"{path}: {len(found)} objects left for the cycle collector: {kinds}"
