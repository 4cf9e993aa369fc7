"""The first-party click endpoint: the listener's beacon checked, answered 204, and the clicks queued for Target.

The middleware answers ``POST {click_path}`` itself; the app never sees it. A beacon is
``{"expires": int, "url": str, "clicks": [{"token", "mbox", "signature"}, ...]}`` as ``application/json``,
same-origin, a few KB at most. A page decided through the Edge Network signs each click with its proposition (a
JSON string the beacon brings back as ``"proposition"``) for the datastream's identity cookie. Every click must
carry a valid signature for the visitor named by the request's
own cookies and an expiry not past; anything else is refused with a 4xx and **nothing** is forwarded. Refusals
are counted in ``TargetStats`` (``click-<reason>``) and logged at DEBUG by reason only, never a visitor's value.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

from .delivery.context import PageContext
from .delivery.notifications import Pending
from .edgenetwork.events import proposition_ref
from .tracking import Tracking, binding, edge_binding, visitor_of
from .visitor import Visitor

__all__ = ["MAX_BEACON_BYTES", "MAX_CLICKS", "answer_beacon"]

logger = logging.getLogger(__name__)

MAX_BEACON_BYTES = 4096  # an Edge Network click carries its proposition too: a few hundred bytes each
MAX_CLICKS = 20  # tokens in one beacon: an element rarely carries more than a handful
_MAX_URL = 2048
_TOKEN = re.compile(r"[!-~]{1,400}")  # Target's event tokens are base64: printable ASCII, no space
_MBOX = re.compile(r"[^\x00-\x1f\x7f]{1,250}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{22}")
_MAX_PROPOSITION = 3072
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


async def answer_beacon(tracking: Tracking, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one beacon: 204 and the clicks queued, or a 4xx and nothing forwarded."""
    try:
        visitor, page, notes = await _checked(tracking, scope, receive)
    except Refused as refused:
        tracking.stats[f"click-{refused.reason}"] += 1
        logger.debug("click beacon refused (%s)", refused.reason)
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]
        if refused.status == 405:
            headers.append((b"allow", b"POST"))
        body = f"click refused: {refused.reason}\n".encode()
        await send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    tracking.stats["click"] += 1
    if not tracking.enqueue(Pending(visitor, page, tuple(notes))):
        tracking.stats["click-dropped"] += 1  # the queue is full: the visitor's click is not theirs to retry
    await send({"type": "http.response.start", "status": 204, "headers": [(b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b""})


async def _checked(tracking: Tracking, scope: Scope, receive: Receive) -> tuple[Visitor, PageContext, list[Any]]:
    if scope["method"] != "POST":
        raise Refused(405, "method")
    headers = _headers(scope)
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, host):
        raise Refused(403, "cross-site")
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Refused(403, "cross-site")
    if headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
        raise Refused(415, "content-type")
    length = headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BEACON_BYTES:
        raise Refused(413, "too-large")
    data = _parsed(await _body(receive))
    clicks = data.get("clicks")
    if clicks is None and "tokens" in data:
        raise Refused(400, "unsigned")
    if not isinstance(clicks, list) or not clicks:
        raise Refused(400, "malformed")
    if len(clicks) > MAX_CLICKS:
        raise Refused(400, "too-many")
    expires = data.get("expires")
    if type(expires) is not int:
        raise Refused(400, "malformed")
    if expires < time.time():
        raise Refused(403, "expired")
    visitor = visitor_of(headers.get("cookie", ""), tracking.organization_id)
    who = binding(visitor)
    edge_who = edge_binding(visitor.edge_state, tracking.organization_id) or ""
    by_mbox: dict[str, list[str]] = {}
    propositions: dict[str, list[dict[str, Any]]] = {}
    for click in clicks:
        token, mbox, signature, proposition = _click(click)
        signer = who if proposition is None else edge_who
        if not tracking.signer.verify(signature, token, mbox, signer, expires, proposition=proposition):
            raise Refused(403, "forged")  # or signed for another visitor: the two cannot be told apart
        tokens = by_mbox.setdefault(mbox, [])
        if token not in tokens:
            tokens.append(token)
        if proposition is not None:
            propositions.setdefault(mbox, []).append(_proposition(proposition))
    url = _page_url(data.get("url"), host) or _page_url(headers.get("referer"), host)
    peer = scope.get("client")
    # The referrer of a beacon is the page itself: not the page's referrer.
    page = PageContext.from_headers(url, {**headers, "referer": ""}, client_ip=peer[0] if peer else None)
    timestamp = int(time.time() * 1000)
    notes = [
        {"id": uuid.uuid4().hex, "type": "click", "timestamp": timestamp, "mbox": {"name": mbox}, "tokens": tokens}
        | ({"address": {"url": url}} if url else {})
        | ({"propositions": propositions[mbox]} if mbox in propositions else {})
        for mbox, tokens in by_mbox.items()
    ]
    return visitor, page, notes


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers as a dict, read once (names are lower-case in ASGI); HTTP/2's split cookies joined."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name == "cookie" and name in headers:
            value = f"{headers[name]}; {value}"
        headers[name] = value
    return headers


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Refused(400, "disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BEACON_BYTES:
            raise Refused(413, "too-large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parsed(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "malformed") from None
    if not isinstance(data, dict):
        raise Refused(400, "malformed")
    return data


def _click(click: object) -> tuple[str, str, str, str | None]:
    if not isinstance(click, dict):
        raise Refused(400, "malformed")
    token, mbox, signature = click.get("token"), click.get("mbox"), click.get("signature")
    proposition = click.get("proposition")
    if signature is None and isinstance(token, str):
        raise Refused(400, "unsigned")
    if not (isinstance(token, str) and isinstance(mbox, str) and isinstance(signature, str)):
        raise Refused(400, "malformed")
    if not (_TOKEN.fullmatch(token) and _MBOX.fullmatch(mbox) and _SIGNATURE.fullmatch(signature)):
        raise Refused(400, "malformed")
    if proposition is not None and (not isinstance(proposition, str) or not 0 < len(proposition) <= _MAX_PROPOSITION):
        raise Refused(400, "malformed")
    return token, mbox, signature, proposition


def _proposition(signed: str) -> dict[str, Any]:
    """The proposition a verified click names (we wrote it; still read as untrusted)."""
    try:
        ref = proposition_ref(json.loads(signed))
    except (ValueError, RecursionError):
        ref = None
    if ref is None:
        raise Refused(400, "malformed")
    return ref


def _host_port(netloc: str, scheme: str) -> str:
    netloc = netloc.lower()
    default = _DEFAULT_PORTS.get(scheme, "")
    return netloc.removesuffix(default) if default else netloc


def _same_origin(origin: str, host: str) -> bool:
    """The Origin names the host the beacon was sent to (default ports ignored; a proxy may end TLS)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or not host:
        return False
    return _host_port(parts.netloc, parts.scheme) == _host_port(host, parts.scheme)


def _page_url(value: object, host: str) -> str | None:
    """The page's address from the beacon (or its Referer), when it is an http(s) URL of this same host."""
    if not isinstance(value, str) or not value or len(value) > _MAX_URL or not value.isprintable():
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not host
        or _host_port(parts.netloc, parts.scheme) != _host_port(host, parts.scheme)
    ):
        return None
    return value
