"""OpenTelemetry spans and metrics of the middleware, through the API only: the app brings the SDK and exporter.

Without ``opentelemetry-api`` installed (the ``otel`` extra), :func:`telemetry_for` answers None and the middleware
calls nothing of this module. With the API and no SDK, OpenTelemetry's own no-op tracer and meter answer; an SDK set
up later (``trace.set_tracer_provider``) is picked up, as the API's proxies promise.

Names follow OpenTelemetry's semantic-convention habits: one namespace (the package's), snake_case components,
durations in seconds, sizes in bytes, ``error.type`` for the failure's class, nothing of a visitor in a value.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
except ImportError:  # the otel extra is not installed: nothing here is ever called
    otel_context = metrics = trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .rewritecache import Rewrite


__all__ = ["AVAILABLE", "Telemetry", "error_type", "telemetry_for"]

AVAILABLE = trace is not None
SCOPE = "target_middleware"

# Spans
DECIDE_SPAN = "target_middleware.decide"
APPLY_SPAN = "target_middleware.apply"
# Attributes
ROUTE = "target_middleware.route"  # the MboxRule's path template, like http.route
MBOX_COUNT = "target_middleware.mbox_count"
DECISIONING_METHOD = "target_middleware.decisioning.method"
DECISION_OUTCOME = "target_middleware.decision.outcome"
OUTCOME = "target_middleware.outcome"
ACTIONS_APPLIED = "target_middleware.action.applied_count"
ACTIONS_SKIPPED = "target_middleware.action.skipped_count"
PAGE_SIZE = "target_middleware.page.size"
ERROR_TYPE = "error.type"
# Metrics
DECISION_DURATION = "target_middleware.decision.duration"
OUTCOMES = "target_middleware.outcomes"
APPLY_DURATION = "target_middleware.apply.duration"
APPLY_PAGE_SIZE = "target_middleware.apply.page.size"

# Seconds: a decision's budget is tens to hundreds of milliseconds, a rewrite a fraction of one to tens.
DECISION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
APPLY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
SIZE_BUCKETS = tuple(float(2**n) for n in range(10, 25))  # 1 KiB .. 16 MiB


def error_type(error: BaseException) -> str:
    """The exception's class as ``error.type`` wants it (module and name; builtins by name), never its text."""
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


class Telemetry:
    """The middleware's tracer and instruments; one per middleware."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from . import __version__

        self._on = tracer_provider is not None or meter_provider is not None  # once on, on for good
        self._recheck = 0.0  # when to look at the global providers again
        # Until then (``time.monotonic()``), ``active`` is known to answer False: what a request asks four times,
        # ``time.monotonic() >= t.quiet_until and t.active``, is a clock reading, not a property's call. 0.0: ask.
        self.quiet_until = 0.0
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.decision_duration = meter.create_histogram(
            DECISION_DURATION,
            unit="s",
            description="Time from the start of a decision to its outcome.",
            explicit_bucket_boundaries_advisory=DECISION_BUCKETS,
        )
        self.outcomes = meter.create_counter(
            OUTCOMES, unit="{outcome}", description="Decision and page outcomes, as TargetStats counts them."
        )
        self.apply_duration = meter.create_histogram(
            APPLY_DURATION,
            unit="s",
            description="Time to apply a decision to a page: actions, redirect, headers.",
            explicit_bucket_boundaries_advisory=APPLY_BUCKETS,
        )
        self.apply_page_size = meter.create_histogram(
            APPLY_PAGE_SIZE,
            unit="By",
            description="Size of each page a decision was applied to.",
            explicit_bucket_boundaries_advisory=SIZE_BUCKETS,
        )

    @property
    def active(self) -> bool:
        """False while nothing would record: no provider given, and the global ones still the API's proxies or
        no-ops (no SDK set up yet), when last looked at (at most a second ago). So an SDK set up later is picked up
        within a second, and until then a request costs no span, context or instrument call."""
        if self._on:
            return True
        now = time.monotonic()
        if now < self._recheck:
            return False
        self._recheck = now + 1.0
        self._on = (
            not _NO_METRICS
            or type(trace.get_tracer_provider()) not in _NO_TRACING
            or type(metrics.get_meter_provider()) not in _NO_METRICS
        )
        self.quiet_until = 0.0 if self._on else self._recheck
        return self._on

    def count(self, outcome: str, route: str) -> None:
        self.outcomes.add(1, {OUTCOME: outcome, ROUTE: route})

    # -- decisions -----------------------------------------------------------------------------------

    def decision_started(self, route: str, mbox_count: int, method: str) -> Any:
        attributes: dict[str, Any] = {ROUTE: route, MBOX_COUNT: mbox_count, DECISIONING_METHOD: method}
        return self.tracer.start_span(DECIDE_SPAN, attributes=attributes)

    @asynccontextmanager
    async def current(self, span: Any) -> AsyncIterator[None]:
        """``span`` as the current span where the decision runs (the I/O thread too): an instrumented httpx's
        spans become its children."""
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            otel_context.detach(token)

    def decision_ended(
        self, span: Any, *, route: str, method: str, outcome: str, error: BaseException | None, duration: float
    ) -> None:
        attributes: dict[str, Any] = {ROUTE: route, DECISIONING_METHOD: method, DECISION_OUTCOME: outcome}
        if error is not None:
            attributes[ERROR_TYPE] = error_type(error)
            span.set_status(trace.StatusCode.ERROR)
        span.set_attributes(attributes)
        span.end()
        self.decision_duration.record(duration, attributes)

    # -- applying ------------------------------------------------------------------------------------

    def apply_started(self, route: str, size: int) -> tuple[Any, float]:
        span = self.tracer.start_span(APPLY_SPAN, attributes={ROUTE: route, PAGE_SIZE: size})
        return span, time.perf_counter()

    def apply_ended(
        self,
        started: tuple[Any, float],
        *,
        route: str,
        size: int,
        outcome: str,
        applied: Rewrite | None = None,
        error: BaseException | None = None,
    ) -> None:
        span, since = started
        duration = time.perf_counter() - since
        attributes: dict[str, Any] = {ROUTE: route, OUTCOME: outcome}
        if error is not None:
            attributes[ERROR_TYPE] = error_type(error)
            span.set_status(trace.StatusCode.ERROR)
        span.set_attributes(_with_actions(attributes, applied))
        span.end()
        self.apply_duration.record(duration, attributes)
        self.apply_page_size.record(size, attributes)


# The API's own providers, before an SDK is set: everything they hand out records nothing. (The meter's proxy class
# is private: without it, telemetry is always taken as active.)
_NO_TRACING: tuple[type, ...] = () if trace is None else (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_NO_METRICS: tuple[type, ...] = ()


def _private_proxy_meter_provider() -> tuple[type, ...]:
    try:
        from opentelemetry.metrics._internal import _ProxyMeterProvider
    except ImportError:  # pragma: no cover - a future API without it
        return ()
    return (_ProxyMeterProvider,)


if metrics is not None and _private_proxy_meter_provider():
    _NO_METRICS = (metrics.NoOpMeterProvider, *_private_proxy_meter_provider())


def _with_actions(attributes: Mapping[str, Any], applied: Rewrite | None) -> dict[str, Any]:
    counts = {ACTIONS_APPLIED: len(applied.applied), ACTIONS_SKIPPED: len(applied.skipped)} if applied else {}
    return {**attributes, **counts}


def telemetry_for(tracer_provider: Any = None, meter_provider: Any = None) -> Telemetry | None:
    """The middleware's telemetry: None when OpenTelemetry's API is not installed (and no provider was given)."""
    if not AVAILABLE:
        if tracer_provider is not None or meter_provider is not None:
            raise ValueError("tracer_provider and meter_provider need opentelemetry-api (the otel extra)")
        return None
    return Telemetry(tracer_provider, meter_provider)
