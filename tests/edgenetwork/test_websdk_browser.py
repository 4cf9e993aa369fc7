"""The Web SDK hand-off in headless Chromium with Adobe's own alloy (``@adobe/alloy`` from npm) on the page.

The page is decided by an ``EdgeNetworkClient`` against the local edge; alloy is configured against the same local
edge. alloy calls ``https://<edgeDomain>/ee/…`` only, and its ``edgeDomain`` must match ``/^[a-z0-9.-]+$/i`` (no
port), so it gets ``edge.local.test`` and Chromium maps that name's port 443 to the local edge's https listener
(``--host-resolver-rules``, a self-signed certificate the test's browser context accepts).

After the hand-off alloy renders what the server could not, renders a view on ``sendEvent`` for it from what the
hand-off gave (no fetch of its own for the page load), nothing the server rendered is rendered twice, and every
proposition is counted once: by the server for what it rendered, by alloy for what alloy rendered. Under a CSP
with a nonce too: without the page's nonce on the hand-off, alloy would never get ``applyResponse``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_middleware import MboxRule, TargetMiddleware
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from target_middleware.edgenetwork import EdgeNetworkClient
from tests.browser import chromium, needs_chromium
from tests.servers import serve

pytestmark = needs_chromium

ORG = "ORG1@AdobeOrg"
SERVER_TOKEN, LATER_TOKEN, VIEW_TOKEN = "server-rendered-token", "alloy-rendered-token", "cart-view-token"


def _rule(key: str, name: str, options: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    activity = int(key.split("-", maxsplit=1)[0])
    return {
        "ruleKey": key,
        "activityId": activity,
        "meta": {"activity.id": activity, "experience.id": 0, "location.name": name, "location.type": kind},
        "condition": {"==": ["/", {"var": "page.path"}]},
        "consequence": {"name": name, "options": options, "metrics": []},
    }


def _actions(token: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "eventToken": token, "content": list(actions)}


# The page load: one option the server can apply (#hero is in its HTML), one it cannot (#later is made by the
# page's own script); the "cart" view, for alloy on sendEvent.
ARTIFACT = {
    "version": "1.0.0",
    "globalMbox": "target-global-mbox",
    "meta": {"organizationId": ORG},
    "rules": {
        "mboxes": {
            "target-global-mbox": [
                _rule(
                    "501-0",
                    "target-global-mbox",
                    [
                        _actions(
                            SERVER_TOKEN,
                            {"type": "insertAfter", "selector": "#hero", "content": "<p class='srv'>Server</p>"},
                        ),
                        _actions(
                            LATER_TOKEN,
                            {"type": "appendHtml", "selector": "#later", "content": "<span class='late'>late</span>"},
                        ),
                    ],
                    "mbox",
                )
            ]
        },
        "views": {
            "cart": [
                _rule(
                    "502-0",
                    "cart",
                    [
                        _actions(
                            VIEW_TOKEN,
                            {"type": "appendHtml", "selector": "#cart", "content": "<b class='in-cart'>Free gift</b>"},
                        )
                    ],
                    "view",
                )
            ]
        },
    },
}

# The page as a Web SDK user writes it: alloy's base-code contract (``__alloyNS``, the ``alloy.q`` queue), the
# library, ``configure``; no page-top sendEvent (the hand-off is that event). #later comes from the page's script.
PAGE = """<!DOCTYPE html><html><head><title>Shop</title>
<script NONCE>(function(w,n){if(!w[n]){(w.__alloyNS=w.__alloyNS||[]).push(n);
var f=w[n]=function(){var a=arguments;return new Promise(function(s,j){f.q.push([s,j,a])})};f.q=[]}})(window,"alloy");
</script>
<script NONCE src="/alloy.js" async></script>
<script NONCE>alloy("configure", CONFIG);
document.addEventListener("DOMContentLoaded", function () {
  var later = document.createElement("div"); later.id = "later"; document.body.appendChild(later);
});</script>
</head><body><h1 id="hero">Welcome</h1><div id="cart"></div></body></html>"""


class Recorder:
    """The local edge, with every request's path and JSON body kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        self.seen.append((scope["path"], json.loads(raw or b"null")))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


EDGE_NAME = "edge.local.test"


@contextmanager
def browser_for(edge_port: int) -> Iterator[Any]:
    """Chromium that reaches ``https://edge.local.test`` at the local edge's https port."""
    rules = f"--host-resolver-rules=MAP {EDGE_NAME}:443 127.0.0.1:{edge_port}"
    with chromium(rules) as browser:
        yield browser


NONCE = "n0nce4alloy"


def shop(edge_domain: str, alloy_js: Path, config: dict[str, Any], *, csp: bool) -> Starlette:
    async def home(request: Request) -> Response:
        page = PAGE.replace("CONFIG", json.dumps(config)).replace("NONCE", f'nonce="{NONCE}"' if csp else "")
        headers = {"content-security-policy": f"script-src 'nonce-{NONCE}'"} if csp else {}
        return HTMLResponse(page, headers=headers)

    async def alloy(request: Request) -> Response:
        return FileResponse(alloy_js, media_type="text/javascript")

    app = Starlette(routes=[Route("/", home), Route("/alloy.js", alloy)])
    client = EdgeNetworkClient("ds-1234", ORG, edge_domain=edge_domain, secure=False, timeout=30)
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/", mboxes=["target-global-mbox"])],
        timeout=30,
        handoff="websdk",
    )
    return app


def _wait(condition: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def displayed(received: list[dict[str, Any]]) -> Counter[str]:
    return Counter(t for r in received for n in r["notifications"] if n["type"] == "display" for t in n["tokens"])


@pytest.mark.parametrize("csp", [False, True], ids=["no-csp", "csp-nonce"])
def test_alloy_continues_from_the_hand_off_without_a_page_load_call_and_renders_nothing_twice(
    alloy_js: Path, tls_pair: tuple[str, str], csp: bool
) -> None:
    received: list[dict[str, Any]] = []
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="t")
    edge = Recorder(create_edge_app(engine, organization_id=ORG, on_notifications=received.append))
    # The server calls the local edge over http, alloy over https: one edge, two listeners.
    with serve(edge) as plain, serve(edge, tls=tls_pair) as secure:
        config = {
            "datastreamId": "ds-1234",
            "orgId": ORG,
            "edgeDomain": EDGE_NAME,
            "thirdPartyCookiesEnabled": False,
            "idMigrationEnabled": False,
            "targetMigrationEnabled": False,
            "clickCollectionEnabled": False,
        }
        with (
            serve(shop(plain.removeprefix("http://"), alloy_js, config, csp=csp)) as url,
            browser_for(int(secure.rsplit(":", 1)[1])) as browser,
        ):
            context = browser.new_context(ignore_https_errors=True)
            errors: list[str] = []
            try:
                page = context.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(url + "/")
                page.wait_for_function("() => document.querySelectorAll('.late').length > 0", timeout=60_000)
                # What the server rendered is there once, what alloy rendered too; the view waits for its event.
                assert page.locator(".srv").count() == 1
                assert page.locator(".late").count() == 1
                assert page.locator(".in-cart").count() == 0
                _wait(lambda: displayed(received)[LATER_TOKEN] >= 1, "alloy's display event for what it rendered")
                before_view = len(edge.seen)
                page.evaluate(
                    """() => alloy("sendEvent", {renderDecisions: true,
                        xdm: {eventType: "web.webpagedetails.pageViews",
                              web: {webPageDetails: {viewName: "cart"}}}})"""
                )
                page.wait_for_function("() => document.querySelectorAll('.in-cart').length > 0", timeout=60_000)
                _wait(lambda: displayed(received)[VIEW_TOKEN] >= 1, "the view's display")
                time.sleep(0.5)  # anything alloy would wrongly render or send late has the time to show
                assert page.locator(".srv").count() == 1
                assert page.locator(".late").count() == 1
                assert page.locator(".in-cart").count() == 1
                cookies = {c["name"] for c in context.cookies()}
            finally:
                context.close()
    server_calls = [body for path, body in edge.seen if path.endswith("/v2/interact")]
    alloy_calls = [body for path, body in edge.seen if path.endswith("/v1/interact")]
    fetches = [b for b in server_calls if b["event"]["xdm"]["eventType"] == "decisioning.propositionFetch"]
    assert len(fetches) == 1  # the page load was fetched once, by the server
    # alloy asked the edge for no decision of the page load: none of its calls names __view__ or fetches
    for body in alloy_calls:
        scopes = ((body.get("query") or {}).get("personalization") or {}).get("decisionScopes") or []
        assert "__view__" not in scopes, body
        assert all(e["xdm"].get("eventType") != "decisioning.propositionFetch" for e in body["events"])
    assert alloy_calls, "alloy sent its display events to the local edge"
    # alloy took the region from the hand-off: its calls go where the server's answer pointed
    assert {path for path, _ in edge.seen if path.endswith("/v1/interact")} == {"/ee/local/v1/interact"}
    assert len(edge.seen) > before_view  # the view's event went out after sendEvent, not before
    # Counted once each: the server for what it rendered, alloy for the rest and the view.
    assert displayed(received) == Counter({SERVER_TOKEN: 1, LATER_TOKEN: 1, VIEW_TOKEN: 1})
    # alloy shares the server's visitor: one ECID in every display event, and the state cookies are the page's.
    assert len({r["id"].get("marketingCloudVisitorId") for r in received}) == 1
    assert {f"kndctr_{ORG.replace('@', '_')}_identity", f"kndctr_{ORG.replace('@', '_')}_cluster"} <= cookies
    assert not [e for e in errors if "alloy" in e.lower() or "Content Security Policy" in e], errors
