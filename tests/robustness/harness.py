"""Shared pieces: a page app under the middleware, a direct ASGI call that keeps every message, and checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats

PAGE = (
    b'<!DOCTYPE html><html><head><title>Shop</title></head><body><h1 id="hero">Welcome</h1>'
    b'<a id="cta" href="/">Go</a><div id="slot">default</div></body></html>'
)
PAGE_HEADERS = {"etag": '"v1"', "cache-control": "public, max-age=60", "x-app": "kept"}


def page_app(
    client: TargetClient,
    *,
    body: bytes = PAGE,
    media_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
    rules: Iterable[MboxRule] | None = None,
    **options: Any,
) -> Starlette:
    async def page(request: Request) -> Response:
        return Response(
            body,
            media_type=None,
            headers={"content-type": media_type, **(PAGE_HEADERS if headers is None else headers)},
        )

    app = Starlette(routes=[Route("/", page), Route("/{p:path}", page)])
    rules = [MboxRule("/{p:path}", mboxes=["hero"])] if rules is None else list(rules)
    app.add_middleware(TargetMiddleware, client=client, rules=rules, **options)
    return app


def middleware_of(app: Starlette) -> TargetMiddleware:
    app.build_middleware_stack() if app.middleware_stack is None else None
    stack: Any = app.middleware_stack
    while not isinstance(stack, TargetMiddleware):
        stack = stack.app
    return stack


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    messages: list[Message]

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name]
        return found[-1] if found else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


async def call(
    app: ASGIApp,
    path: str = "/",
    *,
    headers: dict[str, str] | None = None,
    query: str = "",
    method: str = "GET",
    client: tuple[str, int] = ("203.0.113.7", 5000),
) -> Answer:
    """One request straight through the ASGI app, every message it sends kept."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in (headers or {}).items()]
        + [(b"host", b"shop.example")],
        "client": client,
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    decoded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
    return Answer(start["status"], decoded, body, messages)


def assert_whole(answer: Answer) -> None:
    """Never a truncated page: exactly one start, a last body message, and Content-Length equal to the body."""
    assert [m["type"] for m in answer.messages].count("http.response.start") == 1
    assert answer.messages[-1]["type"] == "http.response.body"
    assert not answer.messages[-1].get("more_body", False)
    length = answer.header("content-length")
    assert length is not None
    assert int(length) == len(answer.body)


def our_records(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("target_middleware") and r.levelno >= level]


def stats_of(app: Starlette) -> TargetStats:
    return middleware_of(app).stats


Check = Callable[[Answer], None]
