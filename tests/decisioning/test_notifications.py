from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from target_middleware.decisioning import OnDeviceDecision
from target_middleware.decisioning.notifications import NotificationQueue


def _decision(token: str, telemetry: bool = False) -> OnDeviceDecision:
    note = {"id": token, "type": "display", "timestamp": 1, "mbox": {"name": "m"}, "tokens": [token]}
    entries = ({"requestId": token, "features": {"decisioningMethod": "on-device"}},) if telemetry else ()
    return OnDeviceDecision({}, (note,), (), (), entries)


def _request(visitor: str) -> dict[str, Any]:
    return {"id": {"tntId": visitor}, "context": {"channel": "web"}}


async def test_batches_per_visitor() -> None:
    sent: list[dict[str, Any]] = []
    queue = NotificationQueue(sent.append)
    queue.put(_request("a"), _decision("t1"))
    queue.put(_request("b"), _decision("t2", telemetry=True))
    queue.put(_request("a"), _decision("t3"))
    queue.put(_request("a"), OnDeviceDecision({}, (), ()))  # owes nothing
    assert len(queue) == 3
    await queue.flush()
    assert len(queue) == 0
    by_visitor = {batch["id"]["tntId"]: batch for batch in sent}
    assert [n["tokens"] for n in by_visitor["a"]["notifications"]] == [["t1"], ["t3"]]
    assert "telemetry" not in by_visitor["a"]
    assert by_visitor["b"]["telemetry"]["entries"][0]["requestId"] == "t2"


async def test_background_sending_and_flush_on_close() -> None:
    sent: list[dict[str, Any]] = []

    async def send(body: dict[str, Any]) -> None:
        sent.append(body)

    async with NotificationQueue(send, interval=0.01) as queue:
        queue.put(_request("a"), _decision("t1"))
        for _ in range(100):
            if sent:
                break
            await asyncio.sleep(0.01)
        assert len(sent) == 1
        queue.interval = 60
        await asyncio.sleep(0.02)
        queue.put(_request("b"), _decision("t2"))
    assert len(sent) == 2


async def test_a_failing_send_is_counted_and_the_others_go(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[str] = []

    def send(body: dict[str, Any]) -> None:
        if body["id"]["tntId"] == "bad":
            raise ConnectionError("boom")
        sent.append(body["id"]["tntId"])

    queue = NotificationQueue(send)
    queue.put(_request("bad"), _decision("t1"))
    queue.put(_request("good"), _decision("t2"))
    with caplog.at_level(logging.WARNING):
        await queue.flush()
    assert sent == ["good"]
    assert queue.failed == 1
    assert "ConnectionError" in caplog.text
    assert "bad" not in caplog.text  # no visitor ids in logs


async def test_bounded_queue_drops_the_oldest() -> None:
    sent: list[dict[str, Any]] = []
    queue = NotificationQueue(sent.append, max_pending=2)
    for token in ("t1", "t2", "t3"):
        queue.put(_request(token), _decision(token))
    assert queue.dropped == 1
    await queue.flush()
    assert sorted(b["id"]["tntId"] for b in sent) == ["t2", "t3"]
