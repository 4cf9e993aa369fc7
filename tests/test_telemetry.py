"""OpenTelemetry: a span per decision and per apply, and the middleware's metrics, read back with the SDK's
in-memory span exporter and metric reader (real servers, real HTTP)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.testing import StaticDecider, actions_option
from tests.delivery.edge import ScriptedEdge, start_edge, stop_edge
from tests.servers import serve

PAGE = '<!DOCTYPE html><html><head></head><body><h1 id="hero">Welcome</h1></body></html>'
HERO = actions_option(
    {"type": "setHtml", "selector": "#hero", "content": "Winter sale"},
    {"type": "setHtml", "selector": "#absent", "content": "nowhere"},
)


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def finished(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            if scope.scope.name == "target_middleware"
            for m in scope.metrics
            if m.name == metric
            for point in m.data.data_points
        ]

    def instrument(self, metric: str) -> Any:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return next(m for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics if m.name == metric)


@pytest.fixture
def otel() -> Iterator[Otel]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(spans, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture(scope="module")
def edge() -> Iterator[ScriptedEdge]:
    edge, server, thread = start_edge()
    yield edge
    stop_edge(edge, server, thread)


@dataclass(frozen=True, slots=True)
class SpanningDecider:
    """Starts a span of its own while it decides: it must be a child of the decision's span, on any thread."""

    inner: StaticDecider
    tracer: Any

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> Any:
        with self.tracer.start_as_current_span("inside the decider"):
            return self.inner.decide(request, session_id=session_id)


def _drop(notifications: Any) -> None:
    return None


def page_app(client: TargetClient, otel: Otel, **options: Any) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    app = Starlette(routes=[Route("/products/{sku}", page)])
    rule = MboxRule("/products/{sku}", mboxes=["target-global-mbox", "hero"])
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[rule],
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        **options,
    )
    return app


@pytest.mark.parametrize("io_thread", [False, True])
async def test_a_decision_and_its_apply_are_spans_with_their_attributes_and_metrics(
    otel: Otel, io_thread: bool
) -> None:
    decider = SpanningDecider(StaticDecider({"hero": [HERO]}), otel.tracer_provider.get_tracer("test"))
    client = TargetClient("acme", "O@AdobeOrg", decisioning="on-device", decider=decider, on_notifications=_drop)
    stats = TargetStats()
    app = page_app(client, otel, stats=stats, io_thread=io_thread)
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            for sku in ("tent", "stove"):
                assert "Winter sale" in (await http.get(f"{url}/products/{sku}")).text

    decisions = otel.finished("target_middleware.decide")
    assert len(decisions) == 2
    decide = decisions[0]
    assert dict(decide.attributes or {}) == {
        "target_middleware.route": "/products/{sku}",  # the rule's template, never the path itself
        "target_middleware.mbox_count": 2,
        "target_middleware.decisioning.method": "on-device",
        "target_middleware.decision.outcome": "decided",
    }
    assert decide.status.status_code is trace.StatusCode.UNSET
    parent = decide.context.span_id
    [inner] = [s for s in otel.finished("inside the decider") if s.parent and s.parent.span_id == parent]
    assert inner.context.trace_id == decide.context.trace_id

    applies = otel.finished("target_middleware.apply")
    assert len(applies) == 2
    assert dict(applies[0].attributes or {}) == {
        "target_middleware.route": "/products/{sku}",
        "target_middleware.page.size": len(PAGE),
        "target_middleware.outcome": "applied",
        "target_middleware.action.applied_count": 1,
        "target_middleware.action.skipped_count": 1,
    }

    [duration] = otel.points("target_middleware.decision.duration")
    assert duration.count == 2
    assert 0 < duration.sum < 5
    assert dict(duration.attributes) == {
        "target_middleware.route": "/products/{sku}",
        "target_middleware.decisioning.method": "on-device",
        "target_middleware.decision.outcome": "decided",
    }
    assert otel.instrument("target_middleware.decision.duration").unit == "s"
    outcomes = {p.attributes["target_middleware.outcome"]: p.value for p in otel.points("target_middleware.outcomes")}
    # The rewrite cache's counters are TargetStats only (they count rewrites, not requests' outcomes).
    assert outcomes == {"decided": 2, "applied": 2} == {k: v for k, v in stats.items() if "rewrite-cache" not in k}
    [applying] = otel.points("target_middleware.apply.duration")
    assert applying.count == 2
    [size] = otel.points("target_middleware.apply.page.size")
    assert (size.count, size.sum) == (2, 2 * len(PAGE))
    assert otel.instrument("target_middleware.apply.page.size").unit == "By"


async def test_a_failed_decision_is_an_error_span_with_its_error_type_and_no_apply(
    otel: Otel, edge: ScriptedEdge
) -> None:
    edge.scenario = "500"
    client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=30.0)
    app = page_app(client, otel, timeout=30.0)
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{url}/products/tent")).text == PAGE
    [decide] = otel.finished("target_middleware.decide")
    attributes = dict(decide.attributes or {})
    assert attributes["target_middleware.decision.outcome"] == "error"
    assert attributes["target_middleware.decisioning.method"] == "server-side"
    assert attributes["error.type"] == "target_middleware.delivery.errors.UpstreamStatusError"
    assert decide.status.status_code is trace.StatusCode.ERROR
    assert not decide.status.description  # the exception's text stays out
    assert not decide.events
    assert otel.finished("target_middleware.apply") == []
    [duration] = otel.points("target_middleware.decision.duration")
    assert duration.attributes["error.type"] == "target_middleware.delivery.errors.UpstreamStatusError"
    outcomes = {p.attributes["target_middleware.outcome"]: p.value for p in otel.points("target_middleware.outcomes")}
    assert outcomes == {"error": 1}


def test_without_opentelemetry_installed_the_middleware_binds_nothing_and_refuses_providers() -> None:
    # A fresh interpreter where importing opentelemetry fails, as it does when the otel extra is not installed.
    script = """
import sys
class NoOtel:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(name)
sys.meta_path.insert(0, NoOtel())
from starlette.applications import Starlette
from target_middleware import MboxRule, TargetMiddleware, telemetry
from target_middleware.testing import static_client
assert telemetry.AVAILABLE is False
middleware = TargetMiddleware(Starlette(), client=static_client({}), rules=[MboxRule("/", mboxes=["m"])])
assert middleware.telemetry is None and middleware.outcomes.telemetry is None
try:
    TargetMiddleware(Starlette(), client=static_client({}), rules=[], tracer_provider=object())
except ValueError as exc:
    assert "otel" in str(exc)
else:
    raise AssertionError("a provider without opentelemetry-api was accepted")
assert not [m for m in sys.modules if m.startswith("opentelemetry")]
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr


def test_with_no_sdk_set_up_nothing_records_and_an_sdk_set_up_later_is_picked_up(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from target_middleware.telemetry import Telemetry

    assert Telemetry(tracer_provider=otel.tracer_provider).active, "a provider given: always on"
    idle = Telemetry()
    # The API's own proxies (no SDK in this process): a request makes no span and calls no instrument.
    assert type(trace.get_tracer_provider()) is trace.ProxyTracerProvider
    assert not idle.active
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: otel.tracer_provider)  # the app sets up an SDK
    assert not idle.active, "looked at again only after a second"
    idle._recheck = 0.0  # a second later
    assert idle.active
    monkeypatch.undo()
    assert idle.active, "once on, on for good"


async def test_whether_telemetry_records_is_asked_once_a_request(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request that started with nothing to record (no SDK set up) records nothing of its own, not even what
    happens after an SDK is set up mid-request (its decision, its page's outcome and apply); the next request
    records all of it. Its counts are in TargetStats either way."""
    from tests.asgi import asgi_get

    async def page(request: Request) -> Response:
        if sdk_set_up_here:
            monkeypatch.setattr(trace, "get_tracer_provider", lambda: otel.tracer_provider)
            telemetry._recheck = 0.0  # a second later: looked at again when asked
        return HTMLResponse(PAGE)

    decider = StaticDecider({"hero": [HERO]})
    client = TargetClient("acme", "O@AdobeOrg", decisioning="on-device", decider=decider, on_notifications=_drop)
    stats = TargetStats()
    middleware = TargetMiddleware(
        Starlette(routes=[Route("/p", page)]), client=client, rules=[MboxRule("/p", mboxes=["hero"])], stats=stats
    )
    telemetry = middleware.telemetry
    assert telemetry is not None
    assert not telemetry.active  # no provider given, the API's own proxies: quiet
    recorded: list[str] = []
    for name in ("count", "decision_started", "decision_ended", "apply_started", "apply_ended"):
        original = getattr(telemetry, name)
        monkeypatch.setattr(
            telemetry,
            name,
            lambda *a, _name=name, _original=original, **k: (recorded.append(_name), _original(*a, **k))[1],
        )

    sdk_set_up_here = True
    assert b"Winter sale" in (await asgi_get(middleware, "/p"))[-1]["body"]
    assert recorded == []
    assert telemetry.active  # asked now: on
    sdk_set_up_here = False
    assert b"Winter sale" in (await asgi_get(middleware, "/p"))[-1]["body"]
    assert recorded == ["decision_started", "count", "decision_ended", "apply_started", "count", "apply_ended"]
    assert (stats["decided"], stats["applied"]) == (2, 2)
