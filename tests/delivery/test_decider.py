"""The local-decisioning seam: on-device and hybrid through a small fake decider (the engine comes later)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.delivery import (
    DecisioningMethod,
    LocalDecider,
    LocalDecisionError,
    OptionType,
    ResponseParseError,
    TargetClient,
)
from target_middleware.delivery.params import GLOBAL_MBOX
from target_middleware.visitor import Visitor
from tests.datafiles import ARTIFACTS

from .edge import ScriptedEdge


@dataclass(frozen=True)
class Decision:
    response: dict[str, Any]
    notifications: Sequence[Mapping[str, Any]]
    remote_mboxes: Sequence[str]


@dataclass
class FakeDecider:
    remote: tuple[str, ...] = ()
    fail: bool = False
    garbage: bool = False
    calls: list[tuple[Mapping[str, Any], str | None]] = field(default_factory=list)

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> Decision:
        self.calls.append((request, session_id))
        if self.fail:
            raise RuntimeError("artifact not loaded")
        if self.garbage:
            return Decision({"execute": {"mboxes": "nope"}}, [], [])
        mboxes = [
            {"index": m["index"], "name": m["name"]}
            if m["name"] in self.remote
            else {
                "index": m["index"],
                "name": m["name"],
                "options": [{"type": "json", "content": {"local": True}}],
            }
            for m in request.get("execute", {}).get("mboxes", [])
        ]
        notes = [
            {
                "id": f"n{m['index']}",
                "type": "display",
                "timestamp": 1,
                "tokens": ["t"],
                "mbox": {"name": m["name"]},
            }
            for m in mboxes
            if m["name"] not in self.remote
        ]
        response = {
            "status": 206 if self.remote else 200,
            "id": request.get("id", {}),
            "execute": {"mboxes": mboxes},
        }
        return Decision(response, notes, list(self.remote))


def _no_http() -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"on-device decisioning made an HTTP call to {request.url}")

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_fake_satisfies_the_protocol() -> None:
    assert isinstance(FakeDecider(), LocalDecider)


@pytest.mark.parametrize("is_async", [False, True])
async def test_on_device_is_a_plain_call_and_hands_notifications_over(is_async: bool) -> None:
    decider = FakeDecider()
    received: list[Sequence[Mapping[str, Any]]] = []

    def sync_sink(notes: Sequence[Mapping[str, Any]]) -> None:
        received.append(notes)

    async def async_sink(notes: Sequence[Mapping[str, Any]]) -> None:
        await asyncio.sleep(0)
        received.append(notes)

    async with _no_http() as http:
        client = TargetClient(
            "acme",
            "O@AdobeOrg",
            http_client=http,
            decisioning="on-device",
            decider=decider,
            on_notifications=async_sink if is_async else sync_sink,
        )
        result = await client.get_offers(["a", "b"], visitor=Visitor(session_id="sess-1"))
        await client.aclose()
    assert result.decisioning is DecisioningMethod.ON_DEVICE
    assert [m.options[0].content for m in result.mboxes] == [{"local": True}, {"local": True}]
    request, session_id = decider.calls[0]
    assert session_id == "sess-1"
    assert request is result.request
    assert [[n["id"] for n in batch] for batch in received] == [["n0", "n1"]]


async def test_on_device_notifications_go_to_the_edge_in_the_background(edge: ScriptedEdge) -> None:
    client = TargetClient(
        "acme",
        "O@AdobeOrg",
        server_domain=edge.domain,
        secure=False,
        decisioning="on-device",
        decider=FakeDecider(),
    )
    await client.get_offers(["a", "b"], visitor=Visitor(session_id="s", tnt_id="t.1_0"))
    await client.aclose()  # waits for what it owes
    assert len(edge.requests) == 1
    sent = edge.requests[0].body
    assert [n["id"] for n in sent["notifications"]] == ["n0", "n1"]
    assert sent["id"] == {"tntId": "t.1_0"}
    assert "execute" not in sent


async def test_hybrid_sends_only_remote_mboxes_and_merges(edge: ScriptedEdge) -> None:
    edge.scenario = "html"
    notes: list[Any] = []
    async with TargetClient(
        "acme",
        "O@AdobeOrg",
        server_domain=edge.domain,
        secure=False,
        decisioning="hybrid",
        decider=FakeDecider(remote=("remote-box",)),
        on_notifications=notes.append,
    ) as client:
        result = await client.get_offers(["local-box", "remote-box", "local-2"])
    assert len(edge.requests) == 1
    assert edge.requests[0].body["execute"] == {"mboxes": [{"index": 1, "name": "remote-box"}]}
    assert [(m.index, m.name) for m in result.mboxes] == [(0, "local-box"), (1, "remote-box"), (2, "local-2")]
    assert result.mboxes[0].options[0].type is OptionType.JSON
    assert result.mboxes[1].options[0].type is OptionType.HTML  # the edge's answer
    assert result.visitor.tnt_id == "a1b2c3d4e5.35_0"  # the edge minted the tntId
    assert [n["id"] for n in notes[0]] == ["n0", "n2"]


async def test_hybrid_without_remote_needs_no_edge() -> None:
    async with _no_http() as http:
        client = TargetClient(
            "acme",
            "O@AdobeOrg",
            http_client=http,
            decisioning="hybrid",
            decider=FakeDecider(),
            on_notifications=lambda notes: None,
        )
        result = await client.get_offers(["a"])
        await client.aclose()
    assert result.mboxes[0].options[0].content == {"local": True}


async def test_hybrid_falls_back_to_the_edge_when_the_decider_fails(edge: ScriptedEdge) -> None:
    async with TargetClient(
        "acme",
        "O@AdobeOrg",
        server_domain=edge.domain,
        secure=False,
        decisioning="hybrid",
        decider=FakeDecider(fail=True),
    ) as client:
        result = await client.get_offers(["a", "b"])
    assert [m.name for m in result.mboxes] == ["a", "b"]
    assert len(edge.requests[0].body["execute"]["mboxes"]) == 2


async def test_on_device_failures_use_the_error_tree() -> None:
    async with _no_http() as http:
        failing = TargetClient(
            "acme", "O@AdobeOrg", http_client=http, decisioning="on-device", decider=FakeDecider(fail=True)
        )
        with pytest.raises(LocalDecisionError):
            await failing.get_offers(["a"])
        garbage = TargetClient(
            "acme", "O@AdobeOrg", http_client=http, decisioning="on-device", decider=FakeDecider(garbage=True)
        )
        with pytest.raises(ResponseParseError):
            await garbage.get_offers(["a"])
        statuses: list[str] = []
        await failing.get_offer(
            {
                "mbox": "a",
                "success": lambda actions: None,
                "error": lambda status, error: statuses.append(status),
            }
        )
        assert statuses == ["error"]


async def test_hybrid_sends_the_pageload_to_the_edge_when_the_artifact_says_so(edge: ScriptedEdge) -> None:
    # TEST_ARTIFACT_GLOBAL_MBOX lists the global mbox in remoteMboxes: the edge decides the page load.
    edge.scenario = "html"
    engine = DecisioningEngine(load_artifact(ARTIFACTS / "TEST_ARTIFACT_GLOBAL_MBOX.json"), client_code="acme")
    async with TargetClient(
        "acme",
        "O@AdobeOrg",
        server_domain=edge.domain,
        secure=False,
        decisioning="hybrid",
        decider=engine,
        on_notifications=lambda notes: None,
    ) as client:
        await client.get_offers([GLOBAL_MBOX, "mbox-feature-flags"])
    (sent,) = edge.requests
    assert set(sent.body["execute"]) == {"pageLoad"}
