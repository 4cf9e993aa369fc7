"""A click in headless Chromium: the listener's beacon to the middleware's click path, a 204, and the click at the
edge with the element's event token and the visitor's tntId. Skipped where there is no Chromium or Playwright."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware
from target_middleware.visitor import Visitor
from tests.browser import chromium, needs_chromium
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge
from tests.servers import serve

pytestmark = needs_chromium

KEY = b"browser-test-signing-key-0123456789"
PAGE = (
    "<!DOCTYPE html><html><head><title>Tents</title></head><body><h1>Tents</h1>"
    '<a id="cta" href="#bought">Buy</a><p id="after">after</p></body></html>'
)


@pytest.fixture(scope="module")
def edge() -> Iterator[ScriptedEdge]:
    edge, server, thread = start_edge()
    yield edge
    stop_edge(edge, server, thread)


def clicks(edge: ScriptedEdge) -> list[dict[str, Any]]:
    return [r.body for r in edge.requests if isinstance(r.body, dict) and "notifications" in r.body]


def test_a_click_in_chromium_reaches_the_edge_and_a_replay_for_another_visitor_does_not(edge: ScriptedEdge) -> None:
    async def page(request: Any) -> Response:
        return HTMLResponse(PAGE)

    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    app = TargetMiddleware(
        Starlette(routes=[Route("/", page)]),
        client=client,
        rules=[MboxRule("/", mboxes=["hero"])],
        signing_key=KEY,
        timeout=30.0,
    )
    with serve(app) as url, chromium() as browser:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(url + "/")
        with tab.expect_request(lambda r: r.url == url + "/_target/click") as asked:
            tab.click("#cta")
        beacon = asked.value
        assert beacon.method == "POST"
        assert beacon.headers["content-type"] == "application/json"
        # What the listener sent (Chromium does not hand a beacon's Blob body to Playwright): read back from
        # the page as the listener reads it.
        sent = tab.evaluate(
            "() => { const d = JSON.parse(document.querySelector("
            "'script[data-target-middleware=\"click-signatures\"]').textContent);"
            " return {expires: d.expires, url: location.href, clicks: [{token: 'click-token',"
            " mbox: d.clicks['click-token'][0], signature: d.clicks['click-token'][1]}]}; }"
        )
        answer = beacon.response()
        assert answer is not None
        assert answer.status == 204
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "mbox")
        deadline = time.monotonic() + 15
        while not clicks(edge) and time.monotonic() < deadline:
            time.sleep(0.02)
        [received] = clicks(edge)
        assert received["id"]["tntId"] == "a1b2c3d4e5.35_0"
        assert "a1b2c3d4e5.35_0" in cookie
        [note] = received["notifications"]
        assert (note["type"], note["tokens"], note["mbox"]) == ("click", ["click-token"], {"name": "hero"})
        assert note["address"]["url"] == url + "/"
        context.close()
        # The same beacon, replayed by another visitor (its own cookie), with httpx: refused.
        other = Visitor(session_id="other-session", tnt_id="other-visitor.35_0").mbox_cookie()
        headers = {"content-type": "application/json", "origin": url, "cookie": f"mbox={other.value}"}
        replay = httpx.post(url + "/_target/click", content=json.dumps(sent), headers=headers)
        forged = {**sent, "clicks": [{**sent["clicks"][0], "signature": "x" * 22}]}
        del headers["cookie"]
        forgery = httpx.post(url + "/_target/click", content=json.dumps(forged), headers=headers)
        assert (replay.status_code, forgery.status_code) == (403, 403)
    # The server has shut down, its queue flushed: the edge got the one click, nothing more.
    assert len(clicks(edge)) == 1
    assert app.stats["click"] == 1
    assert app.stats["click-forged"] == 2
