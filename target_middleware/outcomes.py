"""Every decision's outcome, recorded where the decision completes: counted, logged once when it failed, fed to
the circuit breaker and to OpenTelemetry, whatever became of the page (HTML, JSON, a stream, an error).

A decision started for a request runs to its outcome within the request's budget (its own deadline), whether or not
the response waits for it. :class:`DecisionWatch` records it once: from the decision's done callback, or from the
response, which settles it at the budget's end so that the page never leaves before its decision is counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from .delivery.errors import UpstreamStatusError

if TYPE_CHECKING:
    from .telemetry import Telemetry

__all__ = ["CircuitBreaker", "DecisionOutcome", "DecisionWatch", "Outcomes", "TargetStats", "describe"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TargetStats(Counter[str]):
    """Outcomes by name: each decision's (``decided``, ``timeout``, ``error``, ``parseerror``), each page's
    (``applied``, ``unchanged``, ``redirect``, ``not-eligible``, ``breaker-open``, ...)."""


class DecisionOutcome(StrEnum):
    DECIDED = "decided"
    TIMEOUT = "timeout"
    ERROR = "error"
    PARSEERROR = "parseerror"


# The member, read once: an Enum member read from its class goes through a descriptor (3.11), twenty times a global.
_DECIDED = DecisionOutcome.DECIDED


class CircuitBreaker:
    """After ``failures`` failed decisions in a row, stop asking for ``cooldown`` seconds, then try one again."""

    __slots__ = ("_cooldown", "_failures", "_open_until", "_streak")

    def __init__(self, failures: int, cooldown: float) -> None:
        self._failures, self._cooldown = failures, cooldown
        self._streak = 0
        self._open_until = 0.0

    def allow(self) -> bool:
        return self._streak < self._failures or time.monotonic() >= self._open_until

    def failed(self) -> None:
        self._streak += 1
        if self._streak >= self._failures:
            self._open_until = time.monotonic() + self._cooldown

    def succeeded(self) -> None:
        self._streak = 0


def describe(error: BaseException) -> str:
    """What a log may say of a failure: its class (and its cause's, an HTTP status), never its text. A cancellation
    as the cause says nothing: it is how ``asyncio.timeout`` ends what it times, and Python 3.13 chains it."""
    text = type(error).__name__
    if isinstance(error, UpstreamStatusError):
        text += f" {error.status_code}"
    cause = error.__cause__
    if cause is not None and type(cause).__name__ != text and not isinstance(cause, asyncio.CancelledError):
        text += f" from {type(cause).__name__}"
    return text


def counting(stats: Counter[str]) -> tuple[Callable[[str, int], int], Callable[[str, int], None]]:
    """``stats[key] += 1`` as two methods of ``stats`` bound once: ``get(key, 0)`` and ``store(key, count)``.

    ``Counter`` defines ``__delitem__`` in Python, so the type's one store-or-delete slot is the interpreter's
    generic one: every ``stats[key] = n`` looks ``__setitem__`` up and makes a method-wrapper to call (~1 000
    instructions, ~440 more than the bound one). Bound here, the store is ``stats``' own ``__setitem__`` (dict's
    for a Counter, an override's for a subclass that has one), and ``del stats[key]`` is untouched. The read is
    ``dict.get`` where ``stats[key]`` is dict's lookup with Counter's ``__missing__`` (0), else ``stats[key]``."""
    kind = type(stats)
    store: Callable[[str, int], None] = stats.__setitem__
    if kind.__getitem__ is dict.__getitem__ and getattr(kind, "__missing__", None) is Counter.__missing__:
        get: Callable[[str, int], int] = stats.get
    else:

        def get(key: str, default: int) -> int:
            return stats[key]

    return get, store


class Outcomes:
    """Where a middleware's outcomes go: its ``TargetStats``, its breaker, its telemetry (None: OpenTelemetry is
    not installed, and nothing is called)."""

    __slots__ = ("_get", "_store", "breaker", "method", "stats", "telemetry")

    def __init__(self, stats: TargetStats, breaker: CircuitBreaker, telemetry: Telemetry | None, method: str) -> None:
        self.stats, self.breaker, self.telemetry, self.method = stats, breaker, telemetry, method
        self._get, self._store = counting(stats)  # stats[outcome] += 1

    def count(self, outcome: str, route: str) -> None:
        self._store(outcome, self._get(outcome, 0) + 1)
        telemetry = self.telemetry
        if telemetry is not None and time.monotonic() >= telemetry.quiet_until and telemetry.active:
            telemetry.count(outcome, route)

    def recording(self) -> Telemetry | None:
        """The telemetry when it records now, else None (no OpenTelemetry, or no SDK set up yet): asked once at a
        request's start, and what that request's outcomes then go to (:meth:`count_for`, :meth:`decided`)."""
        telemetry = self.telemetry
        if telemetry is not None and time.monotonic() >= telemetry.quiet_until and telemetry.active:
            return telemetry
        return None

    def count_for(self, outcome: str, route: str, telemetry: Telemetry | None) -> None:
        """:meth:`count` for a request that asked :meth:`recording` at its start."""
        self._store(outcome, self._get(outcome, 0) + 1)
        if telemetry is not None:
            telemetry.count(outcome, route)

    def decided(self, route: str, telemetry: Telemetry | None) -> None:
        """A decision for ``route`` made with no span to end, for a request that asked :meth:`recording`: what
        :meth:`DecisionWatch.settle` records for it (``count`` and the breaker's ``succeeded``, written out)."""
        self._store(_DECIDED, self._get(_DECIDED, 0) + 1)
        if telemetry is not None:
            telemetry.count(_DECIDED, route)
        self.breaker._streak = 0

    def watch(self, route: str, mbox_count: int, deadline: float) -> DecisionWatch:
        """A decision about to start for ``route``, due by ``deadline`` (``time.monotonic()``)."""
        telemetry = self.telemetry
        span = None
        if telemetry is not None and time.monotonic() >= telemetry.quiet_until and telemetry.active:
            span = telemetry.decision_started(route, mbox_count, self.method)
        return DecisionWatch(self, route, deadline, span)


class DecisionWatch:
    """One decision, from its start to its one recorded outcome."""

    __slots__ = ("deadline", "ended", "future", "outcomes", "route", "settled", "span", "started")

    def __init__(self, outcomes: Outcomes, route: str, deadline: float, span: Any) -> None:
        self.outcomes, self.route, self.deadline, self.span = outcomes, route, deadline, span
        self.started = time.perf_counter()
        self.ended: float | None = None  # when the decision itself finished, wherever it ran
        self.future: asyncio.Future[Any] | None = None
        self.settled = False

    async def run(self, coroutine: Coroutine[Any, Any, T], *, bounded: bool = True) -> T:
        """The decision, within its deadline (``bounded``), under its span; runs on whichever loop decides."""
        try:
            if self.span is not None and self.outcomes.telemetry is not None:
                async with self.outcomes.telemetry.current(self.span):
                    return await self._run(coroutine, bounded)
            return await self._run(coroutine, bounded)
        finally:
            self.ended = time.perf_counter()

    async def _run(self, coroutine: Coroutine[Any, Any, T], bounded: bool) -> T:
        if not bounded:
            return await coroutine
        async with asyncio.timeout(max(self.deadline - time.monotonic(), 0.0)):
            return await coroutine

    def follow(self, future: asyncio.Future[T]) -> asyncio.Future[T]:
        """Record ``future``'s outcome when it completes, whoever awaits it (or nobody)."""
        self.future = future
        future.add_done_callback(self.settle)
        return future

    def at_deadline(self) -> Any:
        """The response waited until the budget's end: the result if it landed just now, else None, the decision
        stopped and its outcome recorded before the page leaves."""
        future = self.future
        assert future is not None
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        future.cancel()
        self.settle(future)
        return None

    def settle(self, future: asyncio.Future[Any]) -> None:
        if self.settled:
            return
        self.settled = True
        error: BaseException | None
        if future.cancelled():  # only the response cancels it, at the deadline
            outcome, error = DecisionOutcome.TIMEOUT, TimeoutError()
        else:
            error = future.exception()  # retrieved here: asyncio does not log it again as "never retrieved"
            outcome = DecisionOutcome.DECIDED if error is None else _outcome_of(error)
        outcomes = self.outcomes
        outcomes.count(outcome, self.route)
        if error is None:
            outcomes.breaker.succeeded()
        else:
            outcomes.breaker.failed()
            logger.warning(
                "Target decision for %s failed (%s: %s); the page goes out as the app made it",
                self.route,
                outcome,
                describe(error),
            )
        if outcomes.telemetry is not None and self.span is not None:  # no span: nothing recorded when it started
            ended = self.ended if self.ended is not None else time.perf_counter()
            outcomes.telemetry.decision_ended(
                self.span,
                route=self.route,
                method=outcomes.method,
                outcome=outcome,
                error=error,
                duration=ended - self.started,
            )


_BY_STATUS = {"timeout": DecisionOutcome.TIMEOUT, "parseerror": DecisionOutcome.PARSEERROR}


def _outcome_of(error: BaseException) -> DecisionOutcome:
    if isinstance(error, TimeoutError):
        return DecisionOutcome.TIMEOUT
    status = str(getattr(error, "status", ""))
    return _BY_STATUS.get(status, DecisionOutcome.ERROR)
