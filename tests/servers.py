"""Real servers for tests: an ASGI app served by uvicorn on 127.0.0.1, port 0, in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(app: ASGIApp, *, lifespan: str = "on", tls: tuple[str, str] | None = None) -> RunningServer:
    """``tls``: (certificate file, key file) to serve https."""
    # Keep-alive longer than httpx's own 5 s pool expiry: a server that closes an idle connection at the moment a
    # client reuses it turns a good request into a connection error, more often the busier the machine.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan=lifespan,
        ws="none",
        timeout_graceful_shutdown=1,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(server, thread, port, "https" if tls else "http")


@contextmanager
def serve(app: ASGIApp, *, lifespan: str = "on", tls: tuple[str, str] | None = None) -> Iterator[str]:
    """Serve ``app`` and yield its base URL; the server stops when the block ends."""
    running = start_server(app, lifespan=lifespan, tls=tls)
    try:
        yield running.url
    finally:
        running.stop()
