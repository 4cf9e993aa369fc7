"""The experiment loop on the Edge Network transport, over real HTTP: the demo decided by the local edge's interact
endpoint; a signed click becomes a ``decisioning.propositionInteract`` naming the clicked proposition, ``track()``
an experience event with the order, and the edge's report counts both per experience. Forged or replayed beacons
send nothing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_app.app import create_app
from demo_app.orders import parse_order
from demo_app.target import ARTIFACT, settings_from_env
from target_middleware import EdgeNetworkClient, MboxRule, TargetMiddleware, Visitor
from target_middleware.amcv import amcv_cookie_name
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.delivery.context import PageContext
from target_middleware.delivery.notifications import Pending, event_notification
from target_middleware.edge import create_edge_app
from target_middleware.edgenetwork.events import experience_event
from target_middleware.edgenetwork.request import identity_map
from target_middleware.identity import CustomerId
from tests.demo.loop import HERO_ACTIVITY, SIGNING_KEY, hero_tokens
from tests.robustness.faultedge import refused_port
from tests.servers import serve

ORG = settings_from_env({}).organization_id
IDENTITY = f"kndctr_{ORG.replace('@', '_')}_identity"
SIGNATURES = re.compile(
    r'<script type="application/json" data-target-middleware="click-signatures"[^>]*>(.*?)</script>'
)
ECID = "12500064053434732880045517027062242948"
HERO_TITLE = re.compile(r'<h1 class="hero-title"[^>]*>([^<]*)</h1>')


class Events:
    """The local edge, keeping the body of every interact call it answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.bodies = app, []  # type: ignore[var-annotated]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/interact"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def kept() -> Message:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.bodies.append(json.loads(b"".join(chunks)))
            return message

        await self.app(scope, kept, send)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["event"]["xdm"].get("eventType") == kind]


@dataclass
class Shop:
    edge: str
    url: str
    events: Events
    http: httpx.Client = field(init=False)

    def report(self) -> dict[tuple[int, int], dict[str, Any]]:
        data = httpx.get(self.edge + "/report?format=json", timeout=10).json()
        return {(a["id"], e["id"]): e for a in data["activities"] for e in a["experiences"]}

    def wait_for(self, found: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60  # far past the queue's batching delay, on a loaded machine too
        while not found():
            assert time.monotonic() < deadline, f"the edge never received {what}"
            time.sleep(0.05)


@pytest.fixture
def shop() -> Iterator[Shop]:
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    events = Events(create_edge_app(engine))
    with serve(events) as edge:
        env = {
            "TARGET_TRANSPORT": "edge-network",
            "TARGET_DATASTREAM_ID": "demo-datastream",
            "TARGET_EDGE_DOMAIN": edge.removeprefix("http://"),
            "TARGET_SIGNING_KEY": SIGNING_KEY,
            "TARGET_TIMEOUT": "30",
        }
        with serve(create_app(settings_from_env(env))) as url:
            running = Shop(edge, url, events)
            with httpx.Client(base_url=url, timeout=60) as running.http:
                yield running


def signed_clicks(page: str) -> dict[str, Any]:
    match = SIGNATURES.search(page)
    assert match is not None, "the page carries no signatures"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def beacon(shop: Shop, data: dict[str, Any], token: str, **changed: str) -> dict[str, Any]:
    """What the listener sends for a click on ``token``'s element (``changed``: a field replaced, or dropped as '')."""
    mbox, signature, proposition = data["clicks"][token]
    click = {"token": token, "mbox": mbox, "signature": signature, "proposition": proposition, **changed}
    return {"expires": data["expires"], "url": shop.url + "/", "clicks": [{k: v for k, v in click.items() if v}]}


def post_beacon(shop: Shop, body: dict[str, Any], cookie: str | None = None) -> int:
    headers = {"content-type": "application/json", "origin": shop.url}
    if cookie is not None:  # another visitor: only its own cookies
        headers["cookie"] = cookie
        return httpx.post(shop.url + "/_target/click", content=json.dumps(body), headers=headers).status_code
    return shop.http.post("/_target/click", content=json.dumps(body), headers=headers).status_code


def test_a_click_and_an_order_on_an_edge_decided_page_reach_the_edge_and_its_report(shop: Shop) -> None:
    tokens = {title: (token, experience) for token, (experience, title) in hero_tokens().items()}
    page = shop.http.get("/").text
    title = HERO_TITLE.search(page)
    assert title is not None
    token, experience = tokens[title.group(1)]
    identity = shop.http.cookies[IDENTITY]
    data = signed_clicks(page)
    assert f'data-target-click="{token}"' in page
    proposition = json.loads(data["clicks"][token][2])
    assert proposition["scope"] == "__view__"
    assert proposition["scopeDetails"]["characteristics"]["eventToken"] == token
    assert proposition["scopeDetails"]["activity"]["id"] == str(HERO_ACTIVITY)

    assert post_beacon(shop, beacon(shop, data, token)) == 204
    shop.wait_for(lambda: shop.events.of_type("decisioning.propositionInteract"), "the click")
    (click,) = shop.events.of_type("decisioning.propositionInteract")
    decisioning = click["event"]["xdm"]["_experience"]["decisioning"]
    assert decisioning == {"propositions": [proposition], "propositionEventType": {"interact": 1}}
    assert click["event"]["xdm"]["web"]["webPageDetails"]["URL"] == shop.url + "/"
    assert {"key": IDENTITY, "value": identity} in click["meta"]["state"]["entries"]  # the same visitor
    assert "query" not in click  # an interaction asks for no decision
    shop.wait_for(lambda: shop.report()[HERO_ACTIVITY, experience]["impressions"] == 1, "the page's display")
    row = shop.report()[HERO_ACTIVITY, experience]
    assert (row["visitors"], row["impressions"], row["clicks"]) == (1, 1, 1)
    assert shop.report()[HERO_ACTIVITY, 1 - experience]["clicks"] == 0

    # Forged, tampered, stripped, or replayed by another visitor: refused, and nothing is sent.
    other_proposition = json.dumps({**proposition, "scopeDetails": {**proposition["scopeDetails"], "x": 1}})
    refused = [
        post_beacon(shop, beacon(shop, data, token, signature="A" * 22)),
        post_beacon(shop, beacon(shop, data, token, proposition=other_proposition)),
        post_beacon(shop, beacon(shop, data, token, proposition="")),  # as a Delivery API click: not its signature
        post_beacon(shop, beacon(shop, data, token), cookie=f"{IDENTITY}=12345678901234567890"),
        post_beacon(shop, beacon(shop, data, token), cookie=""),
    ]
    assert refused == [403] * 5

    # An order: the demo's handler calls track("orderConfirm", order=...).
    ordered = shop.http.post("/deals/order", data={"sku": "tent-2p", "quantity": "2", "discount": "10"})
    assert ordered.status_code == 303
    order_id = unquote(ordered.headers["location"]).rsplit("=", 1)[1]
    shop.wait_for(lambda: shop.events.of_type("commerce.purchases"), "the order")
    (purchase,) = shop.events.of_type("commerce.purchases")
    xdm = purchase["event"]["xdm"]
    assert xdm["commerce"]["order"]["purchaseID"] == order_id
    total = parse_order(
        b"sku=tent-2p&quantity=2&discount=10", "application/x-www-form-urlencoded"
    ).total  # the catalogue's
    assert xdm["commerce"]["order"]["priceTotal"] == total
    assert xdm["commerce"]["purchases"] == {"value": 1}
    assert xdm["productListItems"] == [{"SKU": "tent-2p"}]
    assert purchase["query"]["personalization"]["decisionScopes"] == ["orderConfirm"]
    assert {"key": IDENTITY, "value": identity} in purchase["meta"]["state"]["entries"]
    shop.wait_for(lambda: shop.report()[HERO_ACTIVITY, experience]["conversions"] == 1, "the conversion counted")
    row = shop.report()[HERO_ACTIVITY, experience]
    assert (row["visitors"], row["impressions"], row["clicks"], row["conversions"]) == (1, 1, 1, 1)
    assert row["revenue"] == total
    # One queue, in order: a refused beacon forwarded would have been sent before the order.
    assert len(shop.events.of_type("decisioning.propositionInteract")) == 1


def track_app(client: EdgeNetworkClient, outcomes: list[str], **track: Any) -> TargetMiddleware:
    async def convert(request: Request) -> Response:
        outcomes.append(await request.state.target.track("signup", wait=True, **track))
        return Response("ok")

    app = Starlette(routes=[Route("/signup", convert, methods=["POST"])])
    customer = {"id": "user-7", "integrationCode": "crm", "authenticatedState": "authenticated"}
    return TargetMiddleware(
        app, client=client, rules=[], signing_key=SIGNING_KEY, customer_ids=lambda request: [customer]
    )


def test_track_without_an_order_is_a_display_for_its_mbox_with_params_and_profile() -> None:
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    events = Events(create_edge_app(engine))
    outcomes: list[str] = []
    with serve(events) as edge:
        client = EdgeNetworkClient("ds", ORG, edge_domain=edge.removeprefix("http://"), secure=False, timeout=30)
        app = track_app(client, outcomes, params={"plan": "pro", "trial": True}, profile={"tier": "gold"})
        with serve(app) as url:
            cookie = {IDENTITY: "12345678901234567890", amcv_cookie_name(ORG): f"MCMID%7C{ECID}"}
            assert httpx.post(url + "/signup", cookies=cookie, timeout=60).status_code == 200
    assert outcomes == ["sent"]
    (sent,) = events.bodies
    xdm = sent["event"]["xdm"]
    assert xdm["eventType"] == "decisioning.propositionDisplay"
    assert xdm["_experience"] == {"decisioning": {"propositionEventType": {"display": 1}}}
    assert "commerce" not in xdm
    assert sent["event"]["data"] == {"__adobe": {"target": {"plan": "pro", "trial": "true", "profile.tier": "gold"}}}
    assert sent["query"]["personalization"]["decisionScopes"] == ["signup"]
    assert sent["meta"]["state"]["entries"] == [{"key": IDENTITY, "value": "12345678901234567890"}]
    assert xdm["web"]["webPageDetails"]["URL"] == url + "/signup"
    assert xdm["identityMap"] == {  # the AMCV cookie's ECID and the app's customer ids, as the Web SDK sends them
        "ECID": [{"id": ECID, "authenticatedState": "ambiguous", "primary": True}],
        "crm": [{"id": "user-7", "authenticatedState": "authenticated"}],
    }


def test_track_through_an_edge_that_is_down_fails_and_never_raises() -> None:
    outcomes: list[str] = []
    client = EdgeNetworkClient("ds", ORG, edge_domain=f"127.0.0.1:{refused_port()}", secure=False, timeout=5)
    with serve(track_app(client, outcomes, order={"orderId": "o-1", "orderTotal": 9.5})) as url:
        assert httpx.post(url + "/signup", timeout=60).status_code == 200
    assert outcomes == ["failed"]
    assert client.notifications.counts["failed"] == 1


def test_the_queue_is_bounded_and_the_newest_is_dropped() -> None:
    client = EdgeNetworkClient("ds", ORG, max_pending_notifications=1)
    page = PageContext.from_headers("https://shop.example/", {})
    entry = Pending(Visitor.new(), page, (event_notification("signup"),))
    assert client.notifications.put(entry)  # no event loop here: it waits, nothing is sent
    assert not client.notifications.put(entry)
    assert client.notifications.counts == {"queued": 1, "dropped": 1}


def test_a_click_that_names_no_proposition_has_no_edge_event() -> None:
    page = PageContext.from_headers("https://shop.example/", {})
    note = {"type": "click", "mbox": {"name": "hero"}, "tokens": ["t"]}  # a Delivery API page's click
    assert experience_event(note, visitor=Visitor.new(), page=page, global_mbox="target-global-mbox") is None
    bad = {**note, "propositions": [{"id": "p"}, "x"]}  # nothing with an id, a scope and scopeDetails
    assert experience_event(bad, visitor=Visitor.new(), page=page, global_mbox="target-global-mbox") is None


def test_customer_ids_go_in_the_identity_map_under_their_integration_code() -> None:
    customers = [
        CustomerId("a", "crm", "logged_out"),
        CustomerId("b", "crm"),
        CustomerId("c", "loyalty", "authenticated"),
    ]
    assert identity_map(None, customers) == {
        "crm": [{"id": "a", "authenticatedState": "loggedOut"}, {"id": "b", "authenticatedState": "ambiguous"}],
        "loyalty": [{"id": "c", "authenticatedState": "authenticated"}],
    }
    assert identity_map(None) == {}


def test_the_page_s_fetch_and_display_carry_the_customer_ids_and_the_third_party_id_too() -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse("<!DOCTYPE html><html><head></head><body><h1 class='hero-title'>Hi</h1></body></html>")

    customer = {"id": "user-7", "integrationCode": "crm", "authenticatedState": "authenticated"}
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    events = Events(create_edge_app(engine))
    with serve(events) as edge:
        domain = edge.removeprefix("http://")
        client = EdgeNetworkClient(
            "ds", ORG, edge_domain=domain, secure=False, timeout=30, third_party_id_namespace="CRMID"
        )
        app = TargetMiddleware(
            Starlette(routes=[Route("/", page)]),
            client=client,
            rules=[MboxRule("/", mboxes=["target-global-mbox"])],
            timeout=30,
            signing_key=SIGNING_KEY,
            customer_ids=lambda request: [customer],
            third_party_id=lambda request: "crm-42",
        )
        with serve(app) as url:
            assert httpx.get(url + "/", timeout=60).status_code == 200
            deadline = time.monotonic() + 60
            while not events.of_type("decisioning.propositionDisplay") and time.monotonic() < deadline:
                time.sleep(0.05)
    fetch, display = events.of_type("decisioning.propositionFetch"), events.of_type("decisioning.propositionDisplay")
    assert len(fetch) == len(display) == 1
    expected = [{"id": "user-7", "authenticatedState": "authenticated"}]
    third_party = [{"id": "crm-42", "authenticatedState": "authenticated"}]
    assert fetch[0]["event"]["xdm"]["identityMap"] == {"crm": expected, "CRMID": third_party}
    identities = display[0]["event"]["xdm"]["identityMap"]
    assert (identities["crm"], identities["CRMID"]) == (expected, third_party)  # beside the first visit's new ECID
    assert identities["ECID"][0]["primary"] is True


def test_the_mbox3rdpartyid_goes_under_the_datastream_s_namespace_when_one_is_given() -> None:
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    events = Events(create_edge_app(engine))
    with serve(events) as edge:
        for namespace in ("CRMID", None):
            client = EdgeNetworkClient(
                "ds", ORG, edge_domain=edge.removeprefix("http://"), secure=False, third_party_id_namespace=namespace
            )
            outcomes: list[str] = []
            with serve(track_app(client, outcomes, params={"mbox3rdPartyId": "crm-42"})) as url:
                assert httpx.post(url + "/signup", timeout=60).status_code == 200
            assert outcomes == ["sent"]
    with_namespace, without = (body["event"]["xdm"]["identityMap"] for body in events.bodies)
    assert with_namespace == {
        "crm": [{"id": "user-7", "authenticatedState": "authenticated"}],
        "CRMID": [{"id": "crm-42", "authenticatedState": "authenticated"}],
    }
    assert without == {"crm": [{"id": "user-7", "authenticatedState": "authenticated"}]}
    with pytest.raises(ValueError, match="third_party_id_namespace"):
        EdgeNetworkClient("ds", ORG, third_party_id_namespace="not a namespace")
