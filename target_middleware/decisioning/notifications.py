"""Display notifications owed by on-device decisions, queued and sent to Target in the background.

On-device ``execute`` decisions count no impression until Target hears of them. ``NotificationQueue.put``
costs a deque append on the request path; a background task wakes every ``interval`` seconds, merges what is
pending per visitor (one Delivery request carries one visitor's id and context) and hands each batch to
``send``: the client's ``send_notifications`` (async), or a user callback when there is no account (sync or
async). The queue is bounded: past ``max_pending`` the oldest are dropped, counted and logged once per flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from .engine import OnDeviceDecision, notification_request

__all__ = ["NotificationQueue", "NotificationSend"]

logger = logging.getLogger(__name__)

NotificationSend = Callable[[dict[str, Any]], Awaitable[object] | object]


class NotificationQueue:
    def __init__(self, send: NotificationSend, *, interval: float = 1.0, max_pending: int = 10_000) -> None:
        self._send = send
        self.interval = interval
        self._pending: deque[dict[str, Any]] = deque(maxlen=max_pending)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.failed = 0

    def put(self, request: Mapping[str, Any], decision: OnDeviceDecision) -> None:
        """Queue what ``decision`` owes Target (nothing when it owes nothing). Never blocks, never raises."""
        body = notification_request(request, decision)
        if body is None:
            return
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(body)

    def __len__(self) -> int:
        return len(self._pending)

    @staticmethod
    def _batches(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for body in bodies:
            visitor = [body.get("id"), body.get("context"), body.get("experienceCloud")]
            key = json.dumps(visitor, sort_keys=True, default=str)
            batch = merged.get(key)
            if batch is None:
                entries = list((body.get("telemetry") or {}).get("entries") or ())
                merged[key] = {
                    **body,
                    "notifications": list(body.get("notifications") or ()),
                    "telemetry": {"entries": entries},
                }
                continue
            batch["notifications"].extend(body.get("notifications") or ())
            batch["telemetry"]["entries"].extend((body.get("telemetry") or {}).get("entries") or ())
        for batch in merged.values():
            if not batch["notifications"]:
                del batch["notifications"]
            if not batch["telemetry"]["entries"]:
                del batch["telemetry"]
        return list(merged.values())

    async def _deliver(self, batch: dict[str, Any]) -> None:
        try:
            result = self._send(batch)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # one failed batch must not stop the others
            self.failed += 1
            logger.warning(
                "sending %d notifications to Target failed: %s",
                len(batch.get("notifications") or ()),
                type(exc).__name__,
            )

    async def flush(self) -> None:
        """Send everything pending now."""
        if self.dropped:
            logger.warning("notification queue full: %d notifications dropped so far", self.dropped)
        bodies = list(self._pending)
        self._pending.clear()
        if bodies:
            await asyncio.gather(*(self._deliver(batch) for batch in self._batches(bodies)))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="target-notifications")

    async def aclose(self) -> None:
        """Stop the background task and send what is still pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def __aenter__(self) -> NotificationQueue:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
