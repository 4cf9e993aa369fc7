"""The notification queue against its oracle (``notification_oracle``: the queue before its flush was made fast).

Both run the same generated puts (visitors that share sessions or not, pages, notifications, telemetry,
``experienceCloud``, outcomes awaited or not) and what on-device page views owe (the new queue's ``owe`` of
``pageload.owed_display``'s arguments, the old's ``put`` of the Pending it makes), flushes, turns of the event loop
(a timer that fires or not) and a close, behind the client's real send: the Delivery requests as they would go out
(their bytes, key order included; only the random ``requestId`` blanked) or the ``on_notifications`` callback's
lists, plain, awaited or failing (their JSON and their repr: a tuple where a list was is a difference). What each
put returned, the counts after each step, when each outcome was resolved and the warnings logged must match.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware.decisioning.pageload import owed_display
from target_middleware.delivery import PageContext, TargetClient, transport
from target_middleware.delivery.notifications import NotificationOutcome, NotificationQueue, Pending
from target_middleware.identity import CustomerId
from target_middleware.visitor import Visitor

from . import notification_oracle as oracle

_MCID = "08743421337245362392147962341223"
_REQUEST_ID = re.compile(rb'"requestId":"[0-9a-f]{32}"')

visitors = st.builds(
    Visitor,
    session_id=st.sampled_from(["s1", "s2", "s3", "s4", "s5", "s6"]),
    tnt_id=st.sampled_from([None, "a.35_0", "b", "fail"]),
    edge_cluster=st.sampled_from([None, "35"]),
    third_party_id=st.sampled_from([None, "crm-1"]),
    marketing_cloud_visitor_id=st.sampled_from([None, _MCID]),
    customer_ids=st.sampled_from([(), (CustomerId("c1", "crm"),)]),
)
pages = st.sampled_from(
    [
        PageContext(),
        PageContext(url="https://shop.example/"),
        PageContext(url="https://shop.example/b", referring_url="https://search.example/", user_agent="Mozilla/5.0"),
        PageContext(url="https://shop.example/", client_hints={"mobile": False, "platform": "Linux"}),
        PageContext(url="", ip_address="203.0.113.7", time_offset_minutes=60.0),
    ]
)
clouds = st.sampled_from([None, {}, {"analytics": {"supplementalDataId": "sd-1"}}])


@st.composite
def notes(draw: st.DrawFn) -> tuple[dict[str, Any], ...]:
    count = draw(st.sampled_from([0, 1, 1, 1, 1, 2, 30, 51]))
    prefix = draw(st.sampled_from(["n", "n", "x"]))  # "x": a callback that fails on it
    made = []
    for _ in range(count):
        number = draw(st.integers(0, 10**6))
        note: dict[str, Any] = {"id": f"{prefix}{number}", "type": "display", "timestamp": 1700000000000 + number}
        note["mbox"] = {"name": draw(st.sampled_from(["target-global-mbox", "hero"]))}
        note["tokens"] = [f"token-{number}"]
        if draw(st.booleans()) and draw(st.booleans()):
            note["address"] = {"url": "https://own.example/"}
        made.append(note)
    return tuple(made)


telemetry = st.sampled_from([(), ({"requestId": "r-1", "timestamp": 1, "mode": "local", "execution": 0.5},)])
puts = st.tuples(st.just("put"), visitors, pages, notes(), telemetry, clouds, st.booleans())
displays = st.tuples(  # what a page view owes: owed_display's arguments
    st.sampled_from(["target-global-mbox", "hero"]),
    st.lists(st.sampled_from(["t1", "t2", "t3"]), max_size=3).map(tuple),
    st.integers(0, 10**6).map(lambda n: f"n{n}"),
    st.sampled_from(["i1", "i2"]),
    st.integers(1700000000000, 1800000000000),
    st.sampled_from(["r-1", "r-2"]),
    st.sampled_from([None, 0.0, 0.25]),
)
owes = st.tuples(st.just("owe"), visitors, pages, clouds, displays)
steps = st.lists(
    st.one_of(puts, puts, owes, owes, st.just(("flush",)), st.tuples(st.just("turns"), st.integers(1, 4))),
    max_size=40,
)


class _Recording(TargetClient):
    """The client's real request building; what it would post recorded (a visitor ``fail``'s refused)."""

    log: list[Any]

    async def _post(self, body: Mapping[str, Any], visitor: Visitor, deadline: float) -> Any:
        self.log.append(("request", _REQUEST_ID.sub(b'"requestId":"-"', transport.encode(body))))
        await asyncio.sleep(0)
        if visitor.tnt_id == "fail":
            raise ConnectionError("refused")
        return {"status": 200, "requestId": body["requestId"], "client": "acme"}


def _callback(kind: str, log: list[Any]) -> Callable[[Sequence[Mapping[str, Any]]], Awaitable[None] | None] | None:
    def plain(handed: Sequence[Mapping[str, Any]]) -> None:
        log.append(("handed", json.dumps(handed), repr(handed)))
        if handed[0]["id"].startswith("x"):
            raise RuntimeError("the user's pipeline failed")

    async def awaited(handed: Sequence[Mapping[str, Any]]) -> None:
        await asyncio.sleep(0)
        plain(handed)

    return {"edge": None, "plain": plain, "awaited": awaited}[kind]


class _Logged(logging.Handler):
    def __init__(self, log: list[Any]) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log.append(("logged", record.levelname, record.getMessage()))


async def _run(
    make: Callable[[TargetClient], Any],
    logger: logging.Logger,
    steps: list[Any],
    *,
    kind: str,
    bound: int,
    timer: float,
) -> list[Any]:
    """What happens, in order, when ``steps`` are run on the queue ``make`` builds behind a recording client."""
    log: list[Any] = []
    client = _Recording("acme", "O@AdobeOrg", on_notifications=_callback(kind, log), max_pending_notifications=bound)
    client.log = log
    queue = make(client)
    queue.interval = timer
    handler = _Logged(log)
    logger.addHandler(handler)
    try:
        for number, step in enumerate(steps):
            if step[0] == "put":
                _, visitor, page, owed, telemetry, cloud, awaited = step
                if awaited:
                    done = concurrent.futures.Future[NotificationOutcome]()
                    done.add_done_callback(lambda f, n=number: log.append(("resolved", n, f.result())))
                    entry = Pending(visitor, page, owed, telemetry, cloud, done)
                else:
                    entry = Pending.of_decision(visitor, page, owed, telemetry, cloud)
                log.append(("put", queue.put(entry), len(queue)))
            elif step[0] == "owe":
                _, visitor, page, cloud, display = step
                if isinstance(queue, NotificationQueue):  # as the client queues what a page view owes
                    owed = queue.owe(1, (visitor, page, cloud, owed_display, display))
                else:
                    owed = queue.put(Pending.of_decision(visitor, page, *owed_display(display), cloud))
                log.append(("put", owed, len(queue)))
            elif step[0] == "flush":
                await queue.flush()
            else:
                for _ in range(step[1]):
                    await asyncio.sleep(0)
            log.append(("counts", dict(queue.counts)))
        await queue.aclose()
        log.append(("closed", dict(queue.counts), len(queue)))
        await client.aclose()
    finally:
        logger.removeHandler(handler)
    return log


def _new(client: TargetClient) -> NotificationQueue:
    return client.notifications


def _old(client: TargetClient) -> oracle.NotificationQueue:
    def send(batch: list[Pending]) -> Awaitable[None] | None:
        return oracle.send_batch(batch, send=client.send_notifications, callback=client._on_notifications)

    return oracle.NotificationQueue(send, max_pending=client.notifications.max_pending)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    steps=steps,
    kind=st.sampled_from(["edge", "plain", "awaited"]),
    bound=st.sampled_from([3, 10, 10_000]),
    timer=st.sampled_from([0.0, 1e6]),
)
def test_the_queue_sends_counts_and_resolves_as_its_oracle(
    steps: list[Any], kind: str, bound: int, timer: float
) -> None:
    new_logger = logging.getLogger("target_middleware.delivery.notifications")
    expected = asyncio.run(_run(_old, oracle.logger, steps, kind=kind, bound=bound, timer=timer))
    got = asyncio.run(_run(_new, new_logger, steps, kind=kind, bound=bound, timer=timer))
    assert got == expected
