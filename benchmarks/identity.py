"""What Experience Cloud identity and A4T add to a request, beside what the request costs without them.

    python benchmarks/identity.py [--calls N]

Per call, median of rounds: the visitor from the mbox cookie alone (the baseline), the AMCV cookie read and
checked, the visitor with both and the app's customer ids (a sync callable, awaited as the middleware does), the
Delivery request built with and without them, a fresh SDID, and the data island spliced into a 100 KB page.
Ratios are to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages import shop_page
from starlette.requests import Request

from target_middleware.analytics import AnalyticsSettings, new_supplemental_data_id, splice_before_body_end
from target_middleware.delivery.params import Mbox, build_request
from target_middleware.identity import amcv_cookie_name, identify, read_amcv
from target_middleware.visitor import Visitor

ORG = "ABC123@AdobeOrg"
AMCV = quote(
    "-1124106680|MCIDTS|20200|MCMID|12500064053434732880045517027062242948|MCAAMLH-2000000000|9|MCAAMB-2000000000|"
    "RKhpRz8krg2tLO6pguXWp5olkAcUniQYPHaMWWgdJ3xzPWQmdj0y|MCOPTOUT-2000000000s|NONE|MCAID|NONE|vVersion|5.5.0",
    safe="",
)
COOKIES = {
    "mbox": quote("session#abc123#2000000000|PC#f00dfeedf00dfeedf00dfeedf00dfeed.35_0#2000000000", safe=""),
    amcv_cookie_name(ORG): AMCV,
    "AMCVS_ABC123%40AdobeOrg": "1",
}
REQUEST = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})


def customer_ids(request: Request) -> list[dict[str, str]]:
    return [{"id": "u-42", "integrationCode": "crm", "authenticatedState": "authenticated"}]


def median_us(run: Callable[[], object], calls: int, rounds: int = 7) -> float:
    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    loop = asyncio.new_event_loop()

    async def identify_many(n: int) -> Visitor:
        for _ in range(n):
            visitor = Visitor.from_cookies(COOKIES)
            visitor = await identify(visitor, COOKIES, REQUEST, organization_id=ORG, customer_ids=customer_ids)
        return visitor

    def identified() -> Visitor:  # per call: the loop's own cost spread over 100 awaits, as in a request
        return loop.run_until_complete(identify_many(100))

    plain = Visitor.from_cookies(COOKIES)
    known = identified()
    settings = AnalyticsSettings(data_island_id="target-a4t")
    sent = {"experienceCloud": {"analytics": settings.for_page_view().to_json()}}
    island = settings.island(sent, {}, nonce="abc") or b""
    page = shop_page(100_000).encode()
    context = {"channel": "web"}

    def bare_request() -> object:
        return build_request(execute=[Mbox("a")], visitor=plain, context=context)

    def full_request() -> object:
        analytics = settings.for_page_view().to_json()
        return build_request(execute=[Mbox("a")], visitor=known, context=context, analytics=analytics)

    baseline = median_us(lambda: Visitor.from_cookies(COOKIES), calls)
    rows = [
        ("visitor from the mbox cookie (baseline)", baseline),
        ("the AMCV cookie read and checked", median_us(lambda: read_amcv(COOKIES, ORG), calls)),
        ("mbox cookie + AMCV + customer ids (identify)", median_us(identified, calls // 100) / 100),
        ("build_request, tntId only", median_us(bare_request, calls)),
        ("build_request, ECID + customer ids + AAM + A4T", median_us(full_request, calls)),
        ("a fresh SDID", median_us(new_supplemental_data_id, calls)),
        ("data island spliced into a 100 KB page", median_us(lambda: splice_before_body_end(page, island), calls)),
    ]
    for name, micros in rows:
        print(f"{name:50} {micros:8.2f} µs  {micros / baseline:6.2f}× baseline")


if __name__ == "__main__":
    main()
