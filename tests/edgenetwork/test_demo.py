"""The demo on the Edge Network transport: the shop against the local edge's interact endpoint over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from demo_app.app import create_app
from demo_app.target import ARTIFACT, settings_from_env
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from tests.demo.test_shop import TITLES, hero_title
from tests.servers import serve


def test_the_shop_on_a_datastream_keeps_the_visitor_in_its_experience() -> None:
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    with serve(create_edge_app(engine)) as edge:
        env = {
            "TARGET_TRANSPORT": "edge-network",
            "TARGET_DATASTREAM_ID": "demo-datastream",
            "TARGET_EDGE_DOMAIN": edge.removeprefix("http://"),
            "TARGET_TIMEOUT": "30",
        }
        with serve(create_app(settings_from_env(env))) as shop, httpx.Client(base_url=shop, timeout=60) as http:
            first = http.get("/")
            title = hero_title(first.text)
            assert title in TITLES
            names = set(first.cookies.keys())
            assert "kndctr_DEMO0000000000000000000_AdobeOrg_identity" in names
            assert "mbox" not in names  # the Edge Network keeps its own state
            for _ in range(3):
                assert hero_title(http.get("/").text) == title  # the identity cookie went up: same experience
            assert http.get("/summer-sale").headers["location"] == "/deals?from=summer-sale"
            assert "Edge Network datastream demo-datastream" in http.get("/_target?path=/").text


SUMMER_SALE_TOKEN = "Jxi1A2PweDS5cSq7NdB/bE6QTGK2Ch18L3jxp6lunPs="  # the redirect offer's, in demo_app/rules.json


def displayed(received: list[dict[str, Any]]) -> list[str]:
    return [t for r in received for n in r["notifications"] if n["type"] == "display" for t in n["tokens"]]


def test_the_shop_hands_alloy_the_page_with_websdk() -> None:
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    received: list[dict[str, Any]] = []
    with serve(create_edge_app(engine, on_notifications=received.append)) as edge:
        env = {
            "TARGET_TRANSPORT": "edge-network",
            "TARGET_DATASTREAM_ID": "demo-datastream",
            "TARGET_EDGE_DOMAIN": edge.removeprefix("http://"),
            "TARGET_TIMEOUT": "30",
            "TARGET_HANDOFF": "websdk",
            "TARGET_ALLOY_URL": "/static/alloy.js",
        }
        with serve(create_app(settings_from_env(env))) as shop, httpx.Client(base_url=shop, timeout=60) as http:
            page = http.get("/").text
            # A redirect leaves alloy nothing: the server's deferred display event counts it.
            assert http.get("/summer-sale").headers["location"] == "/deals?from=summer-sale"
            deadline = time.monotonic() + 30
            while SUMMER_SALE_TOKEN not in displayed(received) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert displayed(received).count(SUMMER_SALE_TOKEN) == 1
    assert hero_title(page) in TITLES
    # The hand-off first, then the page's own base code and configure (for the datastream), then alloy.js.
    handoff = page.index('f("applyResponse",o)')
    configure = page.index('alloy("configure", {')
    assert '"datastreamId": "demo-datastream"' in page
    assert handoff < configure < page.index('<script src="/static/alloy.js" async')
    assert '"edgeDomain": "127.0.0.1"' in page  # alloy takes a host name only, no port
    assert 'viewName: "home"' in page


def test_websdk_needs_the_edge_network_transport() -> None:
    with pytest.raises(ValueError, match="TARGET_TRANSPORT=edge-network"):
        settings_from_env({"TARGET_HANDOFF": "websdk"})
