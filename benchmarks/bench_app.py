"""The apps the middleware benchmark serves; BENCH_MODE picks one, BENCH_EDGE names the slow edge."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))
import abtest
from pages import ACTIONS, shop_page

from target_middleware import MboxRule, TargetClient, TargetMiddleware
from target_middleware.testing import actions_option, static_client

PAGE = shop_page(100_000)
MODE = os.environ.get("BENCH_MODE", "bare")


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def slow_page(request: Request) -> Response:
    await asyncio.sleep(0.05)
    return HTMLResponse(PAGE)


async def busy_page(request: Request) -> Response:
    end = time.perf_counter() + 0.05
    while time.perf_counter() < end:  # 50 ms of CPU without awaiting
        pass
    return HTMLResponse(PAGE)


async def edge(request: Request) -> Response:
    body = await request.json()
    await asyncio.sleep(0.05)
    mboxes = [
        {"index": m["index"], "name": m["name"], "options": [actions_option(*ACTIONS)]}
        for m in body.get("execute", {}).get("mboxes", [])
    ]
    return JSONResponse({"status": 200, "id": {"tntId": "bench0000.35_0"}, "execute": {"mboxes": mboxes}})


def _drop(notifications: object) -> None:
    """No Target account behind the benchmark: the display notifications each decision owes go nowhere."""


routes = [Route("/page", page), Route("/slow", slow_page), Route("/busy", busy_page)]
app = Starlette(routes=routes)
if MODE == "edge":
    app = Starlette(routes=[Route("/rest/v1/delivery", edge, methods=["POST"])])
elif MODE == "no-rule":
    app.add_middleware(TargetMiddleware, client=static_client({}), rules=[MboxRule("/personalized", mboxes=["hero"])])
elif MODE in ("on-device", "on-device-no-cache"):
    # Target's on-device engine over an A/B activity (abtest.py): each visitor's experience hashed from its id.
    app.add_middleware(
        TargetMiddleware,
        client=TargetClient(
            "bench", "B@AdobeOrg", decisioning="on-device", artifact=abtest.artifact(), on_notifications=_drop
        ),
        rules=[MboxRule("/{p:path}", mboxes=[abtest.GLOBAL_MBOX])],
        rewrite_cache=0 if MODE == "on-device-no-cache" else 32 * 1024 * 1024,
    )
elif MODE == "floor":  # the yardstick: the same essential work inline, nothing else (floor.py)
    from floor import FloorMiddleware

    app.add_middleware(FloorMiddleware)
elif MODE == "static":
    app.add_middleware(
        TargetMiddleware,
        client=static_client({"hero": [actions_option(*ACTIONS)]}),
        rules=[MboxRule("/{p:path}", mboxes=["hero"])],
    )
elif MODE in ("remote", "remote-same-loop"):
    client = TargetClient("bench", "B@AdobeOrg", server_domain=os.environ["BENCH_EDGE"], secure=False, timeout=1.0)
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/{p:path}", mboxes=["hero"])],
        timeout=0.5,
        io_thread=MODE == "remote",
    )
