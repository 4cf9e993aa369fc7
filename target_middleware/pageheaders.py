"""The headers of a personalized page, read and edited in one pass each over the raw ASGI list.

What the page's headers say to the rewrite (its charset, its CSP nonce), and what the rewrite changes in them: the
validators a new body makes stale dropped and its Content-Length, the visitor's ``Set-Cookie`` lines, ``Vary:
Cookie``, a private ``Cache-Control``, ``Server-Timing``, and the debug header. The edits are those of Starlette's
``MutableHeaders`` made one after the other (``del`` for each stale name, ``headers[name] = value`` to set,
``append`` to add), each of which scans the whole list: here one pass makes all of them, with the same result, line
for line and in the same order (tests/test_pageheaders.py checks that against the step-by-step edits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from starlette.types import Scope

from .visitor import CookieValue, cookie_attributes

__all__ = ["STALE_HEADERS", "cache_control", "page_headers", "read_page_headers", "set_cookie_suffix", "vary"]

# A rewritten body no longer matches validators or ranges computed for the original.
STALE_HEADERS = ("etag", "content-md5", "digest", "accept-ranges", "transfer-encoding", "last-modified")
_STALE = frozenset(name.encode() for name in STALE_HEADERS)
_LENGTH, _VARY, _CACHE, _DEBUG = b"content-length", b"vary", b"cache-control", b"x-target-actions"
_SET_COOKIE, _TIMING = b"set-cookie", b"server-timing"
_EDITED = _STALE | {_LENGTH, _VARY, _CACHE, _DEBUG}
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")
_charsets: dict[str, str | None] = {}  # Content-Type value -> its charset: an app sends a handful of them
_MAX_CHARSETS = 256
_raw_charsets: dict[bytes, Any] = {}  # the same, by the header value's bytes
_UNSEEN = object()


def charset_of(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, if any."""
    if content_type in _charsets:
        return _charsets[content_type]
    match = _CHARSET.search(content_type)
    charset = match.group(1) if match else None
    if len(_charsets) >= _MAX_CHARSETS:
        _charsets.clear()
    _charsets[content_type] = charset
    return charset


def read_page_headers(raw: Iterable[tuple[bytes, bytes]], scope: Scope) -> tuple[str | None, str | None]:
    """The page's charset (its first Content-Type's) and CSP nonce (its first Content-Security-Policy's, else
    ``request.state.csp_nonce``), in one pass: what ``Headers.get`` of each finds."""
    content_type = policy = None
    for key, value in raw:
        if key == b"content-type":
            if content_type is None:
                content_type = value
        elif key == b"content-security-policy" and policy is None:
            policy = value
    if content_type is None:
        charset = None
    else:  # charset_of, kept by the value's bytes (no decode)
        charset = _raw_charsets.get(content_type, _UNSEEN)
        if charset is _UNSEEN:
            charset = charset_of(content_type.decode("latin-1"))
            if len(_raw_charsets) >= _MAX_CHARSETS:
                _raw_charsets.clear()
            _raw_charsets[content_type] = charset
    if policy is not None:
        match = _NONCE.search(policy.decode("latin-1"))
        if match:
            return charset, match.group(1)
    state: Any = scope.get("state") or {}
    nonce = state.get("csp_nonce") if isinstance(state, dict) else None
    return charset, nonce if isinstance(nonce, str) else None


def vary(value: str) -> str | None:
    """The Vary value once ``Cookie`` is in it, from the first Vary line's (``""`` when none); None: keep it."""
    if "cookie" not in value.lower() and value.strip() != "*":
        return f"{value}, Cookie" if value else "Cookie"
    return None


def cache_control(value: str) -> str:
    """The Cache-Control value for one visitor's page, from the first line's: ``private`` unless ``private`` or
    ``no-store`` is there already, and nothing that lets a shared cache keep it (``public``, ``s-maxage``)."""
    cache = [d.strip() for d in value.split(",") if d.strip()]
    cache = [d for d in cache if d.lower() not in ("public",) and not d.lower().startswith("s-maxage")]
    if not any(d.lower() in ("private", "no-store") for d in cache):
        cache.insert(0, "private")
    return ", ".join(cache)


set_cookie_suffix = cookie_attributes  # what follows name=value; Max-Age=n; Path=/; SameSite=Lax in every line

# (name, max_age, suffix) -> the bytes of a Set-Cookie line before and after its value: a few names and lifetimes.
_cookie_parts: dict[tuple[str, int, str], tuple[bytes, bytes]] = {}
_MAX_COOKIE_PARTS = 64


def set_cookies(cookies: Iterable[CookieValue], suffix: str) -> list[tuple[bytes, bytes]]:
    """The Set-Cookie lines, ``suffix`` (from :func:`set_cookie_suffix`) after each cookie's own attributes.

    Each line is ``cookie.line(suffix)`` in Latin-1, written from its value and the bytes around it, kept per name,
    lifetime and suffix (Latin-1 encodes character by character: the parts' bytes joined are the line's)."""
    lines = []
    for cookie in cookies:
        max_age = cookie.max_age
        parts = _cookie_parts.get((cookie.name, max_age, suffix)) if type(max_age) is int else None
        if parts is None:
            # The line around a value no name or suffix holds: what it is around any value.
            around = replace(cookie, value="\0").line(suffix).split("\0")
            if type(max_age) is not int or type(cookie.name) is not str or len(around) != 2:
                lines.append((_SET_COOKIE, cookie.line(suffix).encode("latin-1")))
                continue
            parts = (around[0].encode("latin-1"), around[1].encode("latin-1"))
            if len(_cookie_parts) >= _MAX_COOKIE_PARTS:
                _cookie_parts.clear()
            _cookie_parts[cookie.name, max_age, suffix] = parts
        lines.append((_SET_COOKIE, cookie.value.encode("latin-1").join(parts)))  # parts[0] + value + parts[1]
    return lines


def page_headers(
    raw: Iterable[tuple[bytes, bytes]],
    *,
    length: int | None,
    cookies: Sequence[tuple[bytes, bytes]],
    timing: str,
    debug: str | None = None,
) -> list[tuple[bytes, bytes]]:
    """The response's header lines, from the app's, in one pass. Equal to, on a ``MutableHeaders`` of ``raw``:

    when ``length`` is given (the body changed), every STALE_HEADERS line deleted and ``content-length`` set;
    then each of ``cookies`` appended; ``vary`` set when :func:`vary` says so; ``cache-control`` set to
    :func:`cache_control`; ``server-timing: timing`` appended; ``x-target-actions: debug`` set when given. Setting
    a name keeps its first line's place (appended when there is none) and drops its later lines.
    """
    out: list[tuple[bytes, bytes]] = []
    seen_length = seen_cache = seen_debug = False
    vary_state = 0  # 0: no Vary line yet; 1: the first was replaced, later ones go; 2: Vary lines kept as they are
    for item in raw:
        key = item[0]
        if key not in _EDITED:
            out.append(item)
        elif key == _VARY:
            if vary_state == 0:
                new = vary(item[1].decode("latin-1"))
                vary_state = 2 if new is None else 1
                out.append(item if new is None else (_VARY, new.encode("latin-1")))
            elif vary_state == 2:
                out.append(item)
        elif key == _CACHE:
            if not seen_cache:
                seen_cache = True
                out.append((_CACHE, cache_control(item[1].decode("latin-1")).encode("latin-1")))
        elif key == _LENGTH:
            if length is None:
                out.append(item)
            elif not seen_length:
                seen_length = True
                out.append((_LENGTH, str(length).encode()))
        elif key == _DEBUG:
            if debug is None:
                out.append(item)
            elif not seen_debug:
                seen_debug = True
                out.append((_DEBUG, debug.encode("latin-1")))
        elif length is None:  # a stale validator: it goes only with the body it was computed for
            out.append(item)
    if length is not None and not seen_length:
        out.append((_LENGTH, str(length).encode()))
    out.extend(cookies)
    if vary_state == 0:
        out.append((_VARY, b"Cookie"))
    if not seen_cache:
        out.append((_CACHE, b"private"))
    out.append((_TIMING, timing.encode("latin-1")))
    if debug is not None and not seen_debug:
        out.append((_DEBUG, debug.encode("latin-1")))
    return out
