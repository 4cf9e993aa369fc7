"""The client's one notification queue: bounded, batched per visitor, in the background, flushed on aclose."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import random
import threading
from typing import Any

import pytest

from target_middleware.delivery import PageContext, TargetClient
from target_middleware.delivery.notifications import (
    MAX_BATCH,
    NotificationOutcome,
    NotificationQueue,
    Pending,
    batches,
    event_notification,
)
from target_middleware.identity import CustomerId, visitor_ids
from target_middleware.visitor import Visitor

from .edge import ScriptedEdge
from .test_openapi import _validator


def note(token: str) -> dict[str, Any]:
    return {"id": token, "type": "display", "timestamp": 1, "mbox": {"name": "m"}, "tokens": [token]}


def pending(visitor: str, *tokens: str, done: concurrent.futures.Future[NotificationOutcome] | None = None) -> Pending:
    return Pending(
        Visitor(session_id=f"s-{visitor}", tnt_id=visitor), PageContext(), tuple(map(note, tokens)), done=done
    )


def test_batches_merge_per_visitor_and_cut_at_fifty() -> None:
    entries = [pending("a", "t1"), pending("b", "t2"), pending("a", "t3")]
    entries += [pending("c", *(f"c{i}" for i in range(30))), pending("c", *(f"d{i}" for i in range(30)))]
    grouped = batches(entries)
    tokens = [[n["id"] for e in batch for n in e.notifications] for batch in grouped]
    assert tokens[0] == ["t1", "t3"]
    assert tokens[1] == ["t2"]
    assert [len(t) for t in tokens[2:]] == [30, 30]  # 60 for one visitor: two requests
    assert all(sum(len(e.notifications) for e in batch) <= MAX_BATCH for batch in grouped)


def _json_batches(entries: list[Pending]) -> list[list[Pending]]:
    """The batches as they were grouped before the tuple key: by the JSON of the ids and experienceCloud."""
    grouped: dict[tuple[Any, ...], list[list[Pending]]] = {}
    for entry in entries:
        ids = json.dumps([visitor_ids(entry.visitor), entry.experience_cloud], sort_keys=True, default=str)
        runs = grouped.setdefault((entry.visitor.session_id, entry.visitor.edge_cluster, ids), [[]])
        if runs[-1] and sum(len(e.notifications) for e in runs[-1]) + len(entry.notifications) > MAX_BATCH:
            runs.append([])
        runs[-1].append(entry)
    return [batch for runs in grouped.values() for batch in runs]


def test_batches_group_as_the_json_of_ids_and_experience_cloud_did() -> None:
    rng = random.Random(5)
    for _ in range(300):
        entries = []
        for _ in range(rng.randint(1, 40)):
            mcid = rng.choice([None, "08743421337245362392147962341223"])
            visitor = Visitor(
                session_id=rng.choice(["s1", "s2"]),
                tnt_id=rng.choice([None, "a.35_0", "b"]),
                edge_cluster=rng.choice([None, "35"]),
                third_party_id=rng.choice([None, "crm-1"]),
                marketing_cloud_visitor_id=mcid,
                customer_ids=rng.choice([(), (CustomerId("c1", "crm"),), (CustomerId("c2", "crm"),)]),
            )
            cloud = rng.choice([None, {}, {"analytics": {"supplementalDataId": rng.choice("xy")}}])
            notes = tuple(note(f"t{i}") for i in range(rng.choice([1, 2, 30])))
            entries.append(Pending(visitor, PageContext(), notes, experience_cloud=cloud))
        assert [[id(e) for e in b] for b in batches(entries)] == [[id(e) for e in b] for b in _json_batches(entries)]


async def test_the_queue_is_bounded_counts_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    sent: list[list[Pending]] = []

    async def send(batch: list[Pending]) -> None:
        await release.wait()
        sent.append(batch)

    queue = NotificationQueue(send, max_pending=3, interval=60)
    futures = [concurrent.futures.Future[NotificationOutcome]() for _ in range(5)]
    with caplog.at_level(logging.WARNING):
        accepted = [queue.put(pending(str(i), f"t{i}", done=f)) for i, f in enumerate(futures)]
    assert accepted == [True, True, True, False, False]  # the newest are refused, never blocking the caller
    assert [f.result() for f in futures[3:]] == [NotificationOutcome.DROPPED, NotificationOutcome.DROPPED]
    assert queue.counts["dropped"] == 2
    assert len(queue) == 3
    assert len([r for r in caplog.records if "queue full" in r.getMessage()]) == 1
    release.set()
    await queue.aclose()  # sends what is pending
    assert [await asyncio.wrap_future(f) for f in futures[:3]] == [NotificationOutcome.SENT] * 3
    assert sorted(e.visitor.tnt_id for batch in sent for e in batch) == ["0", "1", "2"]
    assert queue.counts["sent"] == 3


async def test_a_flush_sends_at_most_eight_batches_at_once_in_order() -> None:
    started: list[str] = []
    running, most = 0, 0
    release = asyncio.Event()

    async def send(batch: list[Pending]) -> None:
        nonlocal running, most
        started.append(batch[0].visitor.session_id)
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    queue = NotificationQueue(send, interval=60)
    for i in range(20):
        queue.put(pending(f"v{i:02d}", f"t{i}"))
    flush = asyncio.ensure_future(queue.flush())
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(started) == 8  # eight under way, the rest waiting
    release.set()
    await flush
    assert most == 8
    assert started == [f"s-v{i:02d}" for i in range(20)]  # each visitor's batch once, in the queue's order
    assert queue.counts["sent"] == 20


async def test_it_sends_in_the_background_and_reports_failures() -> None:
    sent: list[str] = []

    async def send(batch: list[Pending]) -> None:
        if batch[0].visitor.tnt_id == "bad":
            raise ConnectionError("boom")
        sent.extend(n["id"] for e in batch for n in e.notifications)

    queue = NotificationQueue(send, interval=0.01)
    good, bad = concurrent.futures.Future[NotificationOutcome](), concurrent.futures.Future[NotificationOutcome]()
    queue.put(pending("good", "t1", done=good))
    queue.put(pending("bad", "t2", done=bad))
    assert await asyncio.wait_for(asyncio.wrap_future(good), 10) is NotificationOutcome.SENT  # no flush asked for
    assert await asyncio.wait_for(asyncio.wrap_future(bad), 10) is NotificationOutcome.FAILED
    assert sent == ["t1"]
    assert queue.counts["failed"] == 1
    await queue.aclose()


async def _until(sent: list[str], count: int) -> None:
    for _ in range(1000):
        if len(sent) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(sent)} of {count} sent")


async def test_every_put_is_sent_in_the_background_however_it_falls() -> None:
    """A burst (one wake), puts while the task gathers (already on their way: no second wake), a put after a send
    (the task waiting again), and one after aclose (a new task): each sent once, without a flush asked for."""
    sent: list[str] = []

    async def send(batch: list[Pending]) -> None:
        sent.extend(n["id"] for e in batch for n in e.notifications)

    queue = NotificationQueue(send, interval=0.05)
    for i in range(5):
        queue.put(pending(f"a{i}", f"a{i}"))
    await asyncio.sleep(0)  # the task wakes and gathers
    for i in range(5):
        queue.put(pending(f"b{i}", f"b{i}"))
    await _until(sent, 10)
    queue.put(pending("c", "c"))
    await _until(sent, 11)
    await queue.aclose()
    queue.put(pending("d", "d"))
    await _until(sent, 12)
    await queue.aclose()
    assert sorted(sent) == sorted([*(f"a{i}" for i in range(5)), *(f"b{i}" for i in range(5)), "c", "d"])
    assert queue.counts["sent"] == 12


async def test_puts_from_other_threads_are_sent_on_the_queue_s_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def send(batch: list[Pending]) -> None:
        loops.append(asyncio.get_running_loop())

    queue = NotificationQueue(send, interval=0.01)
    queue.bind(asyncio.get_running_loop())
    done = concurrent.futures.Future[NotificationOutcome]()
    threads = [
        threading.Thread(target=queue.put, args=(pending(str(i), "t", done=done if i == 0 else None),))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert await asyncio.wait_for(asyncio.wrap_future(done), 10) is NotificationOutcome.SENT
    await queue.aclose()
    assert queue.counts["sent"] == 4
    assert set(loops) == {asyncio.get_running_loop()}


def test_event_notifications_map_params_the_at_js_way() -> None:
    built = event_notification(
        "orderConfirm",
        params={"productId": "tent-2p", "color": "green"},
        profile={"tier": 3},
        order={"id": "o-1", "total": "12.50", "purchasedProductIds": "a, b"},
        url="https://shop.example/thanks",
    )
    assert built["type"] == "display"
    assert built["mbox"] == {"name": "orderConfirm"}
    assert built["order"] == {"id": "o-1", "total": 12.5, "purchasedProductIds": ["a", "b"]}
    assert built["product"] == {"id": "tent-2p"}
    assert (built["parameters"], built["profileParameters"]) == ({"color": "green"}, {"tier": "3"})
    assert built["address"] == {"url": "https://shop.example/thanks"}
    with pytest.raises(ValueError, match="orderTotal"):
        event_notification("m", order={"orderTotal": -1})


async def test_on_device_displays_carry_the_engine_s_telemetry_and_validate(
    edge: ScriptedEdge, openapi_dir: Any
) -> None:
    from target_middleware.decisioning import DecisioningEngine, load_artifact
    from tests.datafiles import ARTIFACTS

    engine = DecisioningEngine(load_artifact(ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json"), client_code="targettesting")
    validator = _validator(openapi_dir)
    async with TargetClient(
        "targettesting", "O@AdobeOrg", server_domain=edge.domain, secure=False, decisioning="on-device", decider=engine
    ) as client:
        visitor = Visitor(session_id="s-1", tnt_id="338e3c1e51f7416a8e1ccba4f81acea0.28_0")
        page = PageContext(url="https://shop.example/")
        await client.get_offers(["mbox-magician"], visitor=visitor, page=page)
        await client.get_offers(["mbox-magician"], visitor=visitor, page=PageContext(url="https://shop.example/b"))
    [sent] = [r.body for r in edge.requests]  # one visitor, one window: one request
    assert len(sent["notifications"]) == 2
    assert sent["notifications"][1]["address"] == {"url": "https://shop.example/b"}  # its own page
    assert [e["features"]["decisioningMethod"] for e in sent["telemetry"]["entries"]] == ["on-device"] * 2
    assert list(validator.iter_errors(sent)) == []


async def test_a_callback_is_handed_each_batch_sync_or_async_and_its_failures_are_counted() -> None:
    """``on_notifications``: a plain function (handed on at once), a coroutine function (awaited) and one that
    raises (that batch failed, the others sent), each batch's notifications in order."""
    handed: list[list[str]] = []

    def plain(notes: Any) -> None:
        handed.append([n["id"] for n in notes])

    async def awaited(notes: Any) -> None:
        await asyncio.sleep(0)
        handed.append([n["id"] for n in notes])

    def failing(notes: Any) -> None:
        if notes[0]["id"] == "bad":
            raise RuntimeError("the user's pipeline failed")
        handed.append([n["id"] for n in notes])

    for callback in (plain, awaited, failing):
        handed.clear()
        client = TargetClient("acme", "O@AdobeOrg", on_notifications=callback)
        done = concurrent.futures.Future[NotificationOutcome]()
        for entry in (pending("v1", "a", "b"), pending("v2", "bad"), pending("v3", "c", done=done)):
            client.notifications.put(entry)
        await client.notifications.flush()
        assert done.result() is NotificationOutcome.SENT
        if callback is failing:
            assert handed == [["a", "b"], ["c"]]
            assert client.notifications.counts["failed"] == 1
        else:
            assert handed == [["a", "b"], ["bad"], ["c"]]
            assert client.notifications.counts["failed"] == 0
        assert client.notifications.counts["sent"] == sum(map(len, handed))
        await client.aclose()
