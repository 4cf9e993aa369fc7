"""One GET straight through an ASGI app, in process (no server, no client library between): its messages."""

from __future__ import annotations

from typing import Any


async def asgi_get(app: Any, path: str = "/", cookie: str = "", *, host: str = "shop.test") -> list[dict[str, Any]]:
    """The messages ``app`` sends for a GET of ``path`` with the scope a server gives it (a Cookie header when
    ``cookie`` is given)."""
    headers = [(b"host", host.encode())] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent
