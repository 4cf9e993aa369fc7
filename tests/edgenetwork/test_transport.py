"""The Edge Network transport end to end: the middleware, an EdgeNetworkClient and the local edge's interact
endpoint over real HTTP (uvicorn on 127.0.0.1), then every fault the Delivery path survives."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from target_middleware import MboxRule, TargetStats
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from target_middleware.edgenetwork import EdgeNetworkClient
from tests.datafiles import ARTIFACTS
from tests.robustness.faultedge import FaultEdge, fault_edge, refused_port
from tests.robustness.harness import PAGE as PLAIN_PAGE
from tests.robustness.harness import our_records
from tests.robustness.harness import page_app as plain_app
from tests.robustness.test_faults import FAULTS, assert_original, budget_for
from tests.servers import serve
from tests.test_handoff import HOST, PAGE, QUOTE, page_app

ORG = "ORG1@AdobeOrg"
IDENTITY = "kndctr_ORG1_AdobeOrg_identity"
CLUSTER = "kndctr_ORG1_AdobeOrg_cluster"


class Paths:
    """The local edge with every request path kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.seen = app, []  # type: ignore[var-annotated]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def local_edge() -> Iterator[tuple[str, Paths, list[dict[str, Any]]]]:
    engine = DecisioningEngine(load_artifact(ARTIFACTS / "TEST_ARTIFACT_PAGELOAD_VEC_AB.json"), client_code="t")
    received: list[dict[str, Any]] = []
    app = Paths(create_edge_app(engine, organization_id=ORG, on_notifications=received.append))
    with serve(app) as url:
        yield url.removeprefix("http://"), app, received


def edge_client(domain: str, timeout: float = 30) -> EdgeNetworkClient:
    return EdgeNetworkClient("ds-1234", ORG, edge_domain=domain, secure=False, timeout=timeout)


async def test_personalized_through_the_edge_network_with_state_region_and_display_events(
    local_edge: tuple[str, Paths, list[dict[str, Any]]],
) -> None:
    domain, paths, received = local_edge
    paths.seen.clear()
    received.clear()
    stats = TargetStats()
    with serve(page_app(edge_client(domain), stats=stats)) as url:
        async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
            first = await http.get(url + "/")
            cookies = {
                c.split("=", 1)[0]: c.split(";")[0].split("=", 1)[1] for c in first.headers.get_list("set-cookie")
            }
            second = await http.get(url + "/", headers={"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
            deadline = time.monotonic() + 30
            while sum(len(r["notifications"]) for r in received) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
    assert stats["applied"] == 2, dict(stats)
    assert QUOTE.search(first.text)
    assert set(cookies) == {IDENTITY, CLUSTER}  # the edge's state, written back; no mbox cookie
    assert cookies[CLUSTER] == "local"
    assert "Max-Age=34128000" in next(c for c in first.headers.get_list("set-cookie") if c.startswith(IDENTITY))
    # The second page view: the state went up, the region hint routed the call, the experience is the same.
    interacts = [p for p in paths.seen if p.endswith("/v2/interact")]
    assert interacts[0] == "/ee/v2/interact"
    assert "/ee/local/v2/interact" in interacts[1:]
    experience = re.findall(r'<p id="action_insert_\d+"', first.text)
    assert re.findall(r'<p id="action_insert_\d+"', second.text) == experience
    assert "set-cookie" in second.headers
    displays = [n for r in received for n in r["notifications"] if n["type"] == "display"]
    assert len(displays) >= 2  # one display event per page view, for what was fetched
    assert all(n["tokens"] for n in displays)
    ecids = {r["id"].get("marketingCloudVisitorId") for r in received}
    assert ecids == {cookies[IDENTITY]}
    # The local edge's recorder counts the Edge Network's display events as it counts the Delivery API's.
    async with httpx.AsyncClient(timeout=60) as http:
        kept = (await http.get(f"http://{domain}/notifications")).json()
        report = (await http.get(f"http://{domain}/report?format=json")).json()
    recorded = [k["notification"] for k in kept if k["notification"]["type"] == "display"]
    assert {t for n in recorded for t in n["tokens"]} == {t for n in displays for t in n["tokens"]}
    counted = sum(e["impressions"] for a in report["activities"] for e in a["experiences"])
    assert counted >= len(displays)  # each display event's token attributed to its experience


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultEdge]:
    with fault_edge() as edge:
        yield edge


@pytest.mark.parametrize("scenario", list(FAULTS))
async def test_each_edge_fault_sends_the_original_page_logged_once_and_counted(
    faults: FaultEdge, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    faults.scenario = scenario
    faults.requests.clear()
    domain = f"127.0.0.1:{refused_port()}" if scenario == "refused" else faults.domain
    stats = TargetStats()
    rules = [MboxRule("/{p:path}", mboxes=["hero"])]
    budget = budget_for(scenario)  # as on the Delivery path: no outcome that depends on the machine's speed
    app = plain_app(edge_client(domain, timeout=budget), timeout=budget, stats=stats, rules=rules)
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            with caplog.at_level(logging.DEBUG, logger="target_middleware"):
                response = await http.get(url + "/")
    assert_original(response)
    assert response.content == PLAIN_PAGE
    assert stats[FAULTS[scenario]] == 1, dict(stats)
    warnings = our_records(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    if scenario != "refused":
        assert faults.requests[0].request_line.startswith("POST /ee/v2/interact?datastreamId=ds-1234")


async def test_a_delivery_answer_is_no_edge_network_answer(faults: FaultEdge) -> None:
    faults.scenario = "good"  # a Delivery API answer: no handle list
    stats = TargetStats()
    rules = [MboxRule("/{p:path}", mboxes=["hero"])]
    with serve(plain_app(edge_client(faults.domain), stats=stats, rules=rules, timeout=30)) as url:
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.get(url + "/")
    assert_original(response)
    assert stats["parseerror"] == 1


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="datastream_id"):
        EdgeNetworkClient("", ORG)
    with pytest.raises(ValueError, match="AdobeOrg"):
        EdgeNetworkClient("ds", "acme")
    with pytest.raises(ValueError, match="edge_domain"):
        EdgeNetworkClient("ds", ORG, edge_domain="https://edge.example/")
    with pytest.raises(ValueError, match="timeout"):
        EdgeNetworkClient("ds", ORG, timeout=0)


async def test_hostile_state_cookies_never_reach_the_edge(local_edge: tuple[str, Paths, list[dict[str, Any]]]) -> None:
    domain, _paths, _received = local_edge
    hostile = {
        IDENTITY: "1; injected=1",
        CLUSTER: "../../evil",
        "kndctr_ORG1_AdobeOrg_x": "a" * 5000,
    }
    stats = TargetStats()
    with serve(page_app(edge_client(domain), stats=stats)) as url:
        async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
            cookie = "; ".join(f"{k}={v}" for k, v in hostile.items())
            response = await http.get(url + "/", headers={"cookie": cookie})
    assert stats["applied"] == 1
    written = dict(c.split(";")[0].split("=", 1) for c in response.headers.get_list("set-cookie"))
    assert written[IDENTITY].isdigit()  # a fresh identity: the hostile one was dropped
    assert written[CLUSTER] == "local"
    assert PAGE  # the page under test is the hand-off page of tests/test_handoff.py
