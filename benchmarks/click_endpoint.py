"""Server CPU per click beacon: the middleware's click path against a bare Starlette 204 route, in one run.

    python benchmarks/click_endpoint.py [--calls N] [--rounds R]

Each case is an in-process ASGI call (no sockets: what the server's own CPU spends on a beacon): the same POST
with the same headers and body to (a) a Starlette app whose route answers 204 and nothing else, and (b) the
middleware's click path, which checks the origin and content type, parses the body, verifies one HMAC per token
against the visitor of the cookie, answers 204, and queues the click. The queue's batching and hand-over (to a
discarding ``on_notifications``, so no network is measured) is flushed inside the timed region, so its cost is
counted too. Also: a beacon with 5 tokens, and a forged one (refused 403). Medians of the rounds; CPU time is
``time.process_time``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from target_middleware import TargetClient, TargetMiddleware
from target_middleware.testing import StaticDecider
from target_middleware.tracking import binding
from target_middleware.visitor import Visitor

KEY = b"benchmark-signing-key-0123456789"
TOKEN = "QPaLjCeI9qKCBUylkRQKBg=={i}ZWDSZV+RrWdDyoAgU0HEV3+PsPo8xmpcsH6dTxYhK6Y7LvxPQ=="


def beacon(mw: TargetMiddleware, visitor: Visitor, tokens: int, *, forged: bool = False) -> bytes:
    expires = int(time.time()) + 3600
    clicks = []
    for i in range(tokens):
        token = TOKEN.format(i=i)
        signature = mw.tracking.signer.sign(token, "target-global-mbox", binding(visitor), expires)
        clicks.append({"token": token, "mbox": "target-global-mbox", "signature": "A" * 22 if forged else signature})
    return json.dumps({"expires": expires, "url": "https://shop.example/p/tent-2p", "clicks": clicks}).encode()


def scope_for(visitor: Visitor, body: bytes) -> dict[str, Any]:
    cookie = visitor.mbox_cookie()
    headers = {
        "host": "shop.example",
        "origin": "https://shop.example",
        "content-type": "application/json",
        "content-length": str(len(body)),
        "sec-fetch-site": "same-origin",
        "referer": "https://shop.example/p/tent-2p",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
        "cookie": f"{cookie.name}={cookie.value}; _ga=GA1.2.1234567890.1700000000",
    }
    return {
        "type": "http",
        "method": "POST",
        "path": "/_target/click",
        "raw_path": b"/_target/click",
        "query_string": b"",
        "root_path": "",
        "scheme": "https",
        "http_version": "1.1",
        "server": ("shop.example", 443),
        "client": ("203.0.113.9", 50000),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


async def per_call(app: Any, scope: dict[str, Any], body: bytes, calls: int, flush: Any) -> tuple[float, float, int]:
    """(µs of CPU, µs of wall time) per call, and the status of the last answer."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await app(dict(scope), receive, send)
    await flush()
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6, status


async def run(calls: int, rounds: int) -> None:
    async def no_content(request: Any) -> Response:
        return Response(status_code=204)

    async def nothing() -> None:
        return None

    bare = Starlette(routes=[Route("/_target/click", no_content, methods=["POST"])])
    client = TargetClient(
        "bench",
        "B@AdobeOrg",
        decisioning="on-device",
        decider=StaticDecider({}),
        on_notifications=lambda notes: None,
        max_pending_notifications=calls * 2,
    )
    mw = TargetMiddleware(Starlette(), client=client, rules=[], signing_key=KEY)
    visitor = Visitor(session_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0", tnt_id="6b1c8f3a2e5d4c7b9a0f1e2d3c4b5a69.35_0")
    one, five, forged = beacon(mw, visitor, 1), beacon(mw, visitor, 5), beacon(mw, visitor, 1, forged=True)
    cases = [
        ("bare Starlette 204 route", bare, one, nothing),
        ("click path, 1 token", mw, one, client.notifications.flush),
        ("click path, 5 tokens", mw, five, client.notifications.flush),
        ("click path, forged (403)", mw, forged, client.notifications.flush),
    ]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in cases}
    statuses: dict[str, int] = {}
    for _ in range(rounds):
        for name, app, body, flush in cases:
            cpu, wall, statuses[name] = await per_call(app, scope_for(visitor, body), body, calls, flush)
            results[name].append((cpu, wall))
    base = statistics.median(c for c, _ in results[cases[0][0]])
    print(f"{calls} calls x {rounds} rounds, medians; CPU is process time per beacon\n")
    print(f"{'case':<28} {'status':>6} {'CPU us':>9} {'x bare':>7} {'wall us':>9}")
    for name, *_ in cases:
        cpu = statistics.median(c for c, _ in results[name])
        wall = statistics.median(w for _, w in results[name])
        print(f"{name:<28} {statuses[name]:>6} {cpu:9.1f} {cpu / base:6.2f}x {wall:9.1f}")
    print(f"\nqueued clicks sent (to the discarding callback): {client.notifications.counts['sent']}")
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    asyncio.run(run(args.calls, args.rounds))


if __name__ == "__main__":
    main()
