"""What a page personalized again for the same experience costs, with the rewrite cache and without it.

    python benchmarks/rewrite_cache.py [--rounds N] [--requests N] [--concurrency C] [--no-server] [--instructions N]
                                       [--stack h11|standard]

In process, for the 100 KB shop page and 5 actions, beside a bs4 + html.parser parse-and-serialize of that page
(the baseline of benchmarks/apply_actions.py), medians: the page digests the key is built on; the rewrite
cache's lookup alone (RewriteCache.apply, a hit); everything the middleware does after the app on a hit
(Personalizer.personalize: plan, key, lookup, headers, cookies); the same with the cache off (a lexbor rewrite).
Then through uvicorn (as benchmarks/middleware.py: server on CPU 0, load on CPU 1): the bare app, the page
personalized with the cache (warm) and without it. Personalized means what a site running an A/B test serves:
Target's on-device engine decides each request over the activity of abtest.py (two experiences, 50/50 by visitor
id), for 1000 returning visitors in turn (each its own mbox cookie, so half get each experience), and each page
carries the visitor's own mbox cookie and signed click tokens (checked before the load). The bare app gets the same
requests. Ratios are against figures of the same run. ``--instructions N`` also counts the instructions the server
executes per request under valgrind (slow, but the one figure a machine shared with others does not move).
``--stack`` names uvicorn's HTTP parser and loop (middleware.STACKS: ``h11``, the default, or ``standard``).
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

import abtest  # noqa: E402
import xxhash  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from hit_path import one_request  # noqa: E402
from middleware import STACKS, load  # noqa: E402
from pages import ACTIONS, shop_page  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402
from timing import median_seconds  # noqa: E402

from target_middleware import MboxRule, OffersRequest, PageContext, TargetClient, TargetStats, Visitor  # noqa: E402
from target_middleware.delivery.params import GLOBAL_MBOX, Mbox  # noqa: E402
from target_middleware.personalize import Personalizer  # noqa: E402
from target_middleware.rewritecache import RewriteCache  # noqa: E402
from target_middleware.testing import actions_option, static_client  # noqa: E402

PAGE = shop_page(100_000)
BODY = PAGE.encode()
VISITORS = 1000  # returning visitors the load cycles through, half of them in each experience
OPTIONS: dict[str, Any] = {"engine": None, "nonce": None, "charset": "utf-8", "click_endpoint": None}


def median_us(run: Callable[[], object], rounds: int) -> float:
    return median_seconds(run, rounds) * 1e6


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


def whole_request(rounds: int) -> dict[str, float]:
    """In process, no server: µs per request of the bench app (bare, and under the middleware with and without
    the cache), and of the on-device decision alone: where a personalized request's time goes."""
    import os

    def app_for(mode: str) -> Any:
        os.environ["BENCH_MODE"] = mode
        sys.modules.pop("bench_app", None)
        import bench_app

        return bench_app.app

    client = TargetClient("bench", "B@AdobeOrg", decisioning="on-device", artifact=abtest.artifact())
    offers = OffersRequest(
        mboxes=[Mbox(abtest.GLOBAL_MBOX, {})], page=PageContext.from_headers("http://shop/page", Headers())
    )
    cookies = itertools.cycle(abtest.visitor_cookies(VISITORS))

    def decide() -> Any:
        visitor = Visitor.from_cookies(dict([next(cookies).split("=", 1)]))
        return client.get_offers(offers, visitor=visitor, timeout=1.0)

    bare, cached, uncached = app_for("bare"), app_for("on-device"), app_for("on-device-no-cache")
    return {
        "bare app": amedian_us(one_request(bare), rounds),
        "under the middleware, cache on (hit)": amedian_us(one_request(cached), rounds),
        "under the middleware, cache off": amedian_us(one_request(uncached), max(5, rounds // 20)),
        "  the on-device decision alone (get_offers)": amedian_us(decide, rounds),
    }


def serve_and_load(
    mode: str, requests: int, concurrency: int, stack: str = "h11"
) -> tuple[tuple[float, float, float], float]:
    """(req/s, p50, p99) and the server's CPU seconds per request, from /proc (robust on a busy machine), on
    ``stack`` (middleware.STACKS)."""
    import os
    import shutil
    import subprocess

    from middleware import uvicorn_command
    from ports import free_port, wait_for_port

    port = free_port()
    command = uvicorn_command(port, stack)
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    env = {**os.environ, "BENCH_MODE": mode, "PYTHONPATH": f"{HERE.parent}:{HERE}"}
    process = subprocess.Popen(command, cwd=HERE, env=env)

    def cpu() -> float:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    cookies = abtest.visitor_cookies(VISITORS)
    try:
        wait_for_port(port, f"server {mode}")
        if mode != "bare":
            check_experiences(port, cookies)
        load(port, "/page", 200, concurrency, cookies)  # warm: the cache holds the pages from here on
        before = cpu()
        figures = load(port, "/page", requests, concurrency, cookies)
        return figures, (cpu() - before) / requests
    finally:
        process.terminate()
        process.wait(timeout=10)


def instructions(mode: str, requests: int, concurrency: int, stack: str = "h11") -> float:
    """Instructions the server executes per request (valgrind's cachegrind): two runs, each warmed up alike, one
    serving ``requests`` more; the difference over ``requests``. The same on a quiet machine and a loaded one.
    ``stack``: uvicorn's parser and loop (middleware.STACKS)."""
    import os
    import signal
    import subprocess
    import tempfile

    from middleware import uvicorn_command
    from ports import free_port, wait_for_port

    def total(count: int) -> int:
        port = free_port()
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "cachegrind.out"
            command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}"]
            command += uvicorn_command(port, stack)
            env = {**os.environ, "BENCH_MODE": mode, "PYTHONPATH": f"{HERE.parent}:{HERE}"}
            process = subprocess.Popen(command, cwd=HERE, env=env, stderr=subprocess.DEVNULL)
            try:
                wait_for_port(port, f"server {mode} under valgrind", timeout=300)
                cookies = abtest.visitor_cookies(VISITORS)
                load(port, "/page", 200, concurrency, cookies)
                if count:
                    load(port, "/page", count, concurrency, cookies)
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=300)
            summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
            return int(summary.split()[1])

    served = requests // concurrency * concurrency
    return (total(served) - total(0)) / served


def check_experiences(port: int, cookies: list[str]) -> None:
    """The load is what it claims: each visitor's page is decided for it (both experiences among the first
    visitors, the same one again for the same visitor), and carries that visitor's own mbox cookie."""
    import http.client

    def get(cookie: str) -> tuple[bytes, str]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/page", headers={"Cookie": cookie})
        response = connection.getresponse()
        body, set_cookie = response.read(), response.getheader("set-cookie") or ""
        connection.close()
        return body, set_cookie

    seen = set()
    for cookie in cookies[:20]:
        body, set_cookie = get(cookie)
        tnt_id = cookie.split("%7CPC%23", 1)[1].split("%23", 1)[0]
        assert tnt_id in set_cookie, "the visitor's own id goes back in its mbox cookie"
        assert b'data-target-middleware="click-signatures"' in body, "its own signed click tokens"
        winter = b"Winter sale" in body
        assert winter != (b"Free shipping on every order" in body), "one experience or the other"
        assert (b"Winter sale" in get(cookie)[0]) == winter, "a visitor keeps its experience"
        seen.add(winter)
    assert len(seen) == 2, "both experiences among 20 visitors: the page depends on the visitor"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-server", action="store_true", help="the in-process figures only")
    parser.add_argument(
        "--instructions", type=int, default=0, metavar="N", help="also count the server's instructions over N requests"
    )
    parser.add_argument("--stack", default="h11", choices=sorted(STACKS), help="uvicorn's parser and loop")
    args = parser.parse_args()
    figures = in_process(args.rounds)
    base = figures["bs4 parse + serialize (baseline)"]
    print(f"in process, 100 KB page, {len(ACTIONS)} actions, medians")
    print(f"{'':<46} {'us':>10} {'/ baseline':>11}")
    for label, us in figures.items():
        print(f"{label:<46} {us:10.1f} {'1/' + format(base / us, '.0f'):>11}")
    print("\nin process, one whole request through the ASGI stack (no server), medians")
    for label, us in whole_request(args.rounds).items():
        print(f"{label:<46} {us:10.1f}")
    if args.no_server:
        return
    n, c = args.requests, args.concurrency
    print(f"\nthrough uvicorn ({args.stack}), {n} requests, {c} at a time, warm; server CPU per request from /proc")
    header = f"{'case':<44} {'req/s':>9} {'x bare':>7} {'p50 ms':>9} {'+p50 ms':>8} {'p99 ms':>9}"
    print(f"{header} {'cpu us':>8} {'x bare':>7}")
    runs = {mode: serve_and_load(mode, n, c, args.stack) for mode in ("bare", "on-device", "on-device-no-cache")}
    bare, bare_cpu = runs["bare"]
    for mode, label in (
        ("bare", "bare app, 100 KB page"),
        ("on-device", "on-device decision, 5 actions, cache on"),
        ("on-device-no-cache", "on-device decision, 5 actions, cache off"),
    ):
        (rps, p50, p99), cpu = runs[mode]
        ratio = "-" if mode == "bare" else f"{rps / bare[0]:.2f}x"
        added = "-" if mode == "bare" else f"{p50 - bare[1]:+.2f}"
        cpu_ratio = "-" if mode == "bare" else f"{bare_cpu / cpu:.2f}x"
        print(f"{label:<44} {rps:9.0f} {ratio:>7} {p50:9.2f} {added:>8} {p99:9.2f} {cpu * 1e6:8.0f} {cpu_ratio:>7}")
    if args.instructions:
        print(f"\nthrough uvicorn under valgrind (cachegrind), instructions per request over {args.instructions}")
        counts = {mode: instructions(mode, args.instructions, c, args.stack) for mode in ("bare", "on-device")}
        for mode, label in (("bare", "bare app, 100 KB page"), ("on-device", "on-device decision, cache on")):
            ratio = "-" if mode == "bare" else f"{counts['bare'] / counts[mode]:.2f}x"
            print(f"{label:<44} {counts[mode]:12,.0f} {ratio:>7}")


if __name__ == "__main__":
    main()
