"""Analytics for Target: the SDID, the payloads, the data island, and A4T end to end through real servers."""

from __future__ import annotations

import asyncio
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import target_middleware.rewritecache
from target_middleware import (
    AnalyticsSettings,
    DecisioningEngine,
    MboxRule,
    TargetClient,
    TargetMiddleware,
    apply_actions,
    load_artifact,
)
from target_middleware.analytics import (
    AnalyticsLogging,
    AnalyticsPayload,
    PageViewAnalytics,
    analytics_payloads,
    data_island,
    is_supplemental_data_id,
    new_supplemental_data_id,
)
from target_middleware.identity import amcv_cookie_name
from target_middleware.pagebytes import splice_before_body_end
from target_middleware.testing import actions_option, static_client
from tests.datafiles import ARTIFACTS
from tests.delivery.edge import ScriptedEdge
from tests.servers import serve
from tests.test_identity import BLOB, ECID, ORG, amcv, schema_errors

SDID = re.compile(r"[0-7][0-9A-F]{15}-[0-7][0-9A-F]{15}")
ISLAND = "target-a4t"


class _Scripts(HTMLParser):
    """The text of each <script> as a browser's tokenizer sees it (script data ends only at '</script')."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def island_of(page: str) -> tuple[dict[str, str | None], Any]:
    parser = _Scripts()
    parser.feed(page)
    [(attrs, text)] = [(a, t) for a, t in parser.scripts if a.get("id") == ISLAND]
    assert attrs["type"] == "application/json"
    return attrs, json.loads(text)


# -- values -------------------------------------------------------------------------------------------------------


def test_the_sdid_has_the_visitor_apis_format_and_is_fresh_every_time() -> None:
    ids = {new_supplemental_data_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    for sdid in ids:
        assert len(sdid) == 33
        assert SDID.fullmatch(sdid)
    assert {sdid[0] for sdid in ids} == set("01234567")  # each half a positive signed 64-bit number
    assert not is_supplemental_data_id("7d3aa246cc99fd7f-1b3dd2e75595498e")
    assert is_supplemental_data_id("7D3AA246CC99FD7F-1B3DD2E75595498E")  # Adobe's documented example
    with pytest.raises(ValueError, match="supplemental_data_id"):
        PageViewAnalytics(AnalyticsLogging.SERVER_SIDE, supplemental_data_id="23423498732598234")


def test_settings_are_checked_at_construction() -> None:
    for options, message in [
        ({"logging": "both"}, "server_side' or 'client_side"),
        ({"tracking_server": "https://metrics.example.com"}, "without a scheme"),
        ({"tracking_server_secure": "a b"}, "host name"),
        ({"data_island_id": "1x"}, "HTML id"),
        ({"data_island_id": 'x"><script>'}, "HTML id"),
    ]:
        with pytest.raises(ValueError, match=message):
            AnalyticsSettings(**options)
    with pytest.raises(TypeError, match="AnalyticsSettings"):
        TargetMiddleware(Starlette(), client=static_client({}), rules=[], analytics={"logging": "server_side"})  # type: ignore[arg-type]
    server_side = AnalyticsSettings(tracking_server="m.example.com", tracking_server_secure="sm.example.com")
    first, second = server_side.for_page_view(), server_side.for_page_view()
    assert first.supplemental_data_id != second.supplemental_data_id
    assert first.to_json() == {
        "logging": "server_side",
        "supplementalDataId": first.supplemental_data_id,
        "trackingServer": "m.example.com",
        "trackingServerSecure": "sm.example.com",
    }
    assert AnalyticsSettings(logging="client_side").for_page_view().to_json() == {"logging": "client_side"}


def test_payloads_are_collected_from_every_answer_and_malformed_ones_skipped() -> None:
    def payload(tnta: Any) -> dict[str, Any]:
        return {"payload": {"pe": "tnt", "tnta": tnta}}

    raw = {
        "execute": {
            "pageLoad": {"analytics": payload("1:0:0|2"), "metrics": [{"type": "click", "analytics": payload(7)}]},
            "mboxes": [
                {
                    "name": "hero",
                    "analytics": payload("2:1:0|2"),
                    "metrics": [{"type": "click", "selector": "#cta", "analytics": payload("2:1:0|32767")}],
                },
                {"name": "plain"},
                {"name": "odd", "analytics": {"payload": "nope"}},
                "not-an-object",
            ],
        },
        "prefetch": {
            "views": [{"name": "cart", "analytics": payload("3:0:0|2")}],
            "metrics": [{"type": "click", "selector": "#buy", "analytics": payload("4:0:0|32767")}],
        },
    }
    assert analytics_payloads(raw) == (
        AnalyticsPayload("tnt", "1:0:0|2"),
        AnalyticsPayload("tnt", "2:1:0|2", mbox="hero"),
        AnalyticsPayload("tnt", "2:1:0|32767", mbox="hero", metric="click", selector="#cta"),
        AnalyticsPayload("tnt", "3:0:0|2", view="cart"),
        AnalyticsPayload("tnt", "4:0:0|32767", metric="click", selector="#buy"),
    )
    assert analytics_payloads({"execute": []}) == ()


def test_the_data_island_cannot_end_its_element_whatever_the_payload_holds() -> None:
    hostile = "</script><script>alert(1)</script><!--<script>&amp;\u2028"
    page_view = PageViewAnalytics(AnalyticsLogging.CLIENT_SIDE)
    island = data_island(ISLAND, page_view, [AnalyticsPayload("tnt", hostile, mbox=hostile)], nonce='n"1')
    assert island.isascii()
    assert b"</" not in island.removesuffix(b"</script>")
    page = "<html><body><p>x</p></body></html>"
    spliced = splice_before_body_end(page.encode(), island).decode()
    attrs, data = island_of(spliced)
    assert attrs["nonce"] == 'n"1'
    assert data == {"logging": "client_side", "payloads": [{"pe": "tnt", "tnta": hostile, "mbox": hostile}]}
    assert spliced.endswith("</script></body></html>")


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (b"<p>a</p></body></html>", b"<p>a</p>[X]</body></html>"),
        (b"<p>a</p></BODY >\n</html>", b"<p>a</p>[X]</BODY >\n</html>"),
        (b"<script>'</body>'</script><p>b</p></body>", b"<script>'</body>'</script><p>b</p>[X]</body>"),
        (b"<p>a fragment</p>", b"<p>a fragment</p>[X]"),
        (b"<p>early</p></body>" + b"x" * 100_000, b"<p>early</p>[X]</body>" + b"x" * 100_000),
    ],
)
def test_the_splice_goes_before_the_last_body_end_tag(page: bytes, expected: bytes) -> None:
    assert splice_before_body_end(page, b"[X]") == expected


# -- end to end: the middleware, a real edge, real HTTP -----------------------------------------------------------


@pytest.fixture
def edge(edge_server: ScriptedEdge) -> ScriptedEdge:
    edge_server.scenario = "json"
    edge_server.requests.clear()
    return edge_server


async def handler_page(request: Request) -> Response:
    """A page whose template uses what the app is given: the SDID at once, the decisions when they come."""
    target = request.state.target
    early_sdid = target.supplemental_data_id
    decisions = await target.decisions()
    payloads = [p.to_json() for p in decisions.analytics_payloads] if decisions else None
    seen = {"early": early_sdid, "decided": decisions.supplemental_data_id if decisions else None, "payloads": payloads}
    body = f'<html><head></head><body><h1>Shop</h1><pre id="seen">{json.dumps(seen)}</pre></body></html>'
    return HTMLResponse(body, headers={"content-security-policy": "script-src 'nonce-abc123'"})


async def static_page(request: Request) -> Response:
    return HTMLResponse("<html><head></head><body><h1>Shop</h1></body></html>")


def a4t_app(
    client: TargetClient,
    settings: AnalyticsSettings,
    mboxes: tuple[str, ...] = ("hero",),
    page: Any = handler_page,
    **options: Any,
) -> Starlette:
    app = Starlette(routes=[Route("/", page)])
    rules = [MboxRule("/", mboxes=list(mboxes))]
    app.add_middleware(TargetMiddleware, client=client, rules=rules, timeout=30.0, analytics=settings, **options)
    return app


def seen_in(page: str) -> dict[str, Any]:
    found = re.search(r'<pre id="seen">(.*?)</pre>', page)
    assert found is not None
    result: dict[str, Any] = json.loads(found.group(1))
    return result


async def test_server_side_one_fresh_sdid_per_page_view_in_the_request_the_page_and_decisions(
    edge: ScriptedEdge,
) -> None:
    settings = AnalyticsSettings(
        tracking_server="metrics.shop.example", tracking_server_secure="smetrics.shop.example", data_island_id=ISLAND
    )
    client = TargetClient("acme", ORG, server_domain=edge.domain, secure=False, timeout=30.0)
    cookie = {"cookie": f"{amcv_cookie_name(ORG)}={amcv(expires=2_000_000_000)}"}
    with serve(a4t_app(client, settings, ("target-global-mbox", "hero"))) as url:
        async with httpx.AsyncClient(timeout=10, headers=cookie) as http:
            pages = [await http.get(url + "/") for _ in range(3)]
    sdids = []
    for page, recorded in zip(pages, edge.requests, strict=True):
        sent = recorded.body["experienceCloud"]["analytics"]
        sdid = sent["supplementalDataId"]
        assert sent == {
            "logging": "server_side",
            "supplementalDataId": sdid,
            "trackingServer": "metrics.shop.example",
            "trackingServerSecure": "smetrics.shop.example",
        }
        assert SDID.fullmatch(sdid)
        assert schema_errors(recorded.body) == []
        assert recorded.body["id"]["marketingCloudVisitorId"] == ECID
        attrs, island = island_of(page.text)
        assert attrs["nonce"] == "abc123"
        assert island["supplementalDataId"] == sdid
        assert island["trackingServerSecure"] == "smetrics.shop.example"
        assert "payloads" not in island
        seen = seen_in(page.text)
        assert seen["early"] == seen["decided"] == sdid
        assert int(page.headers["content-length"]) == len(page.content)
        sdids.append(sdid)
    assert len(set(sdids)) == 3  # fresh for every page view


async def test_client_side_payloads_in_decisions_and_the_island_and_no_sdid(edge: ScriptedEdge) -> None:
    settings = AnalyticsSettings(logging="client_side", data_island_id=ISLAND)
    client = TargetClient("acme", ORG, server_domain=edge.domain, secure=False, timeout=30.0)
    with serve(a4t_app(client, settings, ("target-global-mbox", "hero", "footer"))) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            page = await http.get(url + "/")
    [recorded] = edge.requests
    assert recorded.body["experienceCloud"] == {"analytics": {"logging": "client_side"}}
    assert schema_errors(recorded.body) == []
    expected = [
        {"pe": "tnt", "tnta": "299:0:0|2"},
        {"pe": "tnt", "tnta": "300:1:0|2", "mbox": "hero"},
        {"pe": "tnt", "tnta": "300:1:0|32767,0:0", "mbox": "hero", "metric": "click", "selector": "#cta"},
        {"pe": "tnt", "tnta": "301:1:0|2", "mbox": "footer"},
        {"pe": "tnt", "tnta": "301:1:0|32767,1:0", "mbox": "footer", "metric": "click", "selector": "#cta"},
    ]
    _, island = island_of(page.text)
    assert island == {"logging": "client_side", "payloads": expected}
    seen = seen_in(page.text)
    assert seen == {"early": None, "decided": None, "payloads": expected}


async def test_without_a_data_island_the_page_is_left_to_the_apps_template(edge: ScriptedEdge) -> None:
    client = TargetClient("acme", ORG, server_domain=edge.domain, secure=False, timeout=30.0)
    with serve(a4t_app(client, AnalyticsSettings())) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            page = await http.get(url + "/")
    assert 'type="application/json"' not in page.text
    assert seen_in(page.text)["early"] == edge.requests[0].body["experienceCloud"]["analytics"]["supplementalDataId"]


@pytest.mark.parametrize("rewrite_cache", [0, 32 * 1024 * 1024])
async def test_the_sdid_is_spliced_in_after_the_rewrite_never_given_to_apply_actions(
    monkeypatch: pytest.MonkeyPatch, rewrite_cache: int
) -> None:
    seen: list[bytes] = []

    def recording(page: Any, actions: Any, **options: Any) -> Any:
        result = apply_actions(page, actions, **options)
        seen.append(bytes(page) + result.encode())
        return result

    monkeypatch.setattr(target_middleware.rewritecache, "apply_actions", recording)
    client = static_client({"hero": [actions_option({"type": "setHtml", "selector": "h1", "content": "Sale"})]})
    settings = AnalyticsSettings(data_island_id=ISLAND)
    with serve(a4t_app(client, settings, page=static_page, rewrite_cache=rewrite_cache)) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            pages = [await http.get(url + "/") for _ in range(2)]
    sdids = [island_of(p.text)[1]["supplementalDataId"] for p in pages]
    assert len(set(sdids)) == 2
    assert all("<h1>Sale</h1>" in p.text for p in pages)
    if rewrite_cache:
        assert len(seen) == 1  # one rewrite served both page views, each with its own SDID spliced in
    else:
        [first, second] = seen
        assert first == second  # the rewrite is the same for both visitors: it can be cached and shared
    assert not any(sdid.encode() in rewrite for sdid in sdids for rewrite in seen)


# -- on-device: allocation by the ECID, and the notifications carry the analytics request --------------------------

ARTIFACT = ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json"


def _value_for(engine: DecisioningEngine, ids: dict[str, str]) -> int:
    request = {"id": ids, "context": {"channel": "web"}, "execute": {"mboxes": [{"index": 0, "name": "mbox-magician"}]}}
    [mbox] = engine.decide(request).response["execute"]["mboxes"]
    return int(mbox["options"][0]["content"]["importantValue"])


async def test_on_device_allocates_on_the_amcv_ecid_and_notifies_with_its_ids_and_sdid(edge: ScriptedEdge) -> None:
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="targettesting")
    tnt = "f00dfeedf00dfeedf00dfeedf00dfeed.35_0"
    by_tnt = _value_for(engine, {"tntId": tnt})
    # ECIDs that the hash puts in the other experience than the tntId: only allocation on the ECID shows them.
    ecids = [
        e for e in (f"{i:038d}" for i in range(1, 200)) if _value_for(engine, {"marketingCloudVisitorId": e}) != by_tnt
    ]
    assert len(ecids) > 20

    async def page(request: Request) -> Response:
        decisions = await request.state.target.decisions()
        value = decisions.json_offers("mbox-magician")[0]["importantValue"] if decisions else None
        return HTMLResponse(f"<html><body><p id='v'>{value}</p></body></html>")

    client = TargetClient(
        "targettesting", ORG, decisioning="on-device", artifact=str(ARTIFACT), server_domain=edge.domain, secure=False
    )
    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/", mboxes=["mbox-magician"])],
        analytics=AnalyticsSettings(tracking_server="m.example.com", data_island_id=ISLAND),
        customer_ids=[{"id": "u-1", "integrationCode": "crm"}],
    )
    mbox_cookie = quote(f"session#s1#{2**40}|PC#{tnt}#{2**40}", safe="")
    shown: dict[str, tuple[str, str]] = {}
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            for ecid in ecids[:5]:
                cookie = f"mbox={mbox_cookie}; {amcv_cookie_name(ORG)}={amcv(ecid, expires=2_000_000_000)}"
                response = await http.get(url + "/", headers={"cookie": cookie})
                sdid = island_of(response.text)[1]["supplementalDataId"]
                shown[ecid] = (re.search(r"<p id='v'>(\d+)</p>", response.text).group(1), sdid)  # type: ignore[union-attr]
            for _ in range(200):  # display notifications go out in the background
                if len(edge.requests) >= 5:
                    break
                await asyncio.sleep(0.05)
    assert all(value == str(_value_for(engine, {"marketingCloudVisitorId": e})) for e, (value, _) in shown.items())
    assert all(value != str(by_tnt) for value, _ in shown.values())
    notified = {r.body["id"]["marketingCloudVisitorId"]: r.body for r in edge.requests}
    assert set(notified) == set(shown)
    for ecid, body in notified.items():
        assert body["notifications"][0]["type"] == "display"
        assert body["id"]["tntId"] == tnt
        assert body["id"]["customerIds"] == [{"id": "u-1", "integrationCode": "crm", "authenticatedState": "unknown"}]
        assert body["experienceCloud"]["analytics"] == {
            "logging": "server_side",
            "supplementalDataId": shown[ecid][1],
            "trackingServer": "m.example.com",
        }
        assert body["experienceCloud"]["audienceManager"] == {"locationHint": 9, "blob": BLOB}
        assert schema_errors(body) == []


async def test_hybrid_one_page_view_one_sdid_in_the_edges_request_and_the_local_notifications(
    edge: ScriptedEdge,
) -> None:
    client = TargetClient(
        "targettesting", ORG, decisioning="hybrid", artifact=str(ARTIFACT), server_domain=edge.domain, secure=False
    )
    app = a4t_app(client, AnalyticsSettings(data_island_id=ISLAND), ("mbox-magician", "hero"), page=static_page)
    cookie = {"cookie": f"{amcv_cookie_name(ORG)}={amcv(expires=2_000_000_000)}"}
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=10, headers=cookie) as http:
            page = await http.get(url + "/")
            for _ in range(200):  # the local decision's display notification goes out in the background
                if len(edge.requests) >= 2:
                    break
                await asyncio.sleep(0.05)
    sdid = island_of(page.text)[1]["supplementalDataId"]
    remote_request = next(r.body for r in edge.requests if "execute" in r.body)
    notification = next(r.body for r in edge.requests if "notifications" in r.body)
    assert [m["name"] for m in remote_request["execute"]["mboxes"]] == ["hero"]
    assert notification["notifications"][0]["mbox"] == {"name": "mbox-magician"}
    for body in (remote_request, notification):
        assert body["experienceCloud"]["analytics"]["supplementalDataId"] == sdid
        assert body["id"]["marketingCloudVisitorId"] == ECID
        assert schema_errors(body) == []


async def test_with_the_atjs_hand_off_both_scripts_go_in_and_name_the_same_sdid() -> None:
    client = static_client(
        {"target-global-mbox": [actions_option({"type": "setHtml", "selector": "#nowhere", "content": "x"})]}
    )
    app = Starlette(routes=[Route("/", static_page)])
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/", mboxes=["target-global-mbox"])],
        handoff="atjs",
        analytics=AnalyticsSettings(data_island_id=ISLAND),
    )
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            page = await http.get(url + "/")
    assert int(page.headers["content-length"]) == len(page.content)
    sdid = island_of(page.text)[1]["supplementalDataId"]
    found = re.search(r"serverState=(\{.*?\});</script>", page.text)
    assert found is not None
    state = json.loads(found.group(1))
    assert state["request"]["experienceCloud"]["analytics"]["supplementalDataId"] == sdid
    assert page.text.index("serverState") < page.text.index(f'id="{ISLAND}"')  # head, then before </body>
