"""What one on-device decision's display notification costs the client, alone, counted in instructions.

    python benchmarks/notification_path.py [--requests N] [--profile]

The notification part of benchmarks/decision_path.py without the decision: what ``TargetClient`` does with what a
decision owes (``NotificationQueue.owe(...)``: the entry kept until the flush), then its share of the flush (every FLUSH
decisions, the batches handed to the client's send, here a callback that drops them, as decision_path's). The
decisions are those the engine makes for abtest.py's 1000 returning visitors (made before the count, one each, by
``get_offers``: their visitor, page context, display notification and telemetry). Under valgrind (cachegrind), two
runs warmed alike, one making N more: the difference over N is the instructions per decision. (No turn of the event
loop between decisions, as decision_path has: its cost is not the notification's. The queue's task, started by the
first put, sleeps through the count: its timer is decision_path's too, FLUSH is what sends.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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


def serve(requests: int, *, profile: bool = False) -> None:
    sys.path[:0] = [str(ROOT), str(HERE)]
    import abtest
    from decision_path import URL, _drop
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
    queue = client.notifications
    queue.interval = 1e6  # flushed here, every FLUSH decisions
    headers = dict(line.split(": ", 1) for line in BROWSER_HEADERS.split("\r\n") if line)
    headers = {name.lower(): value for name, value in headers.items()}
    owed: list[tuple[Any, ...]] = []

    async def decide_all() -> None:
        queue.owe = lambda *parts: owed.append(parts)  # type: ignore[method-assign]  # what each decision owes, kept
        for cookie in abtest.visitor_cookies(VISITORS):
            page = PageContext.from_headers(URL, headers, client_ip="127.0.0.1")
            offers = OffersRequest(mboxes=[Mbox(abtest.GLOBAL_MBOX, {})], page=page, read_only=True)
            await client.get_offers(offers, visitor=Visitor.from_cookies(cookie_parser(cookie)), timeout=0.15)
        del queue.owe

    asyncio.run(decide_all())
    assert len(owed) == VISITORS, "a decision per visitor"
    assert all(parts[0] == 1 and type(parts[1]) is tuple for parts in owed), "each decision owes a display"
    gc.freeze()  # the setup's objects: a full collection's cost (when one falls in the count) is not a decision's
    turns = itertools.cycle(owed)
    done = itertools.count(1)
    owe = queue.owe

    async def one() -> Any:
        owe(*next(turns))  # as get_offers queues it
        if next(done) % FLUSH == 0:
            await queue.flush()

    asyncio.run(drive(one, requests, profile=profile, rows=30, warm=WARM))


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
    figure = instructions(args.requests)
    print(f"a decision's notification, queued and flushed: {figure:,.0f} instructions per decision")


if __name__ == "__main__":
    main()
