"""Notifications to Target (displays, clicks, conversions), queued and sent in the background by the client.

One bounded queue per ``TargetClient``: ``put`` is a deque append (thread-safe, never blocks, never raises); a
task on the queue's event loop wakes when something arrives, waits ``interval`` for more, merges what is pending
per visitor (one Delivery request carries one visitor's ids and context) into batches of at most 50 and sends
them. When the queue is full the newest is refused: counted, and the first refusal logged. A caller that wants
the outcome passes a ``concurrent.futures.Future`` and awaits it from any loop or thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import json
import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from ..frozen import builder
from ..identity import visitor_ids
from ..visitor import Visitor
from .context import PageContext
from .params import map_params

__all__ = [
    "MAX_BATCH",
    "NotificationOutcome",
    "NotificationQueue",
    "Pending",
    "event_notification",
    "send_batch",
    "with_third_party_id",
]

logger = logging.getLogger(__name__)

MAX_BATCH = 50  # notifications per Delivery request
_CONCURRENT_SENDS = 8
_ORDER_NAMES = {"id": "orderId", "total": "orderTotal", "purchasedProductIds": "productPurchasedId"}


class NotificationOutcome(StrEnum):
    """What became of a notification: ``queued`` (fire-and-forget), then ``sent``, ``failed`` or ``dropped``."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


def with_third_party_id(visitor: Visitor, params: Mapping[str, Any] | None) -> Visitor:
    """The visitor with the ``mbox3rdPartyId`` of at.js params as its thirdPartyId, as at.js sends it."""
    third_party = (params or {}).get("mbox3rdPartyId")
    if isinstance(third_party, str) and third_party:
        return dataclasses.replace(visitor, third_party_id=third_party[:128])
    return visitor


def event_notification(
    mbox: str,
    *,
    params: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
    order: Mapping[str, Any] | None = None,
    kind: str = "display",
    url: str | None = None,
) -> dict[str, Any]:
    """What at.js ``trackEvent({mbox, params})`` sends: a notification for ``mbox`` with its params mapped.

    ``order`` takes at.js's names (``orderId``, ``orderTotal``, ``productPurchasedId``: a list or a comma-separated
    string) or the Delivery API's (``id``, ``total``, ``purchasedProductIds``). Bad params are a ValueError.
    """
    if not isinstance(mbox, str) or not mbox.strip() or len(mbox) > 250:
        raise ValueError("track needs an mbox name (1-250 characters)")
    merged: dict[str, Any] = dict(params or {})
    merged.update({f"profile.{key}": value for key, value in (profile or {}).items()})
    for key, value in (order or {}).items():
        name = _ORDER_NAMES.get(key, key)
        if name not in _ORDER_NAMES.values():
            raise ValueError(f"order key {key!r}: use orderId, orderTotal or productPurchasedId")
        merged[name] = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
    mapped = map_params(merged)
    note: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "type": kind,
        "timestamp": int(time.time() * 1000),
        "mbox": {"name": mbox},
        **mapped.details,
    }
    if url:
        note["address"] = {"url": url}
    return note


@dataclass(frozen=True, slots=True)
class Pending:
    """Notifications for one visitor, as queued; ``done`` (when given) receives the :class:`NotificationOutcome`.

    ``Pending.of_decision(visitor, page, notifications, telemetry, experience_cloud)`` is what a local decision owes
    (no ``done``), built without the frozen stores (see ``frozen``): one per decision, so one plain call (a
    classmethod would add a bound method and a second frame).
    """

    visitor: Visitor
    page: PageContext
    notifications: tuple[Mapping[str, Any], ...]
    telemetry: tuple[Mapping[str, Any], ...] = ()
    experience_cloud: Mapping[str, Any] | None = None  # the page view's (A4T supplementalDataId, Audience Manager)
    done: concurrent.futures.Future[NotificationOutcome] | None = field(default=None, compare=False)
    of_decision: ClassVar[_OfDecision]  # set below, once the class is made

    def resolve(self, outcome: NotificationOutcome) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(outcome)


_OfDecision = Callable[
    [Visitor, PageContext, tuple[Mapping[str, Any], ...], tuple[Mapping[str, Any], ...], Mapping[str, Any] | None],
    Pending,
]
Pending.of_decision = staticmethod(builder(Pending, done=None))
Batch = list[Pending]

# What a decision owes, as it waits for the flush when the decider makes its notifications then
# (``NotificationQueue.owe``): ``(visitor, page, experience_cloud, make, owed)``, ``make(owed)`` its
# ``(notifications, telemetry)``. A Pending of them is a dozen containers (the Pending, two tuples, four dicts, a
# list) that outlive their request until the flush: the cycle collector's young objects, whose count made its
# collections run (every ~60 requests) and moved them to older generations walked again by full collections.
Owed = tuple[Any, ...]


def _pending(entry: Owed) -> Pending:
    """The Pending of what a decision owes (see ``Owed``), its notifications and telemetry made now."""
    notifications, telemetry = entry[3](entry[4])
    return Pending.of_decision(entry[0], entry[1], notifications, telemetry, entry[2])


BatchSend = Callable[[Batch], Awaitable[None] | None]  # None: handed on already, nothing to await


def send_batch(
    batch: Sequence[Pending],
    *,
    send: Callable[..., Awaitable[object]],
    callback: Callable[[Sequence[Mapping[str, Any]]], Awaitable[None] | None] | None,
) -> Awaitable[None] | None:
    """One visitor's queued notifications: to ``callback`` when there is one (now; what is left to await of it, or
    None), else ``send`` (the client's ``send_notifications``) in requests of at most 50, the telemetry with the
    first (to await). A failure of the callback raises here, of a send where it is awaited."""
    first = batch[0]
    # One request has one context: a notification from another page of this visitor says its own address.
    notes = (
        list(first.notifications)  # the usual batch, one page view's: all of the first page
        if len(batch) == 1
        else [
            {**note, "address": {"url": entry.page.url}}
            if entry.page.url and entry.page.url != first.page.url and "address" not in note
            else note
            for entry in batch
            for note in entry.notifications
        ]
    )
    if callback is not None:
        if notes:
            outcome = callback(notes)
            if outcome is not None and inspect.isawaitable(outcome):
                return outcome
        return None
    return _send_all(batch, notes, send)


async def _send_all(batch: Sequence[Pending], notes: list[Any], send: Callable[..., Awaitable[object]]) -> None:
    first = batch[0]
    telemetry = [entry for pending in batch for entry in pending.telemetry]
    for start in range(0, max(len(notes), 1), MAX_BATCH):
        chunk = notes[start : start + MAX_BATCH]
        await send(
            chunk,
            visitor=first.visitor,
            page=first.page,
            telemetry=telemetry if start == 0 else (),
            experience_cloud=first.experience_cloud,
        )


class NotificationQueue:
    """Bounded, batched, sent in the background on one event loop (the first that puts, or ``bind``'s)."""

    def __init__(self, send: BatchSend, *, max_pending: int = 10_000, interval: float = 0.1) -> None:
        if not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError("max_pending must be a positive number of queued entries")
        self._send = send
        self.max_pending = max_pending
        self.interval = interval
        self.counts: Counter[str] = Counter()  # queued, sent, failed, dropped (notifications, not requests)
        self._pending: deque[Pending | Owed] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._signalled = False  # the task is woken and has not yet gathered: its next flush takes what is put
        self._inflight: asyncio.Future[None] | None = None
        self._logged = {"full": -1e9, "failed": -1e9}

    def __len__(self) -> int:
        return len(self._pending)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send from ``loop`` (the loop the client's connections live on), whoever puts; a queue already sending
        from a loop that is still open keeps it."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop, self._wake, self._task = loop, None, None

    def put(self, entry: Pending) -> bool:
        """Queue ``entry``; False (and ``dropped``) when the queue is full. From any thread; never blocks."""
        return self.owe(len(entry.notifications), entry)

    def owe(self, count: int, entry: Pending | Owed) -> bool:
        """``put`` of an entry of ``count`` notifications: a Pending, or what a decision owes made when its batch is
        handed on (``Owed``): ``(visitor, page, experience_cloud, make, owed)`` is
        ``Pending.of_decision(visitor, page, *make(owed), experience_cloud)``, one tuple waiting rather than a dozen
        containers."""
        lock = self._lock
        lock.acquire()  # not ``with``: its two method lookups and three-argument exit, on every decision's put
        try:
            full = len(self._pending) >= self.max_pending
            if full:
                self.counts["dropped"] += count
            else:
                self._pending.append(entry)
                self.counts["queued"] += count
        finally:
            lock.release()
        if full:
            if self._due("full"):
                logger.warning(
                    "Target notification queue full (%d pending): newer notifications dropped (%d so far)",
                    self.max_pending,
                    self.counts["dropped"],
                )
            if not isinstance(entry, tuple):
                entry.resolve(NotificationOutcome.DROPPED)
            return False
        task = self._task
        if not (self._signalled and task is not None and not task.done()):  # else: already on its way
            self._kick()
        return True

    def _due(self, what: str) -> bool:
        """Log ``what`` at most once a minute: an edge that is down fails every batch, a flood fills every flush."""
        now = time.monotonic()
        if now - self._logged[what] < 60:
            return False
        self._logged[what] = now
        return True

    def _kick(self) -> None:
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        loop = self._loop
        if loop is None or loop.is_closed():
            if current is None:
                return  # sent by the next put from a loop, or by aclose()
            self.bind(current)
            loop = self._loop or current
        if loop is current:
            self._wake_up()
        else:
            with contextlib.suppress(RuntimeError):  # that loop closed meanwhile: aclose() sends what is left
                loop.call_soon_threadsafe(self._wake_up)

    def _wake_up(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="target-notifications")
        assert self._wake is not None
        self._wake.set()
        self._signalled = True

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._signalled = False
            await asyncio.sleep(self.interval)  # let a burst gather into fewer requests
            # Shielded: aclose() cancels this task, but lets a send under way finish before it closes the client.
            self._inflight = asyncio.ensure_future(self.flush())
            await asyncio.shield(self._inflight)

    def _take(self) -> list[Pending | Owed]:
        with self._lock:
            taken = list(self._pending)
            self._pending.clear()
        return taken

    async def flush(self) -> None:
        """Send everything pending now, on this loop."""
        taken = self._take()
        if not taken:
            return
        pending = _batches_of(taken)
        # What is handed on at once (a callback that returns nothing, the usual ``on_notifications``) is done here, in
        # order, without a task; the first batch with a send to await, and every batch after it, go to the senders.
        under_way = self._hand_on(pending)
        if under_way is None:
            return
        # At most _CONCURRENT_SENDS at a time, in order: as many senders, each taking the next batch when it is done
        # (a task per sender, not per batch: a flush of a thousand visitors' displays is a thousand batches).
        first = [under_way]

        async def sender() -> None:
            if first:
                await self._finish(*first.pop())
            while (sending := self._hand_on(pending)) is not None:
                await self._finish(*sending)

        await asyncio.gather(*(sender() for _ in range(_CONCURRENT_SENDS)))

    def _hand_on(self, pending: Iterator[Batch]) -> tuple[Batch, Awaitable[None]] | None:
        """Hand the next batches to the send, in order, while each is done at once (sent, or failed: one failed
        batch must not stop the others); the first with a send left to await, with it, or None when none is left."""
        send = self._send
        for batch in pending:
            try:
                sending = send(batch)
            except Exception as exc:
                self._failed(batch, exc)
                continue
            if sending is None:
                self._sent(batch)
                continue
            return batch, sending
        return None

    async def _finish(self, batch: Batch, sending: Awaitable[None]) -> None:
        try:
            await sending
        except Exception as exc:
            self._failed(batch, exc)
            return
        self._sent(batch)

    def _sent(self, batch: Batch) -> None:
        self.counts["sent"] += len(batch[0].notifications) if len(batch) == 1 else _count(batch)
        for entry in batch:
            if entry.done is not None:
                entry.resolve(NotificationOutcome.SENT)

    def _failed(self, batch: Batch, exc: Exception) -> None:
        count = _count(batch)
        self.counts["failed"] += count
        if self._due("failed"):
            logger.warning("sending %d notifications to Target failed (%s)", count, type(exc).__name__)
        for entry in batch:
            entry.resolve(NotificationOutcome.FAILED)

    async def aclose(self) -> None:
        """Stop the background task and send what is still pending (on the queue's loop when it still runs)."""
        loop, task = self._loop, self._task
        current = asyncio.get_running_loop()
        if task is not None and loop is not None and loop is not current and loop.is_running():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.aclose(), loop))
            return
        if task is not None and loop is current:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self._inflight is not None:
                with contextlib.suppress(Exception):
                    await self._inflight
        self._task = self._inflight = None
        await self.flush()


def _batches_of(taken: Sequence[Pending | Owed]) -> Iterator[Batch]:
    """``batches`` of what ``flush`` took, what a decision owes (``Owed``) made a Pending as its batch is handed on,
    not all at once: a flush of hundreds would make a dozen containers of each before the first is sent, and the
    collector run over them.

    Entries no two of which share a session (the usual flush: each page view a visitor of its own) are each their own
    batch, in order, without a key each: a batch key (``_batch_key``) starts with the session id, so no two keys are
    equal, and a visitor's first entry opens a batch whatever its size."""
    sessions = {entry[0].session_id if isinstance(entry, tuple) else entry.visitor.session_id for entry in taken}
    if len(sessions) == len(taken):
        return ([_made(entry)] for entry in taken)
    return iter(_merged([_made(entry) for entry in taken]))


def _made(entry: Pending | Owed) -> Pending:
    return _pending(entry) if isinstance(entry, tuple) else entry


def _count(batch: Batch) -> int:
    return sum(len(entry.notifications) for entry in batch)


def _batch_key(entry: Pending) -> tuple[Any, ...]:
    """What entries sent in one request share: the visitor's session, edge, ids (``visitor_ids``) and the page
    view's ``experienceCloud``. Without the latter and customer ids, the ids are the visitor's three id strings
    (``visitor_ids`` keeps each that is not empty): a tuple of them, where the general key is their JSON."""
    visitor = entry.visitor
    if entry.experience_cloud is None and not (visitor.marketing_cloud_visitor_id and visitor.customer_ids):
        ids = (visitor.tnt_id or None, visitor.third_party_id or None, visitor.marketing_cloud_visitor_id or None)
        return visitor.session_id, visitor.edge_cluster, *ids
    general = json.dumps([visitor_ids(visitor), entry.experience_cloud], sort_keys=True, default=str)
    return visitor.session_id, visitor.edge_cluster, general


def batches(entries: Sequence[Pending]) -> list[Batch]:
    """Entries merged per visitor (ids, session and edge) and page view's ``experienceCloud``, in order, cut at
    ``MAX_BATCH`` notifications."""
    return list(_batches_of(entries))


def _merged(entries: Sequence[Pending]) -> list[Batch]:
    """Entries merged per ``_batch_key``, in the order of their first, each visitor's cut at ``MAX_BATCH``."""
    grouped: dict[tuple[Any, ...], list[Batch]] = {}
    for entry in entries:
        key = _batch_key(entry)
        runs = grouped.get(key)
        if runs is None:  # a visitor's first entry
            grouped[key] = [[entry]]
            continue
        if sum(len(e.notifications) for e in runs[-1]) + len(entry.notifications) > MAX_BATCH:
            runs.append([])
        runs[-1].append(entry)
    return [batch for runs in grouped.values() for batch in runs]
