"""TargetClient against a real scripted edge on 127.0.0.1: each scenario maps to the right status, in time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from target_middleware.delivery import (
    DeliveryTimeout,
    ErrorStatus,
    Mbox,
    MboxRejected,
    OffersRequest,
    OptionType,
    PageContext,
    ResponseParseError,
    TargetClient,
    UpstreamConnectError,
    UpstreamStatusError,
)
from target_middleware.visitor import Visitor

from .edge import ScriptedEdge, refused_port

# Outcomes must not depend on the machine's speed: an error or parse error gets a deadline no loaded machine
# exhausts, and a timeout comes from an edge that never answers, whose page must not wait for it. The deadline is
# checked against the edge's hang (forever), not against a wall-clock margin.
SLOW = 30.0  # seconds: what a check that the call did not hang allows


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def success(self, actions: Any) -> None:
        self.calls.append(("success", (actions,)))

    async def error(self, status: str, error: Exception) -> None:  # a coroutine function works too
        self.calls.append(("error", (status, error)))


async def _get_offer(client: TargetClient, mbox: str = "hero", timeout_ms: int = 30_000) -> Recorder:
    rec = Recorder()
    await client.get_offer(
        {
            "mbox": mbox,
            "params": {"a": "1"},
            "success": rec.success,
            "error": rec.error,
            "timeout": timeout_ms,
        }
    )
    assert len(rec.calls) == 1
    return rec


@pytest.mark.parametrize("kind", ["html", "json", "redirect", "dynamic", "actions"])
async def test_each_option_type_parses(client: TargetClient, edge: ScriptedEdge, kind: str) -> None:
    edge.scenario = kind
    result = await client.get_offers(["hero", "footer"])
    assert [m.name for m in result.mboxes] == ["hero", "footer"]
    assert [m.index for m in result.mboxes] == [0, 1]
    option = result.mboxes[0].options[0]
    assert option.type is OptionType(kind)
    if kind == "actions":
        assert [a.type for a in option.content] == ["setHtml", "setStyle", "setAttribute"]
        assert result.response_tokens[0]["activity.id"] == "123"
    assert len(edge.requests) == 1  # one request for any number of mboxes


async def test_get_offer_success_gets_atjs_actions(client: TargetClient, edge: ScriptedEdge) -> None:
    edge.scenario = "actions"
    rec = await _get_offer(client)
    kind, (actions,) = rec.calls[0]
    assert kind == "success"
    assert actions[0] == {
        "action": "setContent",
        "selector": "HTML > BODY > H1:eq(0)",
        "cssSelector": "h1",
        "content": "Hi",
    }
    assert actions[1]["action"] == "setStyle"
    assert actions[1]["style"]["color"] == "red"
    assert actions[2] == {
        "action": "setAttribute",
        "selector": "#cta",
        "cssSelector": None,
        "attribute": "href",
        "value": "/sale",
    }
    assert actions[-1] == {"action": "trackClick", "selector": "#cta", "clickTrackId": "click-token"}
    assert edge.requests[0].body["execute"]["mboxes"] == [{"index": 0, "name": "hero", "parameters": {"a": "1"}}]


async def test_get_offer_global_mbox_goes_to_page_load(client: TargetClient, edge: ScriptedEdge) -> None:
    rec = await _get_offer(client, mbox="target-global-mbox")
    assert rec.calls[0][0] == "success"
    body = edge.requests[0].body
    assert body["execute"] == {"pageLoad": {"parameters": {"a": "1"}}}


@pytest.mark.parametrize(
    ("scenario", "status", "error_type"),
    [
        ("500", ErrorStatus.ERROR, UpstreamStatusError),
        ("400", ErrorStatus.ERROR, UpstreamStatusError),
        ("error-body-200", ErrorStatus.ERROR, UpstreamStatusError),
        ("html-page", ErrorStatus.PARSEERROR, ResponseParseError),
        ("truncated", ErrorStatus.PARSEERROR, ResponseParseError),
        ("bad-schema", ErrorStatus.PARSEERROR, ResponseParseError),
        ("drop-mbox", ErrorStatus.ERROR, MboxRejected),
        ("no-answer", ErrorStatus.TIMEOUT, DeliveryTimeout),
        ("endless", ErrorStatus.TIMEOUT, DeliveryTimeout),
    ],
)
async def test_failures_map_to_atjs_statuses(
    client: TargetClient, edge: ScriptedEdge, scenario: str, status: ErrorStatus, error_type: type[Exception]
) -> None:
    edge.scenario = scenario
    started = time.monotonic()
    rec = await _get_offer(client, timeout_ms=300 if status is ErrorStatus.TIMEOUT else 30_000)
    elapsed = time.monotonic() - started
    kind, (got_status, error) = rec.calls[0]
    assert (kind, got_status) == ("error", status.value)
    assert isinstance(error, error_type)
    assert elapsed < SLOW  # the edge of the timeout cases never answers: the deadline ended the call


async def test_400_keeps_the_error_body_message(client: TargetClient, edge: ScriptedEdge) -> None:
    edge.scenario = "400"
    with pytest.raises(UpstreamStatusError) as info:
        await client.get_offers(["hero"])
    assert info.value.status_code == 400
    assert info.value.upstream_message == "Invalid token"
    assert info.value.status is ErrorStatus.ERROR


async def test_total_deadline_holds_against_a_trickling_body(client: TargetClient, edge: ScriptedEdge) -> None:
    # each chunk arrives well within httpx's per-read timeout; only a total deadline stops this
    edge.scenario = "endless"
    started = time.monotonic()
    with pytest.raises(DeliveryTimeout):
        await client.get_offers(["hero"], timeout=0.4)
    assert time.monotonic() - started < SLOW  # the body never ends: the deadline ended the call
    assert len(edge.requests) == 1  # no retry inside the deadline


async def test_connection_refused_is_error_not_raise() -> None:
    port = refused_port()
    async with TargetClient("acme", "ABC@AdobeOrg", server_domain=f"127.0.0.1:{port}", secure=False) as client:
        rec = await _get_offer(client)
        assert rec.calls[0][1][0] == "error"
        assert isinstance(rec.calls[0][1][1], UpstreamConnectError)
        with pytest.raises(UpstreamConnectError):
            await client.get_offers(["hero"])


async def test_request_context_and_no_inbound_secrets(client: TargetClient, edge: ScriptedEdge) -> None:
    inbound = {
        "cookie": "session=secret",
        "authorization": "Bearer secret",
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-host": "evil.example",
        "user-agent": "Mozilla/5.0 Test",
        "referer": "https://ref.example/",
        "sec-ch-ua-mobile": "?0",
        "sec-ch-ua-platform": '"Linux"',
    }
    page = PageContext.from_headers("https://shop.example/p?x=1", inbound, client_ip="203.0.113.9")
    visitor = Visitor.from_cookies({"mbox": "session%23s1%239999999999%7CPC%23t1.35_0%239999999999"})
    request = OffersRequest(mboxes=[Mbox("hero", {"profile.age": 30, "mbox3rdPartyId": "cust-1"})], page=page)
    result = await client.get_offers(request, visitor=visitor)
    sent = edge.requests[0]
    assert "sessionId=s1" in sent.url
    assert "imsOrgId=ABC123%40AdobeOrg" in sent.url
    for header in ("cookie", "authorization", "x-forwarded-for", "x-forwarded-host", "referer"):
        assert header not in sent.headers
    assert "secret" not in repr(sent.headers)
    assert "secret" not in repr(sent.body)
    context = sent.body["context"]
    assert context["channel"] == "web"
    assert context["address"] == {"url": "https://shop.example/p?x=1", "referringUrl": "https://ref.example/"}
    assert context["userAgent"] == "Mozilla/5.0 Test"
    assert context["clientHints"] == {"mobile": False, "platform": "Linux"}
    assert "geo" not in context  # IP only when enabled
    assert isinstance(context["timeOffsetInMinutes"], float)
    assert sent.body["id"] == {"tntId": "t1.35_0", "thirdPartyId": "cust-1"}
    assert sent.body["execute"]["mboxes"][0]["profileParameters"] == {"age": "30"}
    assert result.visitor.tnt_id == "t1.35_0"
    assert result.mbox_cookie.name == "mbox"
    assert result.edge_cluster_cookie is not None
    assert result.edge_cluster_cookie.value == "35"


async def test_geo_ip_only_when_enabled(edge: ScriptedEdge) -> None:
    page = PageContext(url="https://shop.example/", ip_address="203.0.113.9")
    async with TargetClient(
        "acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, send_ip_address=True
    ) as client:
        await client.get_offers(["hero"], page=page)
    assert edge.requests[0].body["context"]["geo"] == {"ipAddress": "203.0.113.9"}


async def test_new_visitor_gets_cookies_from_the_answer(client: TargetClient, edge: ScriptedEdge) -> None:
    result = await client.get_offers(["hero"])
    assert "id" not in edge.requests[0].body
    assert result.visitor.tnt_id == "a1b2c3d4e5.35_0"
    assert result.mbox_cookie.max_age == 63_244_800
    again = Visitor.from_cookies({c.name: c.value for c in result.cookies})
    assert again.tnt_id == "a1b2c3d4e5.35_0"
    assert again.session_id == result.visitor.session_id


async def test_send_notifications(client: TargetClient, edge: ScriptedEdge) -> None:
    notes = [
        {
            "id": "n1",
            "type": "display",
            "timestamp": 1552561951770,
            "tokens": ["tok"],
            "mbox": {"name": "hero"},
        }
    ]
    acknowledged = await client.send_notifications(notes, visitor=Visitor(session_id="s1", tnt_id="t.1_0"))
    assert acknowledged == ("n1",)
    assert edge.requests[0].body["notifications"] == notes
    assert edge.requests[0].body["context"]["channel"] == "web"
