"""TargetMiddleware end to end: real apps under uvicorn on 127.0.0.1, a real (scripted) edge, real HTTP."""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.rewritecache import cache_key, rewrite
from target_middleware.testing import StaticDecider, actions_option, static_client
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge
from tests.servers import serve

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

PAGE = (
    '<!DOCTYPE html><html><head><title>Shop</title></head><body><h1 id="hero">Welcome</h1>'
    '<a id="cta" href="/">Go</a><div id="slot">default</div></body></html>'
)
HERO = actions_option(
    {"type": "setHtml", "selector": "#hero", "content": "Winter sale"},
    {"type": "setAttribute", "selector": "#cta", "content": {"href": "/sale"}},
    {"type": "appendHtml", "selector": "BODY", "content": "<script>track()</script>"},
)


def make_app(client: TargetClient, **options: Any) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"etag": '"v1"', "cache-control": "public, max-age=60"})

    async def product(request: Request) -> Response:
        return HTMLResponse(PAGE.replace("Welcome", request.path_params["sku"]))

    async def data(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stream(request: Request) -> Response:
        async def chunks() -> Any:
            yield b"<html><body><h1 id='hero'>"
            yield b"streamed</h1></body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    async def status(request: Request) -> Response:
        return Response(status_code=int(request.path_params["code"]), media_type="text/html")

    async def boom(request: Request) -> Response:
        raise RuntimeError("the app failed")

    async def file(request: Request) -> Response:
        return FileResponse(Path(request.app.state.file))

    routes = [
        Route("/", page),
        Route("/other", page),
        Route("/products/{sku}", product),
        Route("/data", data),
        Route("/stream", stream),
        Route("/status/{code}", status),
        Route("/boom", boom),
        Route("/file", file),
    ]
    app = Starlette(routes=routes)
    rules = options.pop(
        "rules",
        [
            MboxRule(
                "/products/{sku}",
                mboxes=["pdp"],
                params=lambda r: {"productId": r.path_params["sku"]},
                html_selectors={"pdp": "#slot"},
            ),
            MboxRule("/{p:path}", mboxes=["target-global-mbox", "hero"], exclude=["/other"]),
        ],
    )
    app.add_middleware(TargetMiddleware, client=client, rules=rules, **options)
    return app


@pytest.fixture
def stats() -> TargetStats:
    return TargetStats()


@pytest.fixture
def local_url(stats: TargetStats, tmp_path: Path) -> Iterator[str]:
    client = static_client({"hero": [HERO], "pdp": [{"type": "html", "content": "<b>For you</b>"}]})
    app = make_app(client, stats=stats, debug_header=True)
    app.state.file = str(tmp_path / "page.html")
    (tmp_path / "page.html").write_text(PAGE)
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def edge() -> Iterator[ScriptedEdge]:
    edge, server, thread = start_edge()
    yield edge
    stop_edge(edge, server, thread)


async def get(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, **kwargs)


async def test_a_matching_route_gets_the_personalized_page_and_right_headers(
    local_url: str, stats: TargetStats
) -> None:
    response = await get(local_url + "/")
    assert response.status_code == 200
    assert '<h1 id="hero">Winter sale</h1>' in response.text
    assert '<a id="cta" href="/sale">' in response.text
    assert response.text.startswith("<!DOCTYPE html>")
    assert int(response.headers["content-length"]) == len(response.content)
    assert "etag" not in response.headers
    assert response.headers["vary"] == "Cookie"
    assert response.headers["cache-control"] == "private, max-age=60"
    assert response.headers["server-timing"].startswith("target;dur=")
    assert response.headers["x-target-actions"] == "0:setHtml=applied, 1:setAttribute=applied, 2:appendHtml=applied"
    cookies = response.headers.get_list("set-cookie")
    mbox = next(c for c in cookies if c.startswith("mbox="))
    assert "Path=/" in mbox
    assert "SameSite=Lax" in mbox
    assert "Secure" not in mbox
    assert re.search(r"\|PC#[0-9a-f]{32}#\d+;", unquote(mbox))  # a first-time visitor got a tntId
    assert stats["applied"] == 1


async def test_a_route_without_a_rule_is_untouched(local_url: str, stats: TargetStats) -> None:
    response = await get(local_url + "/other")
    assert response.text == PAGE
    assert response.headers["etag"] == '"v1"'
    assert "set-cookie" not in response.headers
    assert "vary" not in response.headers
    assert not stats


async def test_params_from_the_path_and_html_offers_into_their_selector(local_url: str) -> None:
    response = await get(local_url + "/products/sku-42")
    assert '<div id="slot"><b>For you</b></div>' in response.text
    assert '<h1 id="hero">sku-42</h1>' in response.text


async def test_responses_that_are_not_plain_html_pass_through(local_url: str, stats: TargetStats) -> None:
    assert (await get(local_url + "/data")).json() == {"ok": True}
    streamed = await get(local_url + "/stream")
    assert streamed.text == "<html><body><h1 id='hero'>streamed</h1></body></html>"
    for code in (204, 304, 404):
        response = await get(local_url + f"/status/{code}")
        assert response.status_code == code
        assert "set-cookie" not in response.headers
    async with httpx.AsyncClient() as http:
        head = await http.head(local_url + "/")
    assert head.status_code == 200
    assert not head.content
    file = await get(local_url + "/file")
    assert file.text == PAGE
    assert file.headers["accept-ranges"] == "bytes"
    assert stats["not-eligible"] == 6  # json, stream, 204, 304, 404, file (HEAD matches no GET rule)


async def test_bypass_parameters_pass_the_page_through(local_url: str) -> None:
    for query in ("mboxDisable=1", "adobe_authoring_enabled=true", "mboxEdit=1"):
        assert (await get(f"{local_url}/?{query}")).text == PAGE


async def test_an_app_error_still_gives_starlettes_500(local_url: str) -> None:
    response = await get(local_url + "/boom")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


async def test_redirect_offers_are_checked(tmp_path: Path) -> None:
    def app_with(url: str, **options: Any) -> Starlette:
        client = static_client({"hero": [{"type": "redirect", "content": url}]})
        return make_app(client, **options)

    with serve(app_with("https://shop.example/sale?x=1")) as url:
        response = await get(url + "/?q=1")
    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/sale?x=1"
    assert response.headers["cache-control"] == "no-store"
    assert any(c.startswith("mbox=") for c in response.headers.get_list("set-cookie"))
    for hostile in ("javascript:alert(1)", "//evil.example/", "https://ok.example/\r\nSet-Cookie: x=1"):
        with serve(app_with(hostile)) as url:
            refused = await get(url + "/")
        assert refused.status_code == 200, hostile
        assert "Welcome" in refused.text
    with serve(app_with("https://other.example/", redirect_hosts=["shop.example"])) as url:
        assert (await get(url + "/")).status_code == 200
    with serve(app_with("https://shop.example/sale", redirect_keep_query=True)) as url:
        kept = await get(url + "/?utm=a")
    assert kept.headers["location"] == "https://shop.example/sale?utm=a"


async def test_outer_gzip_compresses_the_personalized_page_and_inner_gzip_passes(tmp_path: Path) -> None:
    client = static_client({"hero": [HERO]})
    outer = make_app(client)
    outer.add_middleware(GZipMiddleware, minimum_size=10)  # added last: outermost
    with serve(outer) as url:
        response = await get(url + "/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "Winter sale" in response.text
    inner = Starlette(routes=make_app(client).routes)
    inner.add_middleware(GZipMiddleware, minimum_size=10)
    inner.add_middleware(TargetMiddleware, client=client, rules=[MboxRule("/", mboxes=["hero"])])
    with serve(inner) as url:
        async with httpx.AsyncClient() as http:
            raw = await http.get(url + "/", headers={"accept-encoding": "gzip"})
    assert gzip.decompress(raw.content) if raw.headers.get("content-encoding") != "gzip" else True
    assert "Welcome" in raw.text  # compressed inside us: left alone


async def test_each_of_many_concurrent_visitors_gets_only_their_own_offers_and_cookies() -> None:
    class EchoDecider(StaticDecider):
        def decide(self, request: Any, *, session_id: str | None = None) -> Any:
            decision = StaticDecider.decide(self, request, session_id=session_id)
            tnt = request["id"]["tntId"]
            for mbox in decision.response["execute"].get("mboxes", []):
                mbox["options"] = [actions_option({"type": "setText", "selector": "#hero", "content": tnt})]
            return decision

    client = TargetClient(
        "acme", "O@AdobeOrg", decisioning="on-device", decider=EchoDecider({}), on_notifications=lambda n: None
    )
    app = make_app(client, rules=[MboxRule("/", mboxes=["hero"])])
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:

            async def visit(i: int) -> tuple[int, httpx.Response]:
                tnt = f"visitor{i:04d}.35_0"
                cookie = f"mbox=session%23s{i}%23{int(time.time()) + 900}%7CPC%23{tnt}%23{int(time.time()) + 9000}"
                return i, await http.get(url + "/", headers={"cookie": cookie})

            answers = await asyncio.gather(*(visit(i) for i in range(200)))
    for i, response in answers:
        assert f'<h1 id="hero">visitor{i:04d}.35_0</h1>' in response.text
        mbox = unquote(next(c for c in response.headers.get_list("set-cookie") if c.startswith("mbox=")))
        assert f"session#s{i}#" in mbox
        assert f"PC#visitor{i:04d}.35_0#" in mbox


async def test_the_csp_nonce_of_the_page_goes_on_inserted_scripts() -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"content-security-policy": "script-src 'nonce-abc123'"})

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(TargetMiddleware, client=static_client({"hero": [HERO]}), rules=[MboxRule("/", mboxes=["hero"])])
    with serve(app) as url:
        response = await get(url + "/")
    assert '<script nonce="abc123">track()</script>' in response.text


@pytest.mark.parametrize(
    ("scenario", "outcome"),
    [("no-answer", "timeout"), ("500", "error"), ("truncated", "parseerror"), ("html-page", "parseerror")],
)
async def test_a_failing_edge_gives_the_original_page_within_the_budget(
    edge: ScriptedEdge, scenario: str, outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    edge.scenario = scenario
    stats = TargetStats()
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    budget = 0.3 if outcome == "timeout" else 30.0  # a loaded machine must not turn an error into a timeout
    app = make_app(client, timeout=budget, stats=stats)
    with serve(app) as url, caplog.at_level(logging.WARNING, logger="target_middleware"):
        started = time.perf_counter()
        response = await get(url + "/")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.text == PAGE
    assert response.headers["etag"] == '"v1"'
    if outcome == "timeout":
        assert elapsed < 30.0  # the edge never answers: the budget, not the edge, ended the wait
    assert stats[outcome] == 1
    assert [r.levelname for r in caplog.records if r.name.startswith("target_middleware")] == ["WARNING"]


async def test_the_remote_decision_runs_while_a_cpu_bound_handler_holds_the_loop(edge: ScriptedEdge) -> None:
    edge.scenario = "actions"
    seen: dict[str, int] = {}

    async def busy(request: Request) -> Response:
        before = len(edge.requests)
        # With the I/O thread the request reaches the edge while this loop runs (it ends then: give it all the time
        # a loaded machine needs); without it nothing can reach the edge during the handler, however long it spins.
        deadline = time.monotonic() + (30 if request.query_params["io"] == "True" else 1)
        while len(edge.requests) == before and time.monotonic() < deadline:
            sum(range(1000))  # computes without ever awaiting
        seen[request.query_params["io"]] = len(edge.requests) - before
        return HTMLResponse(PAGE)

    for io_thread in (True, False):
        client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
        app = Starlette(routes=[Route("/", busy)])
        app.add_middleware(
            TargetMiddleware, client=client, rules=[MboxRule("/", mboxes=["hero"])], timeout=30.0, io_thread=io_thread
        )
        with serve(app) as url:
            response = await get(url + f"/?io={io_thread}")
        assert response.status_code == 200
    assert seen == {"True": 1, "False": 0}  # on its own thread the request reached the edge during the handler


COOLDOWN = 4.0


async def test_the_breaker_opens_after_repeated_failures_and_closes_again(edge: ScriptedEdge) -> None:
    edge.scenario = "500"
    stats = TargetStats()
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    # A cooldown far longer than two requests take on a loaded machine; then waited out.
    app = make_app(client, stats=stats, breaker_failures=2, breaker_cooldown=COOLDOWN, timeout=30.0)
    with serve(app) as url:
        for _ in range(4):
            assert (await get(url + "/")).text == PAGE
        assert (stats["error"], stats["breaker-open"]) == (2, 2)
        edge.scenario = "actions"
        await asyncio.sleep(COOLDOWN + 0.2)
        recovered = await get(url + "/")
    assert "Hi" in recovered.text
    assert stats["applied"] == 1


def test_invalid_configuration_fails_at_construction() -> None:
    client = static_client({})
    app = Starlette()
    for bad in ({"timeout": 0}, {"max_body_size": -1}, {"breaker_failures": 0}, {"cookie_domain": "a b"}):
        with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
            TargetMiddleware(app, client=client, rules=[], **bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="TargetClient"):
        TargetMiddleware(app, client=object(), rules=[])  # type: ignore[arg-type]


async def test_qa_links_and_trace_reach_target_only_when_enabled_and_private_headers_never(edge: ScriptedEdge) -> None:
    edge.scenario = "actions"
    query = "/?at_preview_token=tok&at_preview_index=1_1&mboxTrace=window&authorization=auth"
    headers = {"authorization": "Bearer secret", "x-forwarded-for": "10.1.2.3", "cookie": "sid=private; mbox=x"}
    for enabled in (False, True):
        edge.requests.clear()
        client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
        app = make_app(client, qa_mode=enabled, trace=enabled, timeout=30.0)
        with serve(app) as url:
            assert (await get(url + query, headers=headers)).status_code == 200
        [recorded] = edge.requests
        if enabled:
            assert recorded.body["qaMode"] == {
                "token": "tok",
                "previewIndexes": [{"activityIndex": 1, "experienceIndex": 1}],
            }
            assert recorded.body["trace"] == {"authorizationToken": "auth"}
        else:
            assert "qaMode" not in recorded.body
            assert "trace" not in recorded.body
        sent = {k.lower() for k in recorded.headers}
        assert not sent & {"authorization", "cookie", "x-forwarded-for"}
        assert "secret" not in str(recorded.body)
        assert "private" not in str(recorded.body)


async def test_a_params_callable_that_raises_sends_the_page_untouched(caplog: pytest.LogCaptureFixture) -> None:
    def params(request: Request) -> dict[str, str]:
        raise KeyError("secret-value")

    stats = TargetStats()
    rules = [MboxRule("/", mboxes=["hero"], params=params)]
    app = make_app(static_client({"hero": [HERO]}), rules=rules, stats=stats)
    with serve(app) as url, caplog.at_level(logging.WARNING, logger="target_middleware"):
        response = await get(url + "/")
    assert response.text == PAGE
    assert stats["error"] == 1
    [record] = [r for r in caplog.records if r.name.startswith("target_middleware")]
    assert "KeyError" in record.getMessage()
    assert "secret-value" not in record.getMessage()


async def test_large_pages_and_offers_with_many_actions_are_applied_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import anyio.to_thread

    offloaded: list[object] = []
    original = anyio.to_thread.run_sync

    async def recording(function: Any, *args: Any, **kwargs: Any) -> Any:
        offloaded.append(function)
        return await original(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", recording)
    many = actions_option(
        *({"type": "setAttribute", "selector": "#cta", "content": {f"data-{i}": "x"}} for i in range(60))
    )
    cases = [
        (static_client({"hero": [HERO]}), {}),
        (static_client({"hero": [HERO]}), {"offload_size": 10}),
        (static_client({"hero": [many]}), {}),
    ]
    counts = []
    for client, options in cases:
        offloaded.clear()
        with serve(make_app(client, rules=[MboxRule("/", mboxes=["hero"])], **options)) as url:
            response = await get(url + "/")
        assert response.status_code == 200
        assert "Winter sale" in response.text or 'data-59="x"' in response.text
        counts.append(sum(1 for f in offloaded if f is rewrite))
        # The rewrite cache's digest of a large page is computed on the worker thread too.
        assert (cache_key in offloaded) == bool(counts[-1])
    assert counts == [0, 1, 1]  # small page, few actions: inline; a page over offload_size or 60 actions: a thread


def _eligible_as_it_was(start: dict[str, Any], method: str, max_body_size: int) -> bool:
    """``personalize.eligible`` the general way, every deciding header decoded and checked (the reference)."""
    from target_middleware.personalize import _DECIDING, HTML_CONTENT_TYPES

    if start.get("status") != 200 or method not in ("GET",):
        return False
    headers: dict[bytes, str] = {}
    for key, value in start.get("headers") or ():
        if key in _DECIDING and key not in headers:
            headers[key] = value.decode("latin-1")
    if headers.get(b"content-type", "").split(";", 1)[0].strip().lower() not in HTML_CONTENT_TYPES:
        return False
    if b"content-encoding" in headers or b"content-range" in headers:
        return False
    if headers.get(b"content-disposition", "").lower().startswith("attachment"):
        return False
    if headers.get(b"accept-ranges", "").lower() == "bytes":
        return False
    length = headers.get(b"content-length", "")
    return length.isdigit() and int(length) <= max_body_size


_START_HEADERS = st.sampled_from(
    [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-type", b"TEXT/HTML"),
        (b"content-type", b" application/xhtml+xml ;q=1"),
        (b"content-type", b"application/json"),
        (b"content-type", b"text/htmlx"),
        (b"content-type", b""),
        (b"content-length", b"100"),
        (b"content-length", b"4096"),
        (b"content-length", b"4097"),
        (b"content-length", b"0"),
        (b"content-length", b""),
        (b"content-length", b"1e3"),
        (b"content-length", b"\xb2"),  # a digit to str.isdigit, not to int(): a ValueError both ways
        (b"content-length", b"-1"),
        (b"content-encoding", b"gzip"),
        (b"content-range", b"bytes 0-1/2"),
        (b"content-disposition", b"Attachment; filename=a"),
        (b"content-disposition", b"inline"),
        (b"accept-ranges", b"Bytes"),
        (b"accept-ranges", b"none"),
        (b"set-cookie", b"a=1"),
        (b"etag", b'"x"'),
    ]
)


@settings(max_examples=1000)
@given(
    st.lists(_START_HEADERS, max_size=5),
    st.sampled_from([200, 200, 200, 204, 404]),
    st.sampled_from(["GET", "GET", "HEAD", "POST"]),
    st.sampled_from([4096, 4097, 99, 100, 0, 10**7]),
    st.sampled_from([list, tuple, iter]),
)
def test_eligible_is_the_general_check(
    headers: list[tuple[bytes, bytes]], status: int, method: str, cap: int, kind: Any
) -> None:
    """The same answer as the reference for any headers (a list as servers give them, or any iterable of pairs)
    and any cap (one with as many digits as the Content-Length, or one more)."""
    from target_middleware.personalize import eligible

    def outcome(check: Any) -> Any:
        try:
            return check({"type": "http.response.start", "status": status, "headers": kind(headers)}, method, cap)
        except ValueError:
            return ValueError

    assert outcome(eligible) == outcome(_eligible_as_it_was)
    assert outcome(eligible) == outcome(eligible)  # the Content-Type remembered says the same


def test_the_content_types_remembered_are_bounded_and_each_one_is_right() -> None:
    from target_middleware import personalize

    for n in range(personalize._MAX_TYPES + 50):
        kind = f"text/html; v={n}" if n % 2 else f"text/plain; v={n}"
        start = {"status": 200, "headers": [(b"content-type", kind.encode()), (b"content-length", b"1")]}
        for _ in range(2):  # remembered, or checked again
            assert personalize.eligible(start, "GET", 10) is (n % 2 == 1)
    assert len(personalize._HTML_TYPES) == personalize._MAX_TYPES
