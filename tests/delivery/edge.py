"""A scripted Delivery API edge: a small Starlette app served by uvicorn on 127.0.0.1 in a background thread.

It records every request it gets and answers according to ``edge.scenario``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers import RunningServer, start_server

OPTIONS: dict[str, dict[str, Any]] = {
    "html": {"type": "html", "content": "<p>Hello <b>visitor</b></p>"},
    "json": {"type": "json", "content": {"hero": "summer", "discount": 15}},
    "redirect": {"type": "redirect", "content": "https://example.com/landing?x=1"},
    "dynamic": {"type": "dynamic", "content": "<div>dynamic offer</div>"},
    "actions": {
        "type": "actions",
        "content": [
            {"type": "setHtml", "selector": "HTML > BODY > H1:eq(0)", "cssSelector": "h1", "content": "Hi"},
            {"type": "setStyle", "selector": "#hero", "content": {"color": "red", "priority": "important"}},
            {"type": "setAttribute", "selector": "#cta", "content": {"href": "/sale"}},
        ],
        "responseTokens": {"activity.id": "123", "experience.name": "B"},
    },
}


@dataclass
class Recorded:
    url: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedEdge:
    scenario: str = "html"
    requests: list[Recorded] = field(default_factory=list)
    closing: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        option = OPTIONS.get(self.scenario, OPTIONS["html"])
        execute: dict[str, Any] = {}
        section = request.get("execute", {})
        # A4T client-side logging: every answer of an (Analytics-reported) activity carries its payload.
        analytics = (request.get("experienceCloud") or {}).get("analytics") or {}
        client_side = analytics.get("logging") == "client_side"
        if "mboxes" in section:
            execute["mboxes"] = [
                {
                    "index": m["index"],
                    "name": m["name"],
                    "options": [option],
                    "metrics": [{"type": "click", "selector": "#cta", "eventToken": "click-token"}],
                }
                for m in section["mboxes"]
            ]
            for i, mbox in enumerate(execute["mboxes"] if client_side else ()):
                mbox["analytics"] = {"payload": {"pe": "tnt", "tnta": f"{300 + i}:1:0|2"}}
                mbox["metrics"][0]["analytics"] = {"payload": {"pe": "tnt", "tnta": f"{300 + i}:1:0|32767,{i}:0"}}
        if "pageLoad" in section:
            execute["pageLoad"] = {"options": [OPTIONS["actions"]]}
            if client_side:
                execute["pageLoad"]["analytics"] = {"payload": {"pe": "tnt", "tnta": "299:0:0|2"}}
        tnt = request.get("id", {}).get("tntId") or "a1b2c3d4e5.35_0"
        return {
            "status": 200,
            "requestId": request.get("requestId"),
            "client": "acme",
            "id": {"tntId": tnt},
            "edgeHost": "mboxedge35.tt.omtrdc.net",
            "execute": execute,
            "notifications": [{"id": n["id"]} for n in request.get("notifications", [])],
        }

    async def _forever(self) -> None:
        while not self.closing.is_set():
            await asyncio.sleep(0.05)

    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(Recorded(str(request.url), dict(request.headers), body))
        scenario = self.scenario
        if scenario == "500":
            return Response("Internal Server Error", status_code=500)
        if scenario == "400":
            return JSONResponse({"status": 400, "message": "Invalid token"}, status_code=400)
        if scenario == "error-body-200":
            return JSONResponse({"status": 400, "message": "Invalid property token"})
        if scenario == "html-page":
            return Response("<!doctype html><html><body>Gateway</body></html>", media_type="text/html")
        if scenario == "truncated":
            return Response(json.dumps(self.answer(body))[:40], media_type="application/json")
        if scenario == "bad-schema":
            return JSONResponse({"execute": {"mboxes": [{"index": 0, "name": "x", "options": "nope"}]}})
        if scenario == "no-answer":
            await self._forever()
            return Response(status_code=204)
        if scenario == "endless":

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"status":200,"execute":{"mboxes":['
                while not self.closing.is_set():
                    yield b" "
                    await asyncio.sleep(0.02)

            return StreamingResponse(chunks(), media_type="application/json")
        if scenario == "drop-mbox":
            answer = self.answer(body)
            answer["execute"] = {}
            return JSONResponse(answer)
        return JSONResponse(self.answer(body))


def start_edge() -> tuple[ScriptedEdge, RunningServer, threading.Thread]:
    edge = ScriptedEdge()
    app = Starlette(routes=[Route("/rest/v1/delivery", edge.endpoint, methods=["POST"])])
    running = start_server(app, lifespan="off")
    edge.port = running.port
    return edge, running, running.thread


def stop_edge(edge: ScriptedEdge, running: RunningServer, thread: threading.Thread) -> None:
    edge.closing.set()
    running.stop()


def refused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
