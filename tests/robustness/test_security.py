"""Security checks: what reaches the edge, where the geo IP comes from, QA switches, cache headers, logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from target_middleware import MboxRule, TargetClient, TargetStats
from target_middleware.testing import actions_option, static_client
from tests.servers import serve

from .faultedge import FaultEdge, fault_edge
from .harness import call, our_records, page_app

SECRET = "s3cr3tVALUE"
SESSION = "visitorSession42"  # the mbox cookie's session id: Target's own, it goes to Target as sessionId


def private() -> dict[str, str]:
    """A request's private headers, its mbox cookie's session alive from now (made at the call: a constant made at
    import would expire on a machine slow enough to reach the test 15 minutes later, and the session id with it)."""
    return {
        "cookie": f"sid={SECRET}; mbox=session%23{SESSION}%23{int(time.time()) + 1800}",
        "authorization": f"Bearer {SECRET}",
        "proxy-authorization": f"Basic {SECRET}",
        "x-forwarded-for": "198.51.100.9",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
        "x-real-ip": "198.51.100.10",
        "x-api-key": SECRET,
    }


@pytest.fixture(scope="module")
def edge() -> Iterator[FaultEdge]:
    with fault_edge() as edge:
        yield edge


def remote(edge: FaultEdge, **kwargs: Any) -> TargetClient:
    return TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0, **kwargs)


async def test_private_inbound_headers_never_reach_the_edge(edge: FaultEdge) -> None:
    edge.scenario, edge.requests[:] = "good", []
    app = page_app(remote(edge), timeout=30.0)
    answer = await call(app, headers=private())
    assert b"Edge offer for" in answer.body
    [captured] = edge.requests
    assert set(captured.headers) <= {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "user-agent",
        "content-type",
        "content-length",
    }
    assert captured.headers["host"] == edge.domain
    assert captured.request_line.endswith(f"sessionId={SESSION} HTTP/1.1")
    everything = captured.request_line + json.dumps(captured.headers) + json.dumps(captured.body)
    for leaked in (SECRET, "198.51.100", "evil.example"):
        assert leaked not in everything


@pytest.mark.parametrize(("trusted", "geo"), [("", "127.0.0.1"), ("127.0.0.1", "198.51.100.9")])
async def test_the_geo_ip_comes_from_the_peer_unless_the_proxy_is_trusted(
    edge: FaultEdge, trusted: str, geo: str
) -> None:
    edge.scenario, edge.requests[:] = "good", []
    app = page_app(remote(edge, send_ip_address=True), timeout=30.0)
    with serve(app, proxy_headers=True, forwarded_allow_ips=trusted) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            await http.get(url + "/", headers={"x-forwarded-for": "198.51.100.9"})
    [captured] = edge.requests
    assert captured.body["context"]["geo"] == {"ipAddress": geo}


async def test_no_geo_ip_at_all_unless_asked_for(edge: FaultEdge) -> None:
    edge.scenario, edge.requests[:] = "good", []
    await call(page_app(remote(edge), timeout=30.0), headers={"x-forwarded-for": "198.51.100.9"})
    assert "geo" not in edge.requests[0].body["context"]


QA_QUERY = "at_preview_token=tok&at_preview_index=1_1&mboxTrace=window&authorization=auth"


@pytest.mark.parametrize("enabled", [False, True])
async def test_qa_preview_and_trace_are_ignored_unless_enabled(edge: FaultEdge, enabled: bool) -> None:
    edge.scenario, edge.requests[:] = "good", []
    await call(page_app(remote(edge), timeout=30.0, qa_mode=enabled, trace=enabled), query=QA_QUERY)
    body = edge.requests[0].body
    assert ("qaMode" in body, "trace" in body) == (enabled, enabled)


@pytest.mark.parametrize(
    ("app_headers", "cache_control", "vary"),
    [
        ({}, "private", "Cookie"),
        ({"cache-control": "public, s-maxage=600, max-age=60"}, "private, max-age=60", "Cookie"),
        ({"cache-control": "no-store", "vary": "Accept-Encoding"}, "no-store", "Accept-Encoding, Cookie"),
        ({"cache-control": "no-cache", "vary": "cookie"}, "private, no-cache", "cookie"),
        ({"vary": "*"}, "private", "*"),
    ],
)
@pytest.mark.parametrize("offers", ["applied", "unchanged"])
async def test_personalized_responses_are_private_and_vary_on_cookie(
    app_headers: dict[str, str], cache_control: str, vary: str, offers: str
) -> None:
    content = [
        actions_option({"type": "setText", "selector": "#hero" if offers == "applied" else "#no", "content": "x"})
    ]
    stats = TargetStats()
    answer = await call(page_app(static_client({"hero": content}), headers=app_headers, stats=stats))
    assert stats[offers] == 1
    assert answer.header("cache-control") == cache_control
    assert answer.header("vary") == vary


FAILING_SCENARIOS = ["good", "500", "truncated-json", "reset-mid-body", "malformed-actions"]


@pytest.mark.parametrize("scenario", FAILING_SCENARIOS)
async def test_no_cookie_or_profile_value_in_any_log_record(
    edge: FaultEdge, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    edge.scenario, edge.requests[:] = scenario, []
    rules = [
        MboxRule(
            "/{p:path}",
            mboxes=["hero"],
            params={"email": SECRET},
            profile_params=lambda request: {"loyalty": request.cookies.get("sid", "")},
        )
    ]
    app = page_app(remote(edge), timeout=30.0, rules=rules, debug_header=True, breaker_failures=1)
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):  # the second meets an open breaker after a failure
            await call(app, headers=private())
    assert edge.requests[0].body["execute"]["mboxes"][0]["profileParameters"] == {"loyalty": SECRET}
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        assert SECRET not in text, (record.name, text)
        # httpx's own INFO line carries the request URL, and with it the session id (README: Reliability)
        if not record.name.startswith("httpx"):
            assert SESSION not in text, (record.name, text)
    if scenario != "good":  # once per failure: the breaker spares the second request a failing edge
        assert len(our_records(caplog)) == (2 if scenario == "malformed-actions" else 1)


async def test_bypass_and_authoring_parameters_never_ask_target(edge: FaultEdge) -> None:
    edge.scenario, edge.requests[:] = "good", []
    app = page_app(remote(edge), timeout=30.0)
    for query in ("mboxDisable=1", "adobe_authoring_enabled=true", "mboxEdit=1"):
        await call(app, query=query)
    assert not edge.requests
