"""Real servers for tests: an ASGI app served by uvicorn on 127.0.0.1, port 0, in a background thread.

uvicorn runs one of two stacks (``STACKS``): plain ``pip install uvicorn`` runs h11 and asyncio's loop, while
``uvicorn[standard]`` (what ``fastapi[standard]`` installs) adds httptools and uvloop, which uvicorn's ``auto`` then
picks. A test server runs h11 unless told otherwise: ``TARGET_TEST_STACK=standard`` for a whole run, ``using_stack``
for a block, and the ``each_stack`` fixture (tests/conftest.py) runs a test once on each.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

STACKS = {"h11": ("h11", "asyncio"), "standard": ("httptools", "uvloop")}  # name: uvicorn's http, loop
_chosen: list[str] = []  # using_stack's, innermost last


def current_stack() -> str:
    """The stack a test server starts on now: ``using_stack``'s, else ``TARGET_TEST_STACK``'s, else h11."""
    stack = _chosen[-1] if _chosen else os.environ.get("TARGET_TEST_STACK", "h11")
    if stack not in STACKS:
        raise ValueError(f"TARGET_TEST_STACK={stack!r}: expected one of {', '.join(STACKS)}")
    return stack


@contextmanager
def using_stack(stack: str) -> Iterator[None]:
    """Test servers started in this block run ``stack`` (a name of ``STACKS``)."""
    if stack not in STACKS:
        raise ValueError(f"unknown stack {stack!r}: expected one of {', '.join(STACKS)}")
    _chosen.append(stack)
    try:
        yield
    finally:
        _chosen.pop()


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


def start_server(
    app: ASGIApp, *, lifespan: str = "on", tls: tuple[str, str] | None = None, **options: Any
) -> RunningServer:
    """``tls``: (certificate file, key file) to serve https; ``options``: more of ``uvicorn.Config``'s."""
    http, loop = STACKS[current_stack()]
    # Keep-alive longer than httpx's own 5 s pool expiry: a server that closes an idle connection at the moment a
    # client reuses it turns a good request into a connection error, more often the busier the machine.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan=lifespan,
        ws="none",
        http=http,
        loop=loop,
        timeout_graceful_shutdown=1,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        timeout_keep_alive=60,
        **options,
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
def serve(app: ASGIApp, *, lifespan: str = "on", tls: tuple[str, str] | None = None, **options: Any) -> Iterator[str]:
    """Serve ``app`` and yield its base URL; the server stops when the block ends (``options``: start_server's)."""
    running = start_server(app, lifespan=lifespan, tls=tls, **options)
    try:
        yield running.url
    finally:
        running.stop()
