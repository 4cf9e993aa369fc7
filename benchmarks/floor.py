"""The least a personalized response can cost in Python here: a yardstick for issue 14's served goal, not a product.

``FloorMiddleware`` does, for bench_app's A/B activity and its returning visitors, only the work a warm personalized
page cannot avoid, written inline with nothing general around it: the visitor's ids read from the mbox cookie with
one regex; the page.path condition and the visitor's allocation (MurmurHash3, the engine's own function) pick the
experience; a display notification appended to a list; the app's page compared byte for byte with the one the
experience's rewrite was made from, the rewrite (head and tail at ``</body>``, made once by the package's own
``rewrite``) sent with the visitor's signed click token spliced in (HMAC-SHA256, as ``Tracking`` signs); the
headers a personalized page carries (Content-Length, the mbox and mboxEdgeCluster Set-Cookie lines, Vary,
Cache-Control, Server-Timing). No checks, no fallbacks, no telemetry, no request.state: what is left is the floor
the real middleware's per-request cost is measured against (benchmarks/served.py ``--modes bare,on-device,floor``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any

import abtest

from target_middleware.decisioning.allocation import allocation
from target_middleware.rewritecache import rewrite

_MBOX = re.compile(rb"(?:^|;\s*)mbox=session%23([^%]+)%23(\d+)%7CPC%23([^.%]+)\.(\d+)_0%23(\d+)")
_KEY = b"floor-benchmark-signing-key-32by"
_OPTIONS: dict[str, Any] = {"engine": None, "nonce": None, "charset": "utf-8", "click_endpoint": None}


class FloorMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        artifact = abtest.artifact()
        rules = artifact["rules"]["mboxes"][abtest.GLOBAL_MBOX]
        self.client = artifact["meta"]["clientCode"]
        self.experiences = [(r["activityId"], r["condition"]["and"], r["consequence"]) for r in rules]
        self.pages: dict[int, tuple[bytes, bytes, bytes, str]] = {}  # experience: page, head, tail, click token
        self.notifications: list[tuple[str, str, str, float]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        cookie = next((value for name, value in scope["headers"] if name == b"cookie"), b"")
        found = _MBOX.search(cookie)
        assert found is not None, "the benchmark's visitors are returning ones"
        session, tnt, cluster = found.group(1).decode(), found.group(3).decode(), found.group(4).decode()
        path = scope["path"]
        chosen = None
        for index, (activity, (low, high, page), consequence) in enumerate(self.experiences):
            if page["=="][0] != path:
                continue
            share = allocation(self.client, activity, tnt)
            if low["<="][0] <= share <= high[">="][0]:
                chosen = index, consequence
                break
        assert chosen is not None
        index, consequence = chosen
        self.notifications.append((tnt, session, consequence["options"][0]["eventToken"], time.time()))
        if len(self.notifications) > 1000:
            self.notifications.clear()
        messages: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start, page = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        made = self.pages.get(index)
        if made is None or made[0] != page:
            result = rewrite(page, consequence["options"][0]["content"], _OPTIONS)
            at = result.body.rfind(b"</body>")
            made = page, result.body[:at], result.body[at:], consequence["metrics"][0]["eventToken"]
            self.pages[index] = made
        _, head, tail, token = made
        expires = int(time.time()) + 86400
        message = f"{token}\n{abtest.GLOBAL_MBOX}\n{tnt}\n{expires}".encode()
        signature = hmac.new(_KEY, message, hashlib.sha256).hexdigest()[:22]
        data = json.dumps({"expires": expires, "clicks": {token: [abtest.GLOBAL_MBOX, signature]}})
        script = f'<script type="application/json" data-target-middleware="click-signatures">{data}</script>'
        body = b"".join((head, script.encode(), tail))
        now = int(time.time())
        mbox = f"session%23{session}%23{now + 1860}%7CPC%23{tnt}.{cluster}_0%23{now + 63244800}"
        headers = [
            (b"content-length", str(len(body)).encode()),
            *[(name, value) for name, value in start["headers"] if name != b"content-length"],
            (b"set-cookie", f"mbox={mbox}; Max-Age=63244800; Path=/; SameSite=Lax".encode()),
            (b"set-cookie", f"mboxEdgeCluster={cluster}; Max-Age=1860; Path=/; SameSite=Lax".encode()),
            (b"vary", b"Cookie"),
            (b"cache-control", b"private"),
            (b"server-timing", f"target;dur={(time.perf_counter() - started) * 1000:.1f}".encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
