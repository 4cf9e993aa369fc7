"""Clicks and conversions: signed pages, the click endpoint, track() from handlers, against a real edge on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware
from target_middleware import tracking as tracking_module
from target_middleware.clicks import MAX_BEACON_BYTES, MAX_CLICKS
from target_middleware.identity import CustomerId
from target_middleware.pagebytes import splice_before_body_end
from target_middleware.testing import static_client
from target_middleware.tracking import ClickSigner
from target_middleware.visitor import Visitor
from tests.asgi import asgi_get
from tests.datafiles import OPENAPI
from tests.delivery.edge import ScriptedEdge, refused_port
from tests.delivery.test_openapi import _validator
from tests.servers import serve

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

KEY = "a-signing-key-shared-by-every-worker"
PAGE = (
    "<!DOCTYPE html><html><head><title>Shop</title></head>"
    '<body><h1>Tents</h1><a id="cta" href="#">Buy</a></body></html>'
)
SIGNATURES = re.compile(
    r'<script type="application/json" data-target-middleware="click-signatures"[^>]*>(.*?)</script>'
)


@pytest.fixture
def edge(edge_server: ScriptedEdge) -> ScriptedEdge:
    edge_server.scenario = "html"
    edge_server.requests.clear()
    return edge_server


@pytest.fixture(scope="module")
def validator() -> Any:
    return _validator(OPENAPI)


def shop(edge: ScriptedEdge, **options: Any) -> TargetMiddleware:
    async def page(request: Any) -> Response:
        return HTMLResponse(PAGE)

    async def order(request: Any) -> Response:
        outcome = await request.state.target.track("orderConfirm", order={"orderId": "o-1", "orderTotal": 42.5})
        return Response(outcome)

    app = Starlette(routes=[Route("/", page), Route("/order", order, methods=["POST"])])
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    options.setdefault("signing_key", KEY)
    return TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=["hero"])], timeout=30.0, **options)


@pytest.fixture
async def middleware(edge: ScriptedEdge) -> AsyncIterator[TargetMiddleware]:
    mw = shop(edge)
    yield mw
    await mw.aclose()


def http(mw: TargetMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url="http://shop.test")


def beacon_of(page: str) -> dict[str, Any]:
    """What the listener would send for a click on #cta of ``page``."""
    match = SIGNATURES.search(page)
    assert match is not None, "the page carries no signatures"
    data = json.loads(match.group(1))
    tokens = re.search(r'data-target-click="([^"]*)"', page)
    assert tokens is not None
    clicks = [
        {"token": t, "mbox": data["clicks"][t][0], "signature": data["clicks"][t][1]} for t in tokens.group(1).split()
    ]
    return {"expires": data["expires"], "url": "http://shop.test/", "clicks": clicks}


POST = {"content-type": "application/json", "origin": "http://shop.test", "sec-fetch-site": "same-origin"}


def notification_requests(edge: ScriptedEdge) -> list[dict[str, Any]]:
    return [r.body for r in edge.requests if isinstance(r.body, dict) and "notifications" in r.body]


async def received(edge: ScriptedEdge, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while len(notification_requests(edge)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return notification_requests(edge)


# -- the page ----------------------------------------------------------------------------------------------------


def test_signatures_are_spliced_before_the_last_body_end_or_at_the_end() -> None:
    element = b"<script>x</script>"
    assert (
        splice_before_body_end(b"<p></body></html><!-- </body> -->", element)
        == b"<p></body></html><!-- <script>x</script></body> -->"
    )
    assert splice_before_body_end(b"<body><p>a</p></BODY>", element) == b"<body><p>a</p><script>x</script></BODY>"
    assert splice_before_body_end(b"<p>fragment</p>", element) == b"<p>fragment</p><script>x</script>"
    utf16 = "<body>é</body>".encode("utf-16-le")
    assert (
        splice_before_body_end(utf16, "<i/>".encode("utf-16-le"), "utf-16-le").decode("utf-16-le")
        == "<body>é<i/></body>"
    )


async def test_a_page_with_a_click_metric_carries_this_visitor_s_signatures(
    middleware: TargetMiddleware, edge: ScriptedEdge
) -> None:
    async with http(middleware) as client:
        page = (await client.get("/")).text
    assert 'data-target-click="click-token"' in page  # the unsigned token, as apply_actions leaves it
    assert 'data-endpoint="/_target/click"' in page
    data = json.loads(SIGNATURES.search(page).group(1))  # type: ignore[union-attr]
    mbox, signature = data["clicks"]["click-token"]
    assert mbox == "hero"
    assert 0 < data["expires"] - time.time() <= tracking_module.CLICK_TTL
    signer = ClickSigner(KEY)
    assert signer.verify(signature, "click-token", "hero", "t:a1b2c3d4e5.35_0", data["expires"])
    assert not signer.verify(signature, "click-token", "hero", "t:someone-else.35_0", data["expires"])
    assert page.index("click-signatures") < page.index("</body>")


async def test_the_signatures_carry_the_csp_nonce(edge: ScriptedEdge) -> None:
    async def page(request: Any) -> Response:
        return HTMLResponse(PAGE, headers={"content-security-policy": "script-src 'nonce-r4nd0m'"})

    app = Starlette(routes=[Route("/", page)])
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False)
    mw = TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=["hero"])], signing_key=KEY, timeout=30.0)
    async with http(mw) as http_client:
        text = (await http_client.get("/")).text
    await mw.aclose()
    assert re.search(r'data-target-middleware="click-signatures" nonce="r4nd0m"', text)


# -- the click endpoint ------------------------------------------------------------------------------------------


async def test_a_click_is_answered_204_and_reaches_the_edge(
    middleware: TargetMiddleware, edge: ScriptedEdge, validator: Any
) -> None:
    async with http(middleware) as client:
        page = (await client.get("/")).text
        answer = await client.post("/_target/click", content=json.dumps(beacon_of(page)), headers=POST)
    assert answer.status_code == 204
    assert answer.content == b""
    [sent] = await received(edge)
    assert sent["id"] == {"tntId": "a1b2c3d4e5.35_0"}
    [note] = sent["notifications"]
    assert (note["type"], note["tokens"], note["mbox"]) == ("click", ["click-token"], {"name": "hero"})
    assert note["address"] == {"url": "http://shop.test/"}
    assert sent["context"]["address"]["url"] == "http://shop.test/"
    assert list(validator.iter_errors(sent)) == []
    assert middleware.stats["click"] == 1


async def test_a_page_signed_before_blake2b_still_clicks(middleware: TargetMiddleware, edge: ScriptedEdge) -> None:
    """A tab opened before the upgrade carries HMAC-SHA256 signatures: its clicks count for their day; the same
    signature for another visitor, or under another key, is forged."""
    async with http(middleware) as client:
        fresh = beacon_of((await client.get("/")).text)
        click = fresh["clicks"][0]
        signed_before = ClickSigner(KEY).sign_hmac(click["token"], "hero", "t:a1b2c3d4e5.35_0", fresh["expires"])
        assert signed_before != click["signature"]  # new pages are signed with BLAKE2b
        old = {**fresh, "clicks": [{**click, "signature": signed_before}]}
        other_key = ClickSigner(KEY + "-other").sign_hmac(click["token"], "hero", "t:a1b2c3d4e5.35_0", fresh["expires"])
        answers = [
            await client.post("/_target/click", content=json.dumps(old), headers=POST),
            await client.post(
                "/_target/click", content=json.dumps(old), headers={**POST, "cookie": visitor_cookie("someone.35_0")}
            ),
            await client.post(
                "/_target/click",
                content=json.dumps({**old, "clicks": [{**click, "signature": other_key}]}),
                headers=POST,
            ),
        ]
    assert [a.status_code for a in answers] == [204, 403, 403]
    [sent] = await received(edge)
    assert sent["notifications"][0]["tokens"] == ["click-token"]
    assert (middleware.stats["click"], middleware.stats["click-forged"]) == (1, 2)


async def test_the_app_never_sees_the_click_path(edge: ScriptedEdge) -> None:
    seen: list[str] = []

    async def anything(request: Any) -> Response:
        seen.append(request.url.path)
        return Response("app")

    app = Starlette(routes=[Route("/{p:path}", anything, methods=["GET", "POST"])])
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False)
    mw = TargetMiddleware(app, client=client, rules=[], signing_key=KEY)
    async with http(mw) as http_client:
        assert (await http_client.get("/_target/click")).status_code == 405
        assert (await http_client.post("/_target/click", json={}, headers=POST)).status_code == 400
        assert (await http_client.get("/_target/clicks")).text == "app"
    await mw.aclose()
    assert seen == ["/_target/clicks"]


def visitor_cookie(tnt_id: str) -> str:
    cookie = Visitor(session_id="other-session", tnt_id=tnt_id).mbox_cookie()
    return f"{cookie.name}={cookie.value}"


async def test_bad_beacons_get_a_4xx_and_nothing_is_forwarded(
    middleware: TargetMiddleware, edge: ScriptedEdge, caplog: pytest.LogCaptureFixture
) -> None:
    async with http(middleware) as client:
        page = (await client.get("/")).text
        good = beacon_of(page)
        forged = {**good, "clicks": [{**good["clicks"][0], "signature": "A" * 22}]}
        retargeted = {**good, "clicks": [{**good["clicks"][0], "mbox": "another-mbox"}]}
        later = {**good, "expires": good["expires"] + 1}
        past = int(time.time()) - 1
        expired_signature = ClickSigner(KEY).sign("click-token", "hero", "t:a1b2c3d4e5.35_0", past)
        expired = {**good, "expires": past, "clicks": [{**good["clicks"][0], "signature": expired_signature}]}
        too_many = {**good, "clicks": good["clicks"] * (MAX_CLICKS + 1)}
        unsigned = {"tokens": ["click-token"]}
        padded = {**good, "url": "http://shop.test/?" + "x" * MAX_BEACON_BYTES}
        cases: list[tuple[int, str, Any, dict[str, str]]] = [
            (403, "forged", forged, POST),
            (403, "forged", retargeted, POST),
            (403, "forged", later, POST),
            (403, "expired", expired, POST),
            (400, "too-many", too_many, POST),
            (400, "unsigned", unsigned, POST),
            (413, "too-large", padded, POST),
            (415, "content-type", good, {**POST, "content-type": "text/plain"}),
            (403, "cross-site", good, {**POST, "origin": "https://evil.example"}),
            (403, "cross-site", good, {**POST, "origin": "null"}),
            (403, "cross-site", good, {**POST, "sec-fetch-site": "cross-site"}),
            (403, "forged", good, {**POST, "cookie": visitor_cookie("another-visitor.35_0")}),  # another visitor
            (403, "forged", good, {**POST, "cookie": "mbox=gone"}),  # no visitor at all
        ]
        with caplog.at_level(logging.DEBUG, logger="target_middleware"):
            for status, reason, body, headers in cases:
                answer = await client.post("/_target/click", content=json.dumps(body), headers=headers)
                assert (answer.status_code, answer.text.strip()) == (status, f"click refused: {reason}"), reason
            answer = await client.post(
                "/_target/click", content=b"{" * 10, headers={**POST, "content-length": str(MAX_BEACON_BYTES + 1)}
            )
            assert answer.status_code in (400, 413)  # a lying Content-Length is refused either way
    await middleware.aclose()  # sends everything still queued
    assert notification_requests(edge) == []
    stats = middleware.stats
    assert stats["click"] == 0
    assert stats["click-forged"] == 5
    assert (stats["click-expired"], stats["click-too-many"], stats["click-unsigned"]) == (1, 1, 1)
    assert (stats["click-content-type"], stats["click-cross-site"]) == (1, 3)
    for secret in ("a1b2c3d4e5", "another-visitor", "click-token", good["clicks"][0]["signature"]):
        assert secret not in caplog.text


async def test_a_lying_content_length_is_cut_at_the_cap(middleware: TargetMiddleware, edge: ScriptedEdge) -> None:
    chunks = [b"[" * 1000] * 10  # streamed past the cap with no Content-Length

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async with http(middleware) as client:
        answer = await client.post("/_target/click", content=body(), headers=POST)
    assert answer.status_code == 413
    assert middleware.stats["click-too-large"] == 1


async def test_a_beacon_replayed_to_another_process_key_is_forged(edge: ScriptedEdge) -> None:
    first, second = shop(edge, signing_key=KEY), shop(edge, signing_key=KEY + "-rotated")
    async with http(first) as client:
        beacon = beacon_of((await client.get("/")).text)
    async with http(second) as client:
        client.cookies.set("mbox", Visitor(session_id="s1", tnt_id="a1b2c3d4e5.35_0").mbox_cookie().value)
        answer = await client.post("/_target/click", content=json.dumps(beacon), headers=POST)
    assert answer.status_code == 403
    await first.aclose()
    await second.aclose()


def test_signing_keys_are_checked_at_construction(edge: ScriptedEdge, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="empty"):
        shop(edge, signing_key="")
    with pytest.raises(ValueError, match="at least 16"):
        shop(edge, signing_key=b"short")
    with pytest.raises(ValueError, match="bytes or str"):
        shop(edge, signing_key=12345678901234567890)
    with pytest.raises(ValueError, match="click_path"):
        shop(edge, click_path="_target/click")
    with pytest.raises(ValueError, match="list of them"):
        shop(edge, signing_key=[])
    with pytest.raises(ValueError, match="at least 16"):
        shop(edge, signing_key=[KEY, "short"])
    shop(edge, signing_key=b"\x00" * 16)  # bytes of any value will do


async def test_a_rotated_key_still_verifies_the_previous_key_s_pages(edge: ScriptedEdge) -> None:
    before, after = shop(edge, signing_key=KEY), shop(edge, signing_key=["a-brand-new-key-for-this-year", KEY])
    async with http(before) as client:
        beacon = beacon_of((await client.get("/")).text)
    async with http(after) as client:
        client.cookies.set("mbox", Visitor(session_id="s1", tnt_id="a1b2c3d4e5.35_0").mbox_cookie().value)
        old = await client.post("/_target/click", content=json.dumps(beacon), headers=POST)
        fresh = beacon_of((await client.get("/")).text)
    await before.aclose()
    await after.aclose()
    assert old.status_code == 204
    assert ClickSigner("a-brand-new-key-for-this-year").verify(
        fresh["clicks"][0]["signature"], "click-token", "hero", "t:a1b2c3d4e5.35_0", fresh["expires"]
    )  # new pages are signed with the first key


def test_no_key_warns_once_per_process_and_signs_with_the_process_key(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking_module, "_said", set())
    with caplog.at_level(logging.WARNING):
        first, second = shop(edge, signing_key=None), shop(edge, signing_key=None)
        shop(edge, signing_key=None, click_endpoint="https://collector.example/clicks")
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "signing_key" in caplog.text
    assert first.tracking.signer.sign("t", "m", "v", 1) == second.tracking.signer.sign("t", "m", "v", 1)


async def test_a_receiver_of_your_own_keeps_the_unsigned_beacon(edge: ScriptedEdge) -> None:
    mw = shop(edge, click_endpoint="https://collector.example/clicks")
    async with http(mw) as client:
        page = (await client.get("/")).text
        assert (await client.post("/_target/click", json={}, headers=POST)).status_code == 404  # the app's
    await mw.aclose()
    assert 'data-endpoint="https://collector.example/clicks"' in page
    assert SIGNATURES.search(page) is None


# -- track() -----------------------------------------------------------------------------------------------------


def fastapi_shop(edge: ScriptedEdge, server_domain: str | None = None, **client_options: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/orders/{order_id}")
    async def place(order_id: str, request: Request) -> dict[str, str]:
        outcome = await request.state.target.track(
            "orderConfirm",
            params={"payment": "card"},
            profile={"loyalty": "gold"},
            order={"orderId": order_id, "orderTotal": 99.5, "productPurchasedId": ["tent-2p", "stove-ti"]},
            wait=request.query_params.get("wait") == "1",
        )
        return {"outcome": outcome}

    client = TargetClient(
        "acme", "O@AdobeOrg", server_domain=server_domain or edge.domain, secure=False, **client_options
    )
    app.add_middleware(TargetMiddleware, client=client, rules=[], signing_key=KEY)
    return app


async def test_track_from_a_fastapi_handler_reaches_the_edge_with_the_order(edge: ScriptedEdge, validator: Any) -> None:
    cookie = visitor_cookie("buyer-1.35_0")
    with serve(fastapi_shop(edge)) as url:
        async with httpx.AsyncClient(base_url=url, headers={"cookie": cookie, "user-agent": "Shopper/1.0"}) as client:
            queued = await client.post("/orders/o-17")
            waited = await client.post("/orders/o-18?wait=1")
    assert (queued.json(), waited.json()) == ({"outcome": "queued"}, {"outcome": "sent"})
    sent = notification_requests(edge)  # the server's lifespan shutdown flushed the queue
    notes = [n for body in sent for n in body["notifications"]]
    assert [n["order"]["id"] for n in notes] == ["o-17", "o-18"]
    note = notes[0]
    assert (note["type"], note["mbox"]) == ("display", {"name": "orderConfirm"})
    assert note["order"] == {"id": "o-17", "total": 99.5, "purchasedProductIds": ["tent-2p", "stove-ti"]}
    assert note["parameters"] == {"payment": "card"}
    assert note["profileParameters"] == {"loyalty": "gold"}
    assert note["address"]["url"].endswith("/orders/o-17")
    for body in sent:
        assert body["id"] == {"tntId": "buyer-1.35_0"}
        assert body["context"]["userAgent"] == "Shopper/1.0"
        assert "sessionId=other-session" in edge.requests[0].url
        assert list(validator.iter_errors(body)) == []


@pytest.mark.parametrize("fault", ["500", "no-answer", "refused"])
async def test_target_failures_never_reach_the_handler(
    edge: ScriptedEdge, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    domain = f"127.0.0.1:{refused_port()}" if fault == "refused" else None
    edge.scenario = fault if fault != "refused" else "html"
    with caplog.at_level(logging.WARNING), serve(fastapi_shop(edge, domain, timeout=0.5)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            answers = [await client.post("/orders/o-1?wait=1"), await client.post("/orders/o-2")]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["outcome"] for a in answers] == ["failed", "queued"]
    failures = [r for r in caplog.records if "notifications to Target failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, however many batches failed


async def test_track_checks_its_arguments(edge: ScriptedEdge) -> None:
    errors: list[str] = []

    async def order(request: Any) -> Response:
        for kwargs in ({"order": {"orderTotal": "lots"}}, {"order": {"coupon": "x"}}, {"params": {"a": object()}}):
            try:
                await request.state.target.track("orderConfirm", **kwargs)
            except ValueError as exc:
                errors.append(str(exc))
        try:
            await request.state.target.track("")
        except ValueError as exc:
            errors.append(str(exc))
        return Response("ok")

    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False)
    mw = TargetMiddleware(Starlette(routes=[Route("/", order)]), client=client, rules=[], signing_key=KEY)
    async with http(mw) as http_client:
        assert (await http_client.get("/")).text == "ok"
    await mw.aclose()
    assert len(errors) == 4
    assert "orderTotal" in errors[0]
    assert "orderId" in errors[1]
    assert "mbox" in errors[3]
    assert notification_requests(edge) == []


async def test_track_event_outside_requests(edge: ScriptedEdge, validator: Any) -> None:
    async with TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False) as client:
        outcome = await client.track_event(
            "newsletter", visitor=Visitor(session_id="s-9", tnt_id="reader.35_0"), params={"mbox3rdPartyId": "crm-7"}
        )
        assert outcome == "queued"
    [sent] = notification_requests(edge)
    assert sent["id"] == {"tntId": "reader.35_0", "thirdPartyId": "crm-7"}
    assert sent["notifications"][0]["mbox"] == {"name": "newsletter"}
    assert list(validator.iter_errors(sent)) == []


# -- beacons of any shape ----------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=40,
)
CLICK = st.fixed_dictionaries(
    {
        "token": st.text(max_size=60) | JSON,
        "mbox": st.text(max_size=60) | JSON,
        "signature": st.from_regex(r"[A-Za-z0-9_-]{22}", fullmatch=True) | JSON,
    }
)
BEACON = st.fixed_dictionaries(
    {"expires": st.integers(min_value=-(2**70), max_value=2**70) | JSON, "clicks": st.lists(CLICK, max_size=25) | JSON},
    optional={"url": st.text(max_size=80), "tokens": JSON},
)
BODIES = st.one_of(
    st.binary(max_size=6000),
    JSON.map(lambda value: json.dumps(value).encode()),
    BEACON.map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.builds(
        lambda click, n: json.dumps({"expires": 2**40, "clicks": [click] * n}).encode(), CLICK, st.integers(0, 500)
    ),
)


async def asgi_post(app: Any, body: bytes, headers: dict[str, str]) -> int:
    raw = [(k.encode(), v.encode()) for k, v in {"host": "shop.test", **headers}.items()]
    scope = {"type": "http", "method": "POST", "path": "/_target/click", "headers": raw, "query_string": b""}
    scope |= {"scheme": "http", "http_version": "1.1", "client": ("127.0.0.1", 5), "server": ("shop.test", 80)}
    parts = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, declared=st.booleans())
def test_beacons_of_any_shape_are_refused_and_forward_nothing(body: bytes, declared: bool) -> None:
    client = static_client({})
    mw = TargetMiddleware(Starlette(), client=client, rules=[], signing_key=KEY)
    headers = {**POST, "cookie": visitor_cookie("fuzzed.35_0")}
    if declared:
        headers["content-length"] = str(len(body))
    status = asyncio.run(asgi_post(mw, body, headers))
    assert status in (400, 403, 413)
    assert mw.stats["click"] == 0
    assert client.notifications.counts["queued"] == 0
    assert len(client.notifications) == 0


# -- on-device and hybrid; the rewrite cache's contract --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    response: dict[str, Any]
    notifications: tuple[dict[str, Any], ...] = ()
    remote_mboxes: tuple[str, ...] = ()


class ClickMetricDecider:
    """Decides in process: every mbox gets a click metric on #cta (as an on-device artifact's VEC metric)."""

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> LocalAnswer:
        mboxes = [
            {
                "index": m["index"],
                "name": m["name"],
                "options": [],
                "metrics": [{"type": "click", "selector": "#cta", "eventToken": "local-token"}],
            }
            for m in request["execute"]["mboxes"]
        ]
        visitor = dict(request.get("id") or {"tntId": "local-visitor.35_0"})
        return LocalAnswer({"status": 200, "id": visitor, "execute": {"mboxes": mboxes}})


@pytest.mark.parametrize("decisioning", ["on-device", "hybrid"])
async def test_clicks_work_on_device_and_hybrid(edge: ScriptedEdge, decisioning: str) -> None:
    async def page(request: Any) -> Response:
        return HTMLResponse(PAGE)

    client = TargetClient(
        "acme",
        "O@AdobeOrg",
        server_domain=edge.domain,
        secure=False,
        decisioning=decisioning,
        decider=ClickMetricDecider(),
    )
    mw = TargetMiddleware(
        Starlette(routes=[Route("/", page)]), client=client, rules=[MboxRule("/", mboxes=["hero"])], signing_key=KEY
    )
    async with http(mw) as http_client:
        beacon = beacon_of((await http_client.get("/")).text)
        tnt_id = Visitor.from_cookies(dict(http_client.cookies)).tnt_id
        answer = await http_client.post("/_target/click", content=json.dumps(beacon), headers=POST)
    await mw.aclose()
    assert answer.status_code == 204
    assert len(edge.requests) == 1  # the decision was local: the only request is the click
    [sent] = notification_requests(edge)
    assert tnt_id
    assert sent["id"] == {"tntId": tnt_id}
    assert sent["notifications"][0]["tokens"] == ["local-token"]


async def test_the_rewrite_is_the_same_for_every_visitor_only_the_signatures_differ(edge: ScriptedEdge) -> None:
    mw = shop(edge)
    pages = []
    for who in ("first-visitor.35_0", "second-visitor.35_0"):
        async with http(mw) as client:
            pages.append((await client.get("/", headers={"cookie": visitor_cookie(who)})).text)
    await mw.aclose()
    first, second = (SIGNATURES.sub("", page) for page in pages)
    assert first == second  # what apply_actions made: shareable by every visitor of the experience
    assert pages[0] != pages[1]  # each with its own signatures
    assert 'data-target-click="click-token"' in first


async def test_track_on_a_rule_s_route_uses_the_id_the_decision_gave_a_first_visit(edge: ScriptedEdge) -> None:
    async def landing(request: Any) -> Response:
        await request.state.target.decisions()
        outcome = await request.state.target.track("landing-view", wait=True)
        return HTMLResponse(PAGE.replace("Tents", outcome))

    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False)
    app = Starlette(routes=[Route("/", landing)])
    mw = TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=["hero"])], signing_key=KEY, timeout=30.0)
    async with http(mw) as http_client:
        page = (await http_client.get("/")).text  # no cookie: a first visit
    await mw.aclose()
    assert "<h1>sent</h1>" in page
    [sent] = notification_requests(edge)
    assert sent["id"] == {"tntId": "a1b2c3d4e5.35_0"}  # the edge's new id, not a fresh session's nothing
    assert sent["notifications"][0]["mbox"] == {"name": "landing-view"}


async def test_a_full_queue_drops_the_newest_and_says_so(edge: ScriptedEdge) -> None:
    outcomes: list[str] = []

    async def order(request: Any) -> Response:
        outcomes.append(await request.state.target.track("orderConfirm"))
        return Response("ok")

    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, max_pending_notifications=2)
    client.notifications.interval = 60  # nothing leaves before aclose()
    mw = TargetMiddleware(
        Starlette(routes=[Route("/order", order, methods=["POST"]), Route("/", lambda r: HTMLResponse(PAGE))]),
        client=client,
        rules=[MboxRule("/", mboxes=["hero"])],
        signing_key=KEY,
        timeout=30.0,
    )
    async with http(mw) as http_client:
        beacon = beacon_of((await http_client.get("/")).text)
        for _ in range(3):
            await http_client.post("/order")
        click = await http_client.post("/_target/click", content=json.dumps(beacon), headers=POST)
    await mw.aclose()
    assert outcomes == ["queued", "queued", "dropped"]
    assert click.status_code == 204  # the visitor is not told: a click is not theirs to retry
    assert (mw.stats["click"], mw.stats["click-dropped"]) == (1, 1)
    assert client.notifications.counts["dropped"] == 2
    assert [n["mbox"]["name"] for body in notification_requests(edge) for n in body["notifications"]] == [
        "orderConfirm",
        "orderConfirm",
    ]


class PageLoadAndRegionalClicks:
    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> LocalAnswer:
        execute: dict[str, Any] = {}
        if "pageLoad" in request["execute"]:
            execute["pageLoad"] = {"metrics": [{"type": "click", "selector": "#cta", "eventToken": "page-load-token"}]}
        execute["mboxes"] = [
            {
                "index": m["index"],
                "name": m["name"],
                "metrics": [{"type": "click", "selector": "h1", "eventToken": "r"}],
            }
            for m in request["execute"].get("mboxes", ())
        ]
        return LocalAnswer({"status": 200, "id": {"tntId": "v.35_0"}, "execute": execute})


@pytest.mark.parametrize(("clicks", "signed"), [("atjs", {"r"}), ("first-party", {"r", "page-load-token"})])
async def test_with_the_at_js_hand_off_only_our_clicks_are_signed(clicks: str, signed: set[str]) -> None:
    async def page(request: Any) -> Response:
        return HTMLResponse(PAGE)

    client = TargetClient("acme", "O@AdobeOrg", decisioning="on-device", decider=PageLoadAndRegionalClicks())
    rules = [MboxRule("/", mboxes=["target-global-mbox", "hero"])]
    mw = TargetMiddleware(
        Starlette(routes=[Route("/", page)]), client=client, rules=rules, signing_key=KEY, handoff="atjs", clicks=clicks
    )
    async with http(mw) as http_client:
        text = (await http_client.get("/")).text
    await mw.aclose()
    match = SIGNATURES.search(text)
    assert match is not None
    assert set(json.loads(match.group(1))["clicks"]) == signed


class QueuelessClient:
    """An ``OffersClient`` of the user's own that has no notification queue (it never decides here: no rules)."""

    organization_id = "O@AdobeOrg"
    global_mbox = "target-global-mbox"
    decisioning = "server-side"

    async def get_offers(self, request: Any, **options: Any) -> Any:
        raise AssertionError("no rule: nothing is decided")

    async def aclose(self) -> None:
        return None


async def test_a_client_without_a_notification_queue_drops_clicks_and_conversions_and_says_so_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking_module, "_said", set())
    outcomes: list[str] = []

    async def order(request: Any) -> Response:
        outcomes.append(await request.state.target.track("orderConfirm"))
        return Response("ok")

    client = QueuelessClient()
    mw = TargetMiddleware(Starlette(routes=[Route("/order", order, methods=["POST"])]), client=client, rules=[])
    who = Visitor(session_id="s1", tnt_id="edge-visitor.35_0")
    expires = int(time.time()) + 60
    signature = mw.tracking.signer.sign("t", "hero", f"t:{who.tnt_id}", expires)
    beacon = {"expires": expires, "clicks": [{"token": "t", "mbox": "hero", "signature": signature}]}
    with caplog.at_level(logging.WARNING):
        async with http(mw) as http_client:
            await http_client.post("/order")
            await http_client.post("/order")
            click = await http_client.post(
                "/_target/click", content=json.dumps(beacon), headers={**POST, "cookie": visitor_cookie(who.tnt_id)}
            )
    await mw.aclose()
    assert outcomes == ["dropped", "dropped"]
    assert click.status_code == 204
    assert mw.stats["click-dropped"] == 1
    assert len([r for r in caplog.records if "QueuelessClient sends no clicks" in r.getMessage()]) == 1


async def test_clicks_and_conversions_carry_the_experience_cloud_ids(edge: ScriptedEdge, validator: Any) -> None:
    from target_middleware.amcv import amcv_cookie_name

    ecid = "12500064053434732880045517027062242948"
    customer = {"id": "user-7", "integrationCode": "crm", "authenticatedState": "authenticated"}

    async def order(request: Any) -> Response:
        return Response(await request.state.target.track("orderConfirm", wait=True))

    app = Starlette(routes=[Route("/order", order, methods=["POST"]), Route("/", lambda r: HTMLResponse(PAGE))])
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False)
    mw = TargetMiddleware(
        app,
        client=client,
        rules=[MboxRule("/", mboxes=["hero"])],
        signing_key=KEY,
        timeout=30.0,
        customer_ids=lambda request: [customer],
    )
    async with http(mw) as http_client:
        http_client.cookies.set(amcv_cookie_name("O@AdobeOrg"), f"MCMID%7C{ecid}")
        beacon = beacon_of((await http_client.get("/")).text)
        assert (await http_client.post("/order")).text == "sent"
        assert (await http_client.post("/_target/click", content=json.dumps(beacon), headers=POST)).status_code == 204
    await mw.aclose()
    conversion, click = notification_requests(edge)
    assert conversion["id"] == {"tntId": "a1b2c3d4e5.35_0", "marketingCloudVisitorId": ecid, "customerIds": [customer]}
    assert click["id"] == {"tntId": "a1b2c3d4e5.35_0", "marketingCloudVisitorId": ecid}  # a beacon knows cookies only
    for body in (conversion, click):
        assert list(validator.iter_errors(body)) == []


async def test_a_finished_request_leaves_nothing_for_the_cycle_collector() -> None:
    """scope -> state -> request.state.target -> scope would keep every request's decision (and page) alive
    until the garbage collector hunts cycles, which it then does every few requests: the handle lets go."""
    import gc

    async def page(request: Any) -> Response:
        return HTMLResponse(PAGE)

    offers = {"hero": [{"type": "actions", "content": [{"type": "setHtml", "selector": "h1", "content": "Hi"}]}]}
    routes = [Route("/", page), Route("/plain", page)]
    rules = [MboxRule("/", mboxes=["hero"])]
    mw = TargetMiddleware(Starlette(routes=routes), client=static_client(offers), rules=rules)
    cookie = visitor_cookie("cycle-1.35_0")
    for path in ("/", "/plain"):  # warm: what is made once (caches, compiled routes) is not per request
        await asgi_get(mw, path, cookie)
    gc.collect()
    gc.disable()
    try:
        for path in ("/", "/plain"):  # a decided page, and a route without a rule (track() only)
            messages = await asgi_get(mw, path, cookie)
            assert messages[-1]["type"] == "http.response.body"
            assert gc.collect() == 0, f"a request to {path} left objects only the cycle collector frees"
    finally:
        gc.enable()
    assert b"<h1>Hi</h1>" in (await asgi_get(mw, "/", cookie))[-1]["body"]


@pytest.mark.parametrize(
    "state",
    [
        {"target": "me"},  # as the middleware leaves it
        {"target": "me", "user": 1},
        {"user": 1, "target": "me", "copy": "me"},  # the app kept the handle under a second name too
        {"target": "another"},
        {"other": "me"},
        {},
        None,
        "not a dict",
    ],
)
def test_release_keeps_the_scope_without_the_handle(state: Any) -> None:
    """What release() keeps for a later track(): the scope, its state without this handle (a copy; the app's own
    scope untouched), or the scope itself when its state does not hold the handle."""
    from target_middleware.decisions import TargetRequest

    handle = TargetRequest(None, 0.0, {}, None)
    if isinstance(state, dict):
        state = {key: handle if value == "me" else TargetRequest(None, 0.0) for key, value in state.items()}
    scope: dict[str, Any] = {"type": "http", "path": "/", "state": state}
    before = dict(state) if isinstance(state, dict) else state
    handle._scope = scope
    handle.release()
    kept = handle._scope
    assert scope["state"] == before  # the app's scope is as it was
    if isinstance(state, dict) and handle in state.values():
        assert kept is not scope
        assert kept == {**scope, "state": {k: v for k, v in state.items() if v is not handle}}
    else:
        assert kept is scope
    handle.release()  # twice: nothing more to let go
    assert handle._scope == kept


async def test_track_works_after_the_response_from_a_task_the_app_left_running(
    edge: ScriptedEdge, validator: Any
) -> None:
    """The handle outlives its request: a task still running after the page left tracks for the same visitor
    and page, and the middleware's callables still read the request's state (here on a route without a rule,
    where the visitor is the request's own)."""
    tasks: list[asyncio.Task[Any]] = []
    go = asyncio.Event()

    async def page(request: Any) -> Response:
        request.state.user = "customer-7"
        target = request.state.target

        async def later() -> Any:
            await go.wait()
            return await target.track("newsletter", wait=True)

        tasks.append(asyncio.ensure_future(later()))
        return HTMLResponse(PAGE)

    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    mw = TargetMiddleware(
        Starlette(routes=[Route("/late", page)]),
        client=client,
        rules=[MboxRule("/", mboxes=["hero"])],
        timeout=30.0,
        signing_key=KEY,
        customer_ids=lambda request: [CustomerId(getattr(request.state, "user", None) or "nobody", "crm")],
    )
    cookie = visitor_cookie("later-1.35_0")
    amcv = "AMCV_O%40AdobeOrg=MCMID%7C11111111111111111111111111111111111111"
    async with http(mw) as http_client:
        response = await http_client.get("/late", headers={"cookie": f"{cookie}; {amcv}"})
    assert response.status_code == 200  # the page has left
    go.set()
    assert await tasks[0] == "sent"
    await mw.aclose()
    [sent] = notification_requests(edge)
    assert sent["id"]["tntId"] == "later-1.35_0"
    assert sent["id"]["customerIds"][0]["id"] == "customer-7"
    assert sent["notifications"][0]["mbox"] == {"name": "newsletter"}
    assert sent["notifications"][0]["address"]["url"] == "http://shop.test/late"
    assert list(validator.iter_errors(sent)) == []
