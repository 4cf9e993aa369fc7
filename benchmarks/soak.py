"""A bounded soak: the middleware under uvicorn on 127.0.0.1, mixed routes and visitors, a flaky edge.

    python benchmarks/soak.py                       # 3 minutes at 150 requests/s
    python benchmarks/soak.py --seconds 20 --rate 40 --json   # the CI mode (tests/robustness/test_soak.py)

The server (app + middleware + flaky edge) runs in a child process, so its resident memory is measured alone;
this process sends the traffic, only to 127.0.0.1, and stops by itself. Every visitor after the warm-up is new
(fresh cookies), so memory kept per visitor or per request would show as growth between the samples.
Errors that are ours: a status other than the route's own, a short body, or a connection failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ROUTES = {"/": 200, "/products/42": 200, "/about": 200, "/api": 200, "/missing": 404}
WEIGHTS = [5, 3, 1, 1, 1]


def serve() -> None:
    """Child process: a flaky edge and the app, on 127.0.0.1; prints the app's port, runs until stdin closes."""
    sys.path.insert(0, str(ROOT))
    import logging
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
    from tests.robustness.faultedge import fault_edge

    logging.getLogger("target_middleware").addHandler(logging.NullHandler())  # counted in /__stats instead
    page = "<!DOCTYPE html><html><head><title>t</title></head><body><h1 id='hero'>Welcome</h1>{}</body></html>"
    filler = "<p>" + "lorem ipsum dolor " * 300 + "</p>"
    stats = TargetStats()

    async def html(request: Request) -> Response:
        return HTMLResponse(page.format(filler))

    async def api(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stats_route(request: Request) -> Response:
        return JSONResponse(dict(stats))

    with fault_edge() as edge:
        flaky = ["good"] * 16 + ["500", "no-answer", "truncated-json", "reset-mid-body"]
        edge.scenario = "good"

        def chaos() -> None:  # a different fault every 50 ms
            while True:
                edge.scenario = random.choice(flaky)
                edge.requests.clear()
                time.sleep(0.05)

        threading.Thread(target=chaos, daemon=True).start()
        client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=0.2)
        app = Starlette(
            routes=[
                Route("/", html),
                Route("/products/{sku}", html),
                Route("/about", html),
                Route("/api", api),
                Route("/__stats", stats_route),
            ]
        )
        rules = [
            MboxRule("/", mboxes=["hero"]),
            MboxRule("/products/{sku}", mboxes=["hero", "pdp"]),
            MboxRule("/api", mboxes=["hero"]),
        ]
        app.add_middleware(
            TargetMiddleware,
            client=client,
            rules=rules,
            timeout=0.2,
            stats=stats,
            breaker_failures=20,
            breaker_cooldown=1.0,
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="on", ws="none")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        server.should_exit = True
        thread.join(timeout=10)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def drive(base: str, pid: int, seconds: float, rate: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    personalized = 0
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    deadline = started + seconds
    warmup = started + min(5.0, seconds / 4)
    rng = random.Random(7)
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=concurrency)) as http:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            nonlocal personalized
            path = rng.choices(list(ROUTES), WEIGHTS)[0]
            later = int(time.time()) + 900
            cookie = f"mbox=session%23soak{n}%23{later}%7CPC%23v{n}.35_0%23{later}" if n % 3 else ""
            async with semaphore:
                t0 = time.perf_counter()
                try:
                    response = await http.get(base + path, headers={"cookie": cookie} if cookie else {})
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    return
                latencies.append(time.perf_counter() - t0)
            if response.status_code != ROUTES[path]:
                errors[f"status {response.status_code}"] = errors.get(f"status {response.status_code}", 0) + 1
            elif int(response.headers.get("content-length", -1)) != len(response.content):
                errors["length"] = errors.get("length", 0) + 1
            elif b"Edge offer for" in response.content:
                personalized += 1

        tasks: set[asyncio.Task[None]] = set()
        n = 0
        next_sample = warmup
        while time.monotonic() < deadline:
            n += 1
            task = asyncio.create_task(one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            now = time.monotonic()
            if now >= next_sample:
                samples.append((round(now - started, 1), rss_kib(pid)))
                next_sample = now + max(seconds / 10, 1.0)
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        samples.append((round(time.monotonic() - started, 1), rss_kib(pid)))
        server_stats = (await http.get(base + "/__stats")).json()
    latencies.sort()
    return {
        "seconds": seconds,
        "rate": rate,
        "requests": n,
        "served": len(latencies),
        "errors": errors,
        "personalized": personalized,
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "rss_kib": samples,
        "rss_start_kib": samples[0][1],
        "rss_end_kib": samples[-1][1],
        "middleware": server_stats,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--rate", type=float, default=150.0, help="requests per second")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return {}
    if not 0 < args.seconds <= 3600 or not 0 < args.rate <= 2000:
        parser.error("--seconds in (0, 3600], --rate in (0, 2000]")
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        report = asyncio.run(drive(f"http://127.0.0.1:{port}", child.pid, args.seconds, args.rate, args.concurrency))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if args.json:
        print(json.dumps(report))
    else:
        for key in (
            "requests",
            "served",
            "errors",
            "personalized",
            "p50_ms",
            "p99_ms",
            "rss_start_kib",
            "rss_end_kib",
            "rss_kib",
            "middleware",
        ):
            print(f"{key:>14}: {report[key]}")
    return report


if __name__ == "__main__":
    main()
