"""What one warm, personalized request costs in process: the whole ASGI stack, no server, counted in instructions.

    python benchmarks/hit_path.py [--requests N] [--profile] [--modes bare,on-device] [--gc] [--native]

The app and the load of benchmarks/rewrite_cache.py (bench_app.py: the 100 KB page, Target's on-device engine over
abtest.py's A/B activity, 1000 returning visitors in turn, each its own mbox cookie and signed click tokens; the
rewrite cache warm), each request awaited through Starlette and the middleware with the event loop run between
requests, as a server runs it. Under valgrind (cachegrind), two runs per mode, warmed alike, one serving N more
requests: the difference over N is the instructions per request, the same on a quiet machine and a loaded one.
``--profile`` prints instead a cProfile of the middleware mode (shares only: the profiler's own cost inflates calls).
``--gc`` serves each mode natively (no valgrind) and prints, per 1000 requests, the cycle collector's collections of
each generation, the microseconds it spent (timed by ``gc.callbacks``) and the objects it found unreachable (0: no
request leaves a reference cycle): what objects that outlive a request (queued notifications) cost the collector.
``--native`` serves each mode natively in a process of its own and prints the thread's CPU time per request,
median of seven rounds of N (time, not instructions: noisy on a shared machine, quote it with its rounds).

The served goal (issue 14: at least 0.7x the bare app's throughput) leaves the middleware about 0.43 of what a bare
request costs through uvicorn (1,076 K instructions there for Chromium's request, 858 K for the three-header one
used until 2026-11-30), about 460 K instructions all told; this counts the in-process part (uvicorn adds ~90-100 K
for the longer response: five more headers).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cachegrind

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VISITORS = 1000
WARM = 300
sys.path[:0] = [str(ROOT), str(HERE)]

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/page",
    "raw_path": b"/page",
    "query_string": b"",
    "root_path": "",
    "client": ("127.0.0.1", 5555),
    "server": ("127.0.0.1", 80),
}


def visitor_heads() -> list[list[tuple[bytes, bytes]]]:
    """The ASGI headers of the load's requests: one returning visitor each (its mbox cookie, a browser's headers)."""
    import abtest
    from middleware import requests_for

    heads = []
    for raw in requests_for("/page", abtest.visitor_cookies(VISITORS)):
        lines = raw.decode("latin-1").split("\r\n")[1:]
        pairs = [line.split(": ", 1) for line in lines if line]
        heads.append([(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs])
    return heads


class Cycle:
    """One request as a server holds it: its scope, and ``send``/``receive`` bound methods of this object (as
    uvicorn's RequestResponseCycle's are), so what keeps the server's ``send`` past the request keeps the scope and
    its state too: a reference cycle shows here as through a real server, in the collector's work."""

    __slots__ = ("scope",)

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: Any) -> None:
        return None


def one_request(app: Any) -> Callable[[], Awaitable[None]]:
    """One GET of /page through ``app`` for the next visitor in turn, then a turn of the event loop."""
    visitors = itertools.cycle(visitor_heads())

    async def one() -> None:
        cycle = Cycle({**SCOPE, "headers": next(visitors), "state": {}})
        await app(cycle.scope, cycle.receive, cycle.send)
        await asyncio.sleep(0)  # what the request scheduled (its notifications) runs, as between a server's requests

    return one


async def drive(
    one: Callable[[], Awaitable[Any]], requests: int, *, profile: bool = False, rows: int = 60, warm: int = WARM
) -> None:
    """``warm`` calls of ``one``, then ``requests`` more, under cProfile when asked (its top ``rows`` printed)."""
    for _ in range(warm):
        await one()
    if not profile:
        for _ in range(requests):
            await one()
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await one()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(rows)


def serve(mode: str, requests: int, *, profile: bool = False) -> None:
    """Serve WARM requests, then ``requests`` more (profiled when asked), in this process."""
    os.environ["BENCH_MODE"] = mode
    import bench_app

    asyncio.run(drive(one_request(bench_app.app), requests, profile=profile))


class Collector:
    """What the cycle collector does while it is watched (``gc.callbacks``): collections and the nanoseconds spent
    in them per generation (this thread's CPU time: a loaded machine's other work is not counted), and the objects
    found unreachable."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.spent = [0, 0, 0]
        self.found = 0
        self._started = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time_ns()
            return
        generation = info["generation"]
        self.runs[generation] += 1
        self.spent[generation] += time.thread_time_ns() - self._started
        self.found += info["collected"] + info["uncollectable"]

    def report(self, mode: str, requests: int) -> str:
        per = 1000 / requests
        runs = "/".join(f"{count * per:.1f}" for count in self.runs)
        spent = "/".join(f"{ns / 1000 / requests:.2f}" for ns in self.spent)
        total = sum(self.spent) / 1000 / requests
        return f"{mode:<22} {runs:>18} {total:8.2f} us {spent:>18} {self.found * per:8.1f}"


def collector(mode: str, requests: int) -> str:
    """Serve WARM requests, then ``requests`` more natively with the collector watched: its line of the report."""
    os.environ["BENCH_MODE"] = mode
    import bench_app

    watch = Collector()
    one = one_request(bench_app.app)

    async def run() -> None:
        await drive(one, 0)
        gc.collect()  # the warm-up's garbage: not the count's
        gc.callbacks.append(watch)
        try:
            await drive(one, requests, warm=0)
        finally:
            gc.callbacks.remove(watch)

    asyncio.run(run())
    return watch.report(mode, requests)


def native(mode: str, requests: int, rounds: int = 7) -> str:
    """Serve WARM requests, then ``rounds`` of ``requests`` natively: this thread's CPU µs per request per round."""
    os.environ["BENCH_MODE"] = mode
    import bench_app

    one = one_request(bench_app.app)
    spent: list[float] = []

    async def run() -> None:
        await drive(one, 0)
        for _ in range(rounds):
            started = time.thread_time_ns()
            await drive(one, requests, warm=0)
            spent.append((time.thread_time_ns() - started) / requests / 1000)

    asyncio.run(run())
    return " ".join(f"{us:.1f}" for us in spent)


def instructions(mode: str, requests: int) -> float:
    return cachegrind.per_call(lambda n: [sys.executable, __file__, "--serve", mode, "--requests", str(n)], requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--modes", default="bare,on-device")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--gc", action="store_true", help="the cycle collector's work per 1000 requests, natively")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--collector", help=argparse.SUPPRESS)
    parser.add_argument("--native", action="store_true", help="CPU time per request, natively")
    parser.add_argument("--native-mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.requests)
        return
    if args.collector:
        print(collector(args.collector, args.requests))
        return
    if args.native_mode:
        print(native(args.native_mode, args.requests))
        return
    if args.native:  # each mode in a process of its own
        print(
            f"in process, natively: this thread's CPU per request, 7 rounds of {args.requests}: the median, each round"
        )
        medians: dict[str, float] = {}
        for mode in args.modes.split(","):
            command = [sys.executable, __file__, "--native-mode", mode, "--requests", str(args.requests)]
            rounds = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
            medians[mode] = statistics.median(map(float, rounds))
            added = "" if mode == "bare" or "bare" not in medians else f"  adds {medians[mode] - medians['bare']:6.1f}"
            print(f"{mode:<22} {medians[mode]:7.1f} us{added}   rounds: {' '.join(rounds)}")
        return
    if args.gc:  # each mode in a process of its own, as under valgrind
        print(f"the cycle collector per 1000 requests, over {args.requests}, natively")
        print(f"{'mode':<22} {'collections 0/1/2':>18} {'us/request':>11} {'us in 0/1/2':>18} {'found':>8}")
        for mode in args.modes.split(","):
            command = [sys.executable, __file__, "--collector", mode, "--requests", str(args.requests)]
            sys.stdout.write(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        return
    if args.profile:
        serve("on-device", args.requests, profile=True)
        return
    modes = args.modes.split(",")
    counts = {mode: instructions(mode, args.requests) for mode in modes}
    print(f"in process, one whole request through the ASGI stack, instructions per request over {args.requests}")
    bare = counts.get("bare")
    for mode, count in counts.items():
        added = "" if bare is None or mode == "bare" else f"  middleware adds {count - bare:12,.0f}"
        print(f"{mode:<22} {count:12,.0f}{added}")


if __name__ == "__main__":
    main()
