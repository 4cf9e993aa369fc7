"""explain(): what the middleware would do for a request, from a handler of the app, under a real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from target_middleware import (
    Explanation,
    MboxRule,
    TargetClient,
    TargetMiddleware,
    TargetStats,
    explain,
)
from target_middleware.explain import find_target_middleware
from target_middleware.testing import actions_option, static_client
from tests.delivery.edge import start_edge, stop_edge
from tests.servers import serve

PAGE = '<html><head></head><body><h1 id="hero">Welcome</h1><p id="deal">{deal}</p></body></html>'
OFFERS: dict[str, list[dict[str, Any]]] = {
    "hero": [
        actions_option(
            {"type": "setHtml", "selector": "#hero", "content": "Winter sale"},
            {"type": "setText", "selector": "#missing", "content": "x"},
            {"type": "setAttribute", "selector": "#hero", "content": {"data-on": True}},
        ),
        {"type": "json", "content": {"deal": "20% off"}},
    ],
    "sale": [{"type": "redirect", "content": "https://shop.example/deals"}],
    "elsewhere": [{"type": "redirect", "content": "https://evil.example/"}],
}


def shop(client: TargetClient, stats: TargetStats, **options: Any) -> Starlette:
    async def page(request: Request) -> Response:
        decisions = await request.state.target.decisions() if hasattr(request.state, "target") else None
        deals = decisions.json_offers("hero") if decisions else []
        return HTMLResponse(PAGE.format(deal=deals[0]["deal"] if deals else "no deal"))

    async def data(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def debug(request: Request) -> Response:
        found = await explain(request.app, request, path=request.query_params["path"])
        return JSONResponse({**found.to_dict(), "html": found.html})

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/p/{sku}", page),
            Route("/api", data),
            Route("/sale", page),
            Route("/away", page),
            Route("/plain", page),
            Route("/_explain", debug),
        ]
    )
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[
            MboxRule(
                "/p/{sku}",
                mboxes=["hero"],
                params=lambda r: {"productId": r.path_params["sku"]},
                profile_params=lambda r: {"lastViewed": r.path_params["sku"]},
            ),
            MboxRule("/", mboxes=["hero"]),
            MboxRule("/api", mboxes=["hero"]),
            MboxRule("/sale", mboxes=["sale"]),
            MboxRule("/away", mboxes=["elsewhere"]),
        ],
        redirect_hosts=["shop.example"],
        stats=stats,
        **options,
    )
    return app


async def test_the_explanation_of_a_personalized_page() -> None:
    stats = TargetStats()
    with serve(shop(static_client(OFFERS), stats)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            visited = await http.get("/p/tent-2p")
            found = (await http.get("/_explain", params={"path": "/p/tent-2p?color=red"})).json()
    assert found["outcome"] == "applied"
    assert found["path"] == "/p/tent-2p?color=red"
    assert found["rule"] == {"path": "/p/{sku}", "mboxes": ["hero"]}
    assert found["params"] == {"productId": "tent-2p"}
    assert found["profile_params"] == {"lastViewed": "tent-2p"}
    assert found["visitor"] == {"returning": True}  # the visit before set the mbox cookie with its tntId
    assert found["decisioning"] == "on-device"
    assert found["mboxes"][0]["name"] == "hero"
    assert [o["type"] for o in found["mboxes"][0]["options"]] == ["actions", "json"]
    assert [(a["index"], a["type"], a["outcome"], a["matched"], a["reason"]) for a in found["actions"]] == [
        (0, "setHtml", "applied", 1, None),
        (1, "setText", "skipped", 0, "no-match"),
        (2, "setAttribute", "applied", 1, None),
    ]
    # the page the app rendered with the decision (its json offer), with the actions applied: the visitor's page
    assert found["html"] == visited.text
    assert "20% off" in found["html"]
    assert '<h1 id="hero" data-on="true">Winter sale</h1>' in found["html"]
    assert set(found["timings_ms"]) == {"decision", "page", "apply"}
    assert stats == {"decided": 1, "applied": 1, "rewrite-cache-miss": 1}  # the visit only: explaining counts nothing


@pytest.mark.parametrize(
    ("path", "outcome", "extra"),
    [
        ("/plain", "no-rule", {"error": "no MboxRule matches: the page passes through untouched"}),
        ("/?mboxDisable=1", "bypassed", {}),
        ("/api", "not-eligible", {"status": 200}),
        (
            "/sale",
            "redirect",
            {"redirect": {"url": "https://shop.example/deals", "location": "https://shop.example/deals"}},
        ),
        (
            "/away",
            "unchanged",
            {
                "redirect": {"url": "https://evil.example/", "location": None},
                "error": "the redirect offer is refused: not an allowed http(s) URL",
            },
        ),
    ],
)
async def test_each_outcome(path: str, outcome: str, extra: dict[str, Any]) -> None:
    app = shop(static_client(OFFERS), TargetStats())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://shop.example") as http:
        await http.get("/")  # the stack is built on the first request
        found = (await http.get("/_explain", params={"path": path})).json()
    assert found["outcome"] == outcome
    assert {key: found[key] for key in extra} == extra


@pytest.mark.parametrize(("scenario", "outcome"), [("actions", "applied"), ("500", "error"), ("no-answer", "timeout")])
async def test_server_side_from_a_handler_on_the_middlewares_own_loop(scenario: str, outcome: str) -> None:
    """The middleware's client lives on its I/O thread: explain() asks it there, not on the handler's loop."""
    edge, server, thread = start_edge()
    edge.scenario = scenario
    try:
        client = TargetClient("acme", "ABC@AdobeOrg", server_domain=edge.domain, secure=False)
        stats = TargetStats()
        with serve(shop(client, stats, timeout=0.5)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                assert (await http.get("/")).status_code == 200
                found = (await http.get("/_explain", params={"path": "/"})).json()
                again = await http.get("/")
    finally:
        stop_edge(edge, server, thread)
    assert found["outcome"] == outcome
    assert found["decisioning"] == ("server-side" if outcome == "applied" else None)
    if outcome != "applied":
        assert found["error"].startswith("the decision failed: ")
    assert again.status_code == 200
    if outcome == "applied":  # and no "bound to a different event loop" failure for the middleware after it
        assert ">Hi</h1>" in found["html"]
        assert ">Hi</h1>" in again.text
        assert stats["applied"] == 2


def test_explain_finds_the_middleware_or_says_it_is_missing() -> None:
    middleware = TargetMiddleware(Starlette(), client=static_client({}), rules=[])
    assert find_target_middleware(middleware) is middleware
    with pytest.raises(LookupError, match="no TargetMiddleware"):
        find_target_middleware(Starlette())


def test_an_explanation_is_a_value() -> None:
    found = Explanation("/x", "no-rule")
    assert found.to_dict()["outcome"] == "no-rule"
    with pytest.raises(AttributeError):
        found.outcome = "applied"  # type: ignore[misc]


async def test_with_the_breaker_open_target_is_not_asked() -> None:
    edge, server, thread = start_edge()
    edge.scenario = "500"
    try:
        client = TargetClient("acme", "ABC@AdobeOrg", server_domain=edge.domain, secure=False)
        with serve(shop(client, TargetStats(), breaker_failures=1, breaker_cooldown=600)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                await http.get("/")  # fails: the breaker opens
                asked = len(edge.requests)
                found = (await http.get("/_explain", params={"path": "/"})).json()
    finally:
        stop_edge(edge, server, thread)
    assert found["outcome"] == "breaker-open"
    assert len(edge.requests) == asked
