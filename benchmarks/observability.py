"""What observability costs a decided page, in process (no server, no network), and what a pool per loop costs.

    python benchmarks/observability.py [--calls N] [--rounds R]

One ASGI call of a route with a rule: an on-device decision (a static decider, in process), one action applied
to a small page, headers fixed. The same middleware is timed (CPU time: nothing here waits, and the machine's
other load stays out), rounds interleaved, medians of µs per call:

- OpenTelemetry not installed: the middleware's telemetry is None, as ``telemetry_for`` makes it then;
- the API installed with no SDK (the default no-op providers: a library's cost in an app that exports nothing);
- the SDK recording: a TracerProvider with a span processor and a MeterProvider with a reader, both in memory;

and ``TargetClient``'s pool look-up (one per Delivery call) beside reading a plain attribute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from target_middleware import MboxRule, TargetClient, TargetMiddleware  # noqa: E402
from target_middleware.telemetry import Telemetry  # noqa: E402
from target_middleware.testing import actions_option, static_client  # noqa: E402

PAGE = b"<!DOCTYPE html><html><head><title>Shop</title></head><body>" + b"<p>item</p>" * 10 + b"</body></html>"
HERO = actions_option({"type": "setHtml", "selector": "BODY > P:eq(3)", "content": "Winter sale"})


async def app(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(PAGE)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


def middleware(mode: str) -> TargetMiddleware:
    options: dict[str, Any] = {}
    if mode == "sdk":
        tracer_provider = TracerProvider()
        spans = InMemorySpanExporter()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        options = {"tracer_provider": tracer_provider, "meter_provider": MeterProvider([InMemoryMetricReader()])}
        options["_spans"] = spans
    spans = options.pop("_spans", None)
    wrapped = TargetMiddleware(
        app, client=static_client({"hero": [HERO]}), rules=[MboxRule("/", mboxes=["hero"])], **options
    )
    if mode == "none":  # what the middleware holds when opentelemetry-api is not installed
        wrapped.telemetry = wrapped.outcomes.telemetry = None
    wrapped._spans = spans  # type: ignore[attr-defined]
    return wrapped


async def per_call(target: TargetMiddleware, calls: int) -> float:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"", "headers": []}
    start = time.process_time()
    for _ in range(calls):
        await target(dict(scope), receive, send)
    elapsed = (time.process_time() - start) / calls * 1e6
    assert b"Winter sale" in sent[-1]["body"]
    sent.clear()
    if target._spans is not None:  # type: ignore[attr-defined]
        target._spans.clear()  # type: ignore[attr-defined]
    return elapsed


async def telemetry_calls(telemetry: Telemetry, calls: int) -> float:
    """µs per page of exactly the telemetry calls one decided, applied page makes (nothing else)."""

    async def decided() -> None:
        return None

    start = time.process_time()
    for _ in range(calls):
        span = telemetry.decision_started("/", 1, "on-device")
        async with telemetry.current(span):
            await decided()
        telemetry.decision_ended(span, route="/", method="on-device", outcome="decided", error=None, duration=1e-4)
        telemetry.count("decided", "/")
        applying = telemetry.apply_started("/", len(PAGE))
        telemetry.apply_ended(applying, route="/", size=len(PAGE), outcome="applied")
        telemetry.count("applied", "/")
    return (time.process_time() - start) / calls * 1e6


async def pool_lookup(calls: int) -> tuple[float, float]:
    client = TargetClient("acme", "O@AdobeOrg")
    client._client()  # the pool exists: what every later call pays

    class Plain:
        http = client._client()

    plain = Plain()
    start = time.process_time()
    for _ in range(calls):
        plain.http  # noqa: B018
    attribute = (time.process_time() - start) / calls * 1e9
    start = time.process_time()
    for _ in range(calls):
        client._client()
    ours = (time.process_time() - start) / calls * 1e9
    await client.aclose()
    return attribute, ours


async def run(calls: int, rounds: int) -> None:
    modes = {"none": "OpenTelemetry not installed", "api": "API, no SDK (no-op)", "sdk": "SDK recording, in memory"}
    targets = {mode: middleware(mode) for mode in modes}
    for target in targets.values():
        await per_call(target, 50)  # warm up: caches, first imports
    figures: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode, target in targets.items():
            figures[mode].append(await per_call(target, calls))
    base = statistics.median(figures["none"])
    print(f"{'a decided page, in process':<32} {'µs/call':>9} {'added':>9} {'× none':>7}")
    for mode, label in modes.items():
        value = statistics.median(figures[mode])
        print(f"{label:<32} {value:>9.1f} {value - base:>+9.1f} {value / base:>7.3f}")
    api, sdk = middleware("api").telemetry, middleware("sdk").telemetry
    assert api is not None
    assert sdk is not None
    alone = {"api": [], "sdk": []}  # type: dict[str, list[float]]
    for _ in range(rounds):
        alone["api"].append(await telemetry_calls(api, calls * 5))
        alone["sdk"].append(await telemetry_calls(sdk, calls * 5))
    print(
        f"\nthe telemetry calls of one page alone: not installed 0 (never called), "
        f"API no-op {statistics.median(alone['api']):.1f} µs, SDK {statistics.median(alone['sdk']):.1f} µs"
    )
    lookups = [await pool_lookup(calls * 20) for _ in range(rounds)]
    attribute = statistics.median(a for a, _ in lookups)
    ours = statistics.median(o for _, o in lookups)
    print(f"\npool look-up per Delivery call: {ours:.0f} ns (a plain attribute: {attribute:.0f} ns)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.rounds))


if __name__ == "__main__":
    main()
