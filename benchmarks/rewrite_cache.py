"""What a page personalized again for the same experience costs, with the rewrite cache and without it.

    python benchmarks/rewrite_cache.py [--rounds N] [--requests N] [--concurrency C] [--no-server]

In process, for the 100 KB shop page and 5 actions, beside a bs4 + html.parser parse-and-serialize of that page
(the baseline of benchmarks/apply_actions.py), medians: the page digests the key is built on; the rewrite
cache's lookup alone (RewriteCache.apply, a hit); everything the middleware does after the app on a hit
(Personalizer.personalize: plan, key, lookup, headers, cookies); the same with the cache off (a lexbor rewrite).
Then through uvicorn (as benchmarks/middleware.py: server on CPU 0, load on CPU 1): the bare app, the page
personalized on-device with the cache (warm) and without it. Ratios are against figures of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import xxhash  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from middleware import load, row, server  # noqa: E402
from pages import ACTIONS, shop_page  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402

from target_middleware import MboxRule, OffersRequest, PageContext, TargetStats, Visitor  # noqa: E402
from target_middleware.delivery.params import GLOBAL_MBOX, Mbox  # noqa: E402
from target_middleware.personalize import Personalizer  # noqa: E402
from target_middleware.rewritecache import RewriteCache  # noqa: E402
from target_middleware.testing import actions_option, static_client  # noqa: E402

PAGE = shop_page(100_000)
BODY = PAGE.encode()
OPTIONS: dict[str, Any] = {"engine": None, "nonce": None, "charset": "utf-8", "click_endpoint": None}


def median_us(run: Callable[[], object], rounds: int) -> float:
    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def amedian_us(run: Callable[[], Any], rounds: int) -> float:
    async def measure() -> float:
        await run()
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            await run()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6

    return asyncio.run(measure())


def personalizer(cache: int) -> Personalizer:
    return Personalizer(
        engine=None,
        offload_size=256 * 1024,
        cookie_domain=None,
        cookie_http_only=False,
        redirect_hosts=None,
        redirect_keep_query=False,
        click_endpoint=None,
        debug_header=False,
        global_mbox=GLOBAL_MBOX,
        rewrites=RewriteCache(cache, stats=TargetStats()),
    )


def in_process(rounds: int) -> dict[str, float]:
    client = static_client({"hero": [actions_option(*ACTIONS)]})
    rule = MboxRule("/", mboxes=["hero"])
    scope = {"type": "http", "method": "GET", "path": "/", "scheme": "http", "headers": [], "query_string": b""}
    offers = OffersRequest(mboxes=[Mbox("hero", {})], page=PageContext.from_headers("http://shop/", Headers()))
    result = asyncio.run(client.get_offers(offers, visitor=Visitor.from_cookies({}), timeout=1.0))
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(BODY)).encode())]

    # Pages equal to the cached one but other objects, as an app rendering the page per request hands them over.
    copies = itertools.cycle([bytes(bytearray(BODY)) for _ in range(8)])

    def personalize(target: Personalizer) -> Callable[[], Any]:
        def run() -> Any:
            start = {"type": "http.response.start", "status": 200, "headers": list(headers)}
            return target.personalize(scope, start, next(copies), result, rule, started=time.perf_counter())

        return run

    cached, uncached = personalizer(32 * 1024 * 1024), personalizer(0)
    cache = RewriteCache(32 * 1024 * 1024)
    copy = bytes(bytearray(BODY))
    figures = {
        "bs4 parse + serialize (baseline)": median_us(
            lambda: BeautifulSoup(PAGE, "html.parser").decode(), max(3, rounds // 100)
        ),
        "cache off: personalize (lexbor rewrite)": amedian_us(personalize(uncached), max(5, rounds // 10)),
        "cache on, hit: personalize": amedian_us(personalize(cached), rounds),
        "cache on, hit: RewriteCache.apply": amedian_us(
            lambda: cache.apply(copy, ACTIONS, OPTIONS, offload=False), rounds
        ),
        "  of which xxh3-128 of the page": median_us(lambda: xxhash.xxh3_128_digest(BODY), rounds),
        "  (sha256 of the page, for contrast)": median_us(lambda: hashlib.sha256(BODY).digest(), rounds),
        "  (blake2b-128 of the page, for contrast)": median_us(
            lambda: hashlib.blake2b(BODY, digest_size=16).digest(), rounds
        ),
        "  of which comparing the page to the entry's": median_us(lambda: copy == BODY, rounds),
    }
    assert cached.rewrites.stats["rewrite-cache-hit"] >= rounds, "the cached figure must come from hits"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-server", action="store_true", help="the in-process figures only")
    args = parser.parse_args()
    figures = in_process(args.rounds)
    base = figures["bs4 parse + serialize (baseline)"]
    print(f"in process, 100 KB page, {len(ACTIONS)} actions, medians")
    print(f"{'':<46} {'us':>10} {'/ baseline':>11}")
    for label, us in figures.items():
        print(f"{label:<46} {us:10.1f} {'1/' + format(base / us, '.0f'):>11}")
    if args.no_server:
        return
    n, c = args.requests, args.concurrency
    print(f"\nthrough uvicorn, {n} requests, {c} at a time, warm (the load warms up first)")
    print(f"{'case':<44} {'req/s':>9} {'x bare':>7} {'p50 ms':>9} {'+p50 ms':>8} {'p99 ms':>9}")
    with server("bare") as port:
        bare = load(port, "/page", n, c)
    with server("on-device") as port:
        cached = load(port, "/page", n, c)
    with server("on-device-no-cache") as port:
        uncached = load(port, "/page", n, c)
    row("bare app, 100 KB page", bare, None)
    row("on-device decision, 5 actions, cache on", cached, bare)
    row("on-device decision, 5 actions, cache off", uncached, bare)


if __name__ == "__main__":
    main()
