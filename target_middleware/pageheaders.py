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

__all__ = [
    "STALE_HEADERS",
    "HeaderEdit",
    "cache_control",
    "kept_edit",
    "page_headers",
    "read_page_headers",
    "set_cookie_suffix",
    "vary",
]

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
    return HeaderEdit(raw, changed=length is not None, debug=debug).lines(length, cookies, timing.encode("latin-1"))


class HeaderEdit:
    """:func:`page_headers` of one list of the app's lines, the body changed or not and one debug value, made once:
    all but the request's own parts (the Content-Length's value, the Set-Cookie lines, Server-Timing), which
    :meth:`lines` puts in. A rewrite-cache hit keeps the one it made last beside its rewrite (:func:`kept_edit`)."""

    __slots__ = ("_after", "_at", "_head", "_length", "_tail", "changed", "debug", "raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]], *, changed: bool, debug: str | None) -> None:
        self.raw = raw = list(raw)  # the app's lines it is the edit of (a copy: the app's list may change)
        self.changed, self.debug = changed, debug
        head: list[Any] = []
        at = -1  # where the Content-Length line goes in ``head`` (a changed body's)
        seen_cache = seen_debug = False
        vary_state = 0  # 0: no Vary line yet; 1: the first was replaced, later ones go; 2: Vary lines kept as they are
        for item in raw:
            key = item[0]
            if key not in _EDITED:
                head.append(item)
            elif key == _VARY:
                if vary_state == 0:
                    new = vary(item[1].decode("latin-1"))
                    vary_state = 2 if new is None else 1
                    head.append(item if new is None else (_VARY, new.encode("latin-1")))
                elif vary_state == 2:
                    head.append(item)
            elif key == _CACHE:
                if not seen_cache:
                    seen_cache = True
                    head.append((_CACHE, cache_control(item[1].decode("latin-1")).encode("latin-1")))
            elif key == _LENGTH:
                if not changed:
                    head.append(item)
                elif at < 0:
                    at = len(head)
                    head.append(None)
            elif key == _DEBUG:
                if debug is None:
                    head.append(item)
                elif not seen_debug:
                    seen_debug = True
                    head.append((_DEBUG, debug.encode("latin-1")))
            elif not changed:  # a stale validator: it goes only with the body it was computed for
                head.append(item)
        if changed and at < 0:
            at = len(head)
            head.append(None)
        after = []  # after the Set-Cookie lines, before Server-Timing
        if vary_state == 0:
            after.append((_VARY, b"Cookie"))
        if not seen_cache:
            after.append((_CACHE, b"private"))
        self._head, self._at, self._after = head, at, after
        self._tail = [(_DEBUG, debug.encode("latin-1"))] if debug is not None and not seen_debug else []
        # The last Content-Length line made: the responses of one rewrite are mostly of one length.
        self._length: tuple[int | None, tuple[bytes, bytes]] = (None, (_LENGTH, b""))

    def lines(
        self, length: int | None, cookies: Sequence[tuple[bytes, bytes]], timing: bytes
    ) -> list[tuple[bytes, bytes]]:
        """The response's lines (a new list): ``length`` is the changed body's (ignored when it did not change),
        ``timing`` Server-Timing's value in Latin-1."""
        out = self._head.copy()
        if self._at >= 0:
            kept = self._length
            if kept[0] != length or type(length) is not int:
                kept = self._length = (length, (_LENGTH, str(length).encode()))
            out[self._at] = kept[1]
        out += cookies
        out += self._after
        out.append((_TIMING, timing))
        if self._tail:
            out += self._tail
        return out


_EDIT = object()  # a HeaderEdit's place in a rewrite's memo


def kept_edit(
    memo: dict[object, Any], raw: Sequence[tuple[bytes, bytes]], *, changed: bool, debug: str | None
) -> HeaderEdit:
    """``HeaderEdit(raw, changed=changed, debug=debug)``: the one last made with ``memo`` (a rewrite's) when it was
    made of lines equal to ``raw`` (a list compare, in C: no hash of the lines), else a new one kept there instead.

    Equal lines, equal flags: the same edit (it is a function of them). Lines that change per response (a CSP with
    a fresh nonce) make a new edit each time, as ``page_headers`` does, and only the compare is added."""
    edit: HeaderEdit | None = memo.get(_EDIT)
    if edit is not None and edit.changed is changed and edit.debug == debug and edit.raw == raw:
        return edit
    edit = HeaderEdit(raw, changed=changed, debug=debug)
    memo[_EDIT] = edit
    return edit
