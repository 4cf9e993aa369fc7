"""What the middleware costs a real server: uvicorn on 127.0.0.1, a bounded load, the bare app beside it.

    python benchmarks/middleware.py [--requests N] [--concurrency C]

Prints throughput and p50/p99 per case, each beside the bare app measured in the same run:
(a) a route with no rule; (b) a 100 KB page with 5 actions decided on-device; (c) a remote edge that answers in
50 ms while the app takes 50 ms, awaiting and CPU-bound (and, for contrast, CPU-bound with the decision on the
app's own loop instead of the I/O thread: it cannot reach the wire until the handler is done).
The server is pinned to CPU 0 and the load to CPU 1
where taskset exists. Run by hand; the machine is noisy, so medians and ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ports import free_port, wait_for_port  # noqa: E402

ROOT = HERE.parent


# The HTTP parser and event loop uvicorn runs on, named rather than left to its "auto" (which picks httptools and
# uvloop whenever they are installed, so a venv with them would silently measure another server): "h11" is plain
# `pip install uvicorn` (h11, asyncio), the stack of every figure quoted until 2026-11-30; "standard" is what
# `pip install "uvicorn[standard]"` and `fastapi[standard]` install (httptools, uvloop: `pip install -e ".[bench]"`).
STACKS = {"h11": ("--http", "h11", "--loop", "asyncio"), "standard": ("--http", "httptools", "--loop", "uvloop")}


def uvicorn_command(port: int, stack: str = "h11") -> list[str]:
    """The command that serves bench_app on ``port`` on ``stack`` (one of STACKS)."""
    if stack not in STACKS:
        raise ValueError(f"stack must be one of {sorted(STACKS)}, not {stack!r}")
    if stack == "standard":
        import importlib.util

        missing = [name for name in ("httptools", "uvloop") if importlib.util.find_spec(name) is None]
        if missing:
            raise SystemExit(f"the standard stack needs {', '.join(missing)}: pip install -e '.[bench]'")
    command = [sys.executable, "-m", "uvicorn", "bench_app:app", "--port", str(port), "--log-level", "warning"]
    return [*command, *STACKS[stack]]


@contextmanager
def server(mode: str, *, cpu: int = 0, edge: str = "", stack: str = "h11") -> Iterator[int]:
    port = free_port()
    command = uvicorn_command(port, stack)
    if shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_EDGE": edge, "PYTHONPATH": f"{ROOT}:{HERE}"}
    process = subprocess.Popen(command, cwd=HERE, env=env)
    try:
        wait_for_port(port, f"server {mode}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


# What a browser sends for a page: Chromium 156's navigation request, header for header as headless Chromium sent it
# to a local server (its user agent without "Headless", as a person's Chromium writes it), client hints included.
# The Cookie header, when given, comes last, as Chromium writes it, and names a returning visitor.
BROWSER_HEADERS = (
    "Connection: keep-alive\r\n"
    'sec-ch-ua: "Not:A-Brand";v="8", "Chromium";v="156"\r\n'
    "sec-ch-ua-mobile: ?0\r\n"
    'sec-ch-ua-platform: "Linux"\r\n'
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0"
    " Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
)


def requests_for(path: str, cookies: Sequence[str] = ()) -> list[bytes]:
    """The GETs the load sends, one per visitor (a cookie header each), or one without cookies."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{BROWSER_HEADERS}"
    if not cookies:
        return [f"{head}\r\n".encode()]
    return [f"{head}Cookie: {cookie}\r\n\r\n".encode() for cookie in cookies]


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending ``count`` GETs one after the other; the body is counted, not kept.

    A protocol rather than streams: the load generator must cost much less per request than the server, or it,
    not the server, sets the pace (and hides what the server spends).
    """

    def __init__(self, requests: list[bytes], offset: int, count: int, latencies: list[float]) -> None:
        self.requests, self.index, self.left, self.latencies = requests, offset, count, latencies
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = b""
        self.remaining = -1  # body bytes still to come; -1 while the head is read
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._next()

    def _next(self) -> None:
        if self.left == 0:
            self.done.set_result(None)
            return
        self.left -= 1
        request = self.requests[self.index % len(self.requests)]
        self.index += 1
        self.sent = time.perf_counter()
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        if self.remaining < 0:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.head[:end].lower()
            if not head.startswith(b"http/1.1 200"):
                self.done.set_exception(RuntimeError(f"unexpected answer: {head[:40]!r}"))
                return
            at = head.find(b"\r\ncontent-length:") + 17
            stop = head.find(b"\r\n", at)
            length = int(head[at : stop if stop >= 0 else len(head)])
            self.remaining = length - (len(self.head) - end - 4)
            self.head = b""
        else:
            self.remaining -= len(data)
        if self.remaining == 0:
            self.latencies.append(time.perf_counter() - self.sent)
            self.remaining = -1
            self._next()
        elif self.remaining < 0 and not self.done.done():
            self.done.set_exception(RuntimeError("more bytes than the Content-Length said"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed by the server"))


async def _worker(port: int, requests: list[bytes], offset: int, count: int, latencies: list[float]) -> None:
    loop = asyncio.get_running_loop()
    transport, connection = await loop.create_connection(
        lambda: _Connection(requests, offset, count, latencies), "127.0.0.1", port
    )
    try:
        await connection.done
    finally:
        transport.close()


def load(
    port: int, path: str, requests: int, concurrency: int, cookies: Sequence[str] = ()
) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) for ``requests`` keep-alive GETs, ``concurrency`` at a time; with
    ``cookies``, each request comes from the next of these visitors."""
    messages = requests_for(path, cookies)

    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        await _worker(port, messages, 0, 20, [])  # warm up
        start = time.perf_counter()
        per = requests // concurrency
        await asyncio.gather(*(_worker(port, messages, i * 7919, per, latencies) for i in range(concurrency)))
        return time.perf_counter() - start, latencies

    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    elapsed, latencies = asyncio.run(run())
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return len(latencies) / elapsed, p50, p99


def row(label: str, figures: tuple[float, float, float], bare: tuple[float, float, float] | None) -> None:
    rps, p50, p99 = figures
    ratio = f"{rps / bare[0]:6.2f}x" if bare else "      -"
    added = f"{p50 - bare[1]:+8.2f}" if bare else "       -"
    print(f"{label:<44} {rps:9.0f} {ratio} {p50:9.2f} {added} {p99:9.2f}")


def pass_through_cpu(calls: int = 50_000) -> tuple[float, float]:
    """In process, no server: µs per call of a bare ASGI app, and of the same app under the middleware with
    rules that do not match (the cost every route without a rule pays)."""
    sys.path.insert(0, str(ROOT))
    from target_middleware import MboxRule, TargetMiddleware
    from target_middleware.testing import static_client

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    async def send(message: object) -> None:
        return None

    async def receive() -> dict[str, str]:
        return {"type": "http.request"}

    rules = [MboxRule("/products/{sku}", mboxes=["pdp"]), MboxRule("/cart", mboxes=["cart"])]
    wrapped = TargetMiddleware(app, client=static_client({}), rules=rules)
    scope = {"type": "http", "method": "GET", "path": "/about", "query_string": b"", "headers": []}

    async def per_call(target: object) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await target(scope, receive, send)  # type: ignore[operator]
        return (time.perf_counter() - start) / calls * 1e6

    async def run() -> tuple[float, float]:
        bare, ours = [], []
        for _ in range(5):
            bare.append(await per_call(app))
            ours.append(await per_call(wrapped))
        return statistics.median(bare), statistics.median(ours)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    n, c = args.requests, args.concurrency
    bare_us, ours_us = pass_through_cpu()
    print(
        f"in process: bare app {bare_us:.2f} us/call, under the middleware on a route without a rule {ours_us:.2f}"
        f" us/call: {ours_us - bare_us:+.2f} us\n"
    )
    print(f"{'case':<44} {'req/s':>9} {'x bare':>7} {'p50 ms':>9} {'+p50 ms':>8} {'p99 ms':>9}")
    with server("bare") as port:
        bare = load(port, "/page", n, c)
        bare_slow = load(port, "/slow", max(200, n // 10), 1)
        bare_busy = load(port, "/busy", max(100, n // 20), 1)
    with server("no-rule") as port:
        no_rule = load(port, "/page", n, c)
    with server("on-device") as port:
        on_device = load(port, "/page", n, c)
    with server("edge", cpu=1) as edge_port, server("remote", edge=f"127.0.0.1:{edge_port}") as port:
        remote_slow = load(port, "/slow", max(200, n // 10), 1)
        remote_busy = load(port, "/busy", max(100, n // 20), 1)
        with server("remote-same-loop", edge=f"127.0.0.1:{edge_port}") as same_loop_port:
            same_loop_busy = load(same_loop_port, "/busy", max(100, n // 20), 1)
            same_loop_slow = load(same_loop_port, "/slow", max(200, n // 10), 1)
    row("bare app, 100 KB page", bare, None)
    row("(a) middleware, route with no rule", no_rule, bare)
    row("(b) on-device decision, 5 actions applied", on_device, bare)
    row("bare app that awaits 50 ms", bare_slow, None)
    row("(c) + remote edge taking 50 ms", remote_slow, bare_slow)
    row("bare app computing 50 ms (async, no await)", bare_busy, None)
    row("(c) + remote edge taking 50 ms", remote_busy, bare_busy)
    row("    the same, decision on the app's loop", same_loop_busy, bare_busy)
    row("(c) awaiting app, decision on the app's loop", same_loop_slow, bare_slow)


if __name__ == "__main__":
    main()
