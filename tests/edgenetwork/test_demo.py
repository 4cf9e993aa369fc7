"""The demo on the Edge Network transport: the shop against the local edge's interact endpoint over real HTTP."""

from __future__ import annotations

import httpx

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
