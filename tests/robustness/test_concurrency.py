"""500 concurrent visitors with distinct cookies, through uvicorn and a real edge: each gets only their own."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import unquote

import httpx

from target_middleware import TargetClient, TargetStats
from tests.servers import serve

from .faultedge import fault_edge
from .harness import page_app

VISITORS = 500
# The test is about isolation, not speed: all 500 run in one process (client, uvicorn, the I/O thread, the edge), so
# on a loaded 2-core machine the last ones wait tens of seconds. Budgets far past that keep the outcome
# independent of the machine's speed (at 20 s, 100 of 500 timed out on a busy machine).
BUDGET = 600.0


async def test_500_concurrent_visitors_each_get_only_their_own_cookies_and_offers() -> None:
    stats = TargetStats()
    with fault_edge() as edge:
        client = TargetClient("acme", "O@AdobeOrg", server_domain=edge.domain, secure=False, timeout=BUDGET)
        app = page_app(client, timeout=BUDGET, stats=stats)
        with serve(app) as url:
            limits = httpx.Limits(max_connections=VISITORS)
            async with httpx.AsyncClient(timeout=BUDGET, limits=limits) as http:

                async def visit(i: int) -> tuple[int, httpx.Response]:
                    later = int(time.time()) + 900
                    cookie = f"mbox=session%23s{i}%23{later}%7CPC%23visitor{i:04d}.35_0%23{later}"
                    return i, await http.get(url + f"/?v={i}", headers={"cookie": cookie})

                answers = await asyncio.gather(*(visit(i) for i in range(VISITORS)))
    assert stats["applied"] == VISITORS, dict(stats)
    for i, response in answers:
        assert f"Edge offer for visitor{i:04d}.35_0".encode() in response.content
        assert response.content.count(b"Edge offer for") == 1
        mbox = unquote(next(c for c in response.headers.get_list("set-cookie") if c.startswith("mbox=")))
        assert f"session#s{i}#" in mbox
        assert f"PC#visitor{i:04d}.35_0#" in mbox
        assert response.headers["cache-control"].startswith("private")
    sessions = sorted(r.request_line.split("sessionId=")[1].split()[0] for r in edge.requests)
    assert sessions == sorted(f"s{i}" for i in range(VISITORS))
