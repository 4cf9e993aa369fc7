"""What one warm on-device ``TargetClient.get_offers`` costs, alone, counted in instructions.

    python benchmarks/decision_path.py [--requests N] [--profile]

The decision of benchmarks/hit_path.py without the rest of the request: Target's on-device engine over abtest.py's
A/B activity (one VEC A/B on the global mbox, two experiences of five actions, a click metric, response tokens),
1000 returning visitors in turn, each with the page context and offers request the middleware builds for it (built
before the count: they are the middleware's part). Each call is awaited with the event loop run after it, as a
server runs it; the notification queue is flushed every FLUSH calls (not by its timer, whose batches would depend on
how fast valgrind runs), to a callback that drops them. Under valgrind (cachegrind), two runs warmed alike, one
making N more calls: the difference over N is the instructions per call.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
from pathlib import Path
from typing import Any

import cachegrind

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VISITORS = 1000
WARM = 300
FLUSH = 50
URL = "http://127.0.0.1/page"


def _drop(notifications: object) -> None:
    """No Target account behind the benchmark: the display notifications go nowhere."""


def serve(requests: int, *, profile: bool = False) -> None:
    sys.path[:0] = [str(ROOT), str(HERE)]
    import abtest
    from hit_path import drive
    from middleware import BROWSER_HEADERS
    from starlette.requests import cookie_parser

    from target_middleware import TargetClient
    from target_middleware.delivery.context import PageContext
    from target_middleware.delivery.offers import OffersRequest
    from target_middleware.delivery.params import Mbox
    from target_middleware.visitor import Visitor

    client = TargetClient(
        "bench", "B@AdobeOrg", decisioning="on-device", artifact=abtest.artifact(), on_notifications=_drop
    )
    headers = dict(line.split(": ", 1) for line in BROWSER_HEADERS.split("\r\n") if line)
    headers = {name.lower(): value for name, value in headers.items()}
    calls = []
    for cookie in abtest.visitor_cookies(VISITORS):
        page = PageContext.from_headers(URL, headers, client_ip="127.0.0.1")
        # read-only, as the middleware asks
        offers = OffersRequest(mboxes=[Mbox(abtest.GLOBAL_MBOX, {})], page=page, read_only=True)
        visitor = Visitor.from_cookies(cookie_parser(cookie))
        assert visitor.tnt_id, "a returning visitor"
        calls.append((offers, visitor))
    turns = itertools.cycle(calls)
    client.notifications.interval = 1e6  # flushed here, every FLUSH calls
    done = itertools.count(1)

    async def one() -> Any:
        offers, visitor = next(turns)
        result = await client.get_offers(offers, visitor=visitor, timeout=0.15)
        await asyncio.sleep(0)  # as between a server's requests
        if next(done) % FLUSH == 0:
            await client.notifications.flush()
        return result

    async def run() -> None:
        for _ in range(WARM):
            assert (await one()).page_load is not None, "the activity answers the page"
        await drive(one, requests, profile=profile, rows=45, warm=0)

    asyncio.run(run())


def instructions(requests: int) -> float:
    return cachegrind.per_call(lambda n: [sys.executable, __file__, "--serve", "--requests", str(n)], requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve or args.profile:
        serve(args.requests, profile=args.profile)
        return
    print(f"get_offers, warm, on-device A/B: {instructions(args.requests):,.0f} instructions per call")


if __name__ == "__main__":
    main()
