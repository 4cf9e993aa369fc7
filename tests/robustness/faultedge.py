"""A Delivery API edge that misbehaves on purpose: a raw asyncio TCP server on 127.0.0.1 in a background thread.

Raw sockets rather than an ASGI app, so it can do what no framework lets a server do: answer slowly byte by
byte, reset the connection mid-body, never answer, or send 50 MB. ``edge.scenario`` picks the behaviour; every
request is recorded (raw header lines and the decoded JSON body).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

GOOD_ACTIONS = [{"type": "setHtml", "selector": "#hero", "content": "Edge offer"}]


@dataclass
class Captured:
    request_line: str
    headers: dict[str, str]
    body: Any


def good_answer(request: Any) -> dict[str, Any]:
    """A valid answer; each mbox gets an offer naming the visitor's tntId, so answers can be told apart."""
    request = request if isinstance(request, dict) else {}
    tnt = (request.get("id") or {}).get("tntId") or "edge000000.35_0"
    mboxes = (request.get("execute") or {}).get("mboxes") or []
    actions = [{"type": "setHtml", "selector": "#hero", "content": f"Edge offer for {tnt}"}]
    return {
        "status": 200,
        "requestId": request.get("requestId"),
        "client": "acme",
        "id": {"tntId": tnt},
        "edgeHost": "mboxedge35.tt.omtrdc.net",
        "execute": {
            "mboxes": [
                {"index": m.get("index", i), "name": m["name"], "options": [{"type": "actions", "content": actions}]}
                for i, m in enumerate(mboxes)
            ]
        },
    }


def _head(status: str, length: int | None, content_type: str = "application/json", extra: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-type: {content_type}", "connection: close"]
    if length is not None:
        lines.append(f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def _json(status: str, payload: Any) -> bytes:
    body = json.dumps(payload).encode()
    return _head(status, len(body)) + body


HUGE_SIZE = 50 * 1024 * 1024
MALFORMED_ACTIONS = [
    {"type": "noSuchAction", "selector": "#hero", "content": "x"},
    {"type": "setHtml", "selector": "#hero:eq(", "content": "x"},
    {"type": "setHtml", "selector": ">>>", "content": "x"},
    {"type": "setStyle", "selector": "#hero", "content": "not a style map"},
    {"type": "setAttribute", "selector": "#hero", "content": "not a map"},
    {"type": "rearrange", "selector": "#hero", "content": {"from": "x", "to": []}},
]


@dataclass
class FaultEdge:
    scenario: str = "good"
    answer: Callable[[Any], Any] = good_answer
    requests: list[Captured] = field(default_factory=list)
    port: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    closing: asyncio.Event | None = None

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _read_request(self, reader: asyncio.StreamReader) -> Captured | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        try:
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None  # the client gave up before its body was through
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return Captured(lines[0], headers, body)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            captured = await self._read_request(reader)
            if captured is None:
                return
            self.requests.append(captured)
            await self._respond(captured, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _wait_closing(self, seconds: float = 60.0) -> None:
        assert self.closing is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def _respond(self, captured: Captured, writer: asyncio.StreamWriter) -> None:
        scenario = self.scenario
        answer = self.answer(captured.body)
        if scenario == "good":
            writer.write(_json("200 OK", answer))
        elif scenario == "no-answer":
            await self._wait_closing()
        elif scenario == "slow-first-byte":
            await self._wait_closing(120.0)
            writer.write(_json("200 OK", answer))
        elif scenario == "slow-body":  # slowloris: a byte every 200 ms, a minute or more for the answer
            body = json.dumps(answer).encode()
            writer.write(_head("200 OK", len(body)))
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                if self.closing is not None and self.closing.is_set():
                    return
                await asyncio.sleep(0.2)
        elif scenario == "reset-mid-body":
            body = json.dumps(answer).encode()
            writer.write(_head("200 OK", len(body)) + body[: len(body) // 2])
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close -> RST
            writer.transport.abort()
            return
        elif scenario == "500":
            writer.write(_head("500 Internal Server Error", 21, "text/plain") + b"Internal Server Error")
        elif scenario == "429":
            body = b'{"status":429,"message":"Too many requests"}'
            writer.write(_head("429 Too Many Requests", len(body), extra="retry-after: 30\r\n") + body)
        elif scenario == "html-200":
            body = b"<!doctype html><html><body><h1>Gateway</h1></body></html>"
            writer.write(_head("200 OK", len(body), "text/html") + body)
        elif scenario == "truncated-json":
            body = json.dumps(answer).encode()[:40]
            writer.write(_head("200 OK", len(body)) + body)
        elif scenario == "short-body":  # Content-Length promises more than comes, then the connection ends
            body = json.dumps(answer).encode()
            writer.write(_head("200 OK", len(body) + 100) + body)
        elif scenario == "nested-json":
            body = b"[" * 200_000 + b"]" * 200_000
            writer.write(_head("200 OK", len(body)) + body)
        elif scenario == "nested-object":  # deep, but shallow enough for the json module to decode
            inner: Any = {}
            for _ in range(900):
                inner = {"a": inner}
            answer["execute"]["mboxes"][0]["options"][0]["responseTokens"] = inner
            writer.write(_json("200 OK", answer))
        elif scenario in ("huge", "huge-unannounced"):  # the second with no Content-Length: read to the end
            pad = HUGE_SIZE - 200
            prefix = b'{"status":200,"id":{"tntId":"huge000000.35_0"},"execute":{},"pad":"'
            length = len(prefix) + pad + 2 if scenario == "huge" else None
            writer.write(_head("200 OK", length) + prefix)
            chunk = b"x" * (1024 * 1024)
            sent = 0
            while sent < pad:
                piece = chunk[: min(len(chunk), pad - sent)]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
            writer.write(b'"}')
        elif scenario == "malformed-actions":
            for mbox in answer["execute"]["mboxes"]:
                mbox["options"] = [{"type": "actions", "content": MALFORMED_ACTIONS}]
            writer.write(_json("200 OK", answer))
        elif scenario == "bad-schema":
            writer.write(_json("200 OK", {"execute": {"mboxes": [{"index": 0, "name": "x", "options": "nope"}]}}))
        else:
            raise AssertionError(f"unknown scenario {scenario}")
        await writer.drain()


@contextlib.contextmanager
def fault_edge() -> Iterator[FaultEdge]:
    """Run a FaultEdge for the block; connections it still holds are dropped when the block ends."""
    edge = FaultEdge()
    ready = threading.Event()
    stop: list[asyncio.Event] = []

    async def main() -> None:
        edge.loop = asyncio.get_running_loop()
        edge.closing = asyncio.Event()
        server = await asyncio.start_server(edge._handle, "127.0.0.1", 0, backlog=1024, limit=1 << 20)
        edge.port = server.sockets[0].getsockname()[1]
        stop.append(edge.closing)
        ready.set()
        async with server:
            await edge.closing.wait()
            server.close()
            await asyncio.sleep(0.1)  # let handlers see ``closing`` and end

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fault edge did not start")
    try:
        yield edge
    finally:
        assert edge.loop is not None
        edge.loop.call_soon_threadsafe(stop[0].set)
        thread.join(timeout=10)


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
