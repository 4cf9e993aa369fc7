"""What the server knows about the page view, as the Delivery API's ``context``.

Only named facts are lifted out of the inbound request (URL, referrer, user agent, client hints, optionally
the client IP). Inbound headers themselves are never sent upstream, so Cookie, Authorization and X-Forwarded-*
cannot leak to Target.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..frozen import builder

__all__ = ["PageContext", "server_time_offset_minutes"]

_MAX_URL = 4096

# Sec-CH-UA-* request header -> ClientHints field. Structured-field strings ("Windows") lose their quotes.
_HINTS = {
    "sec-ch-ua-model": "model",
    "sec-ch-ua-platform": "platform",
    "sec-ch-ua-platform-version": "platformVersion",
    "sec-ch-ua": "browserUAWithMajorVersion",
    "sec-ch-ua-full-version-list": "browserUAWithFullVersion",
    "sec-ch-ua-arch": "architecture",
    "sec-ch-ua-bitness": "bitness",
}
_UNQUOTE = {"model", "platform", "platformVersion", "architecture", "bitness"}
_RAW_HINTS = tuple((header.encode("latin-1"), field, field in _UNQUOTE) for header, field in _HINTS.items())
_HINT_HEADERS = frozenset((b"sec-ch-ua-mobile", *(header for header, _, _ in _RAW_HINTS)))


def server_time_offset_minutes(now: float | None = None) -> float:
    """This server's UTC offset at ``now`` (by default, now), like the SDKs' default ``timeOffsetInMinutes``.

    Read from ``time.localtime`` once a minute (a time zone's offset changes on a whole minute, and
    ``time.localtime`` checks the zone's file on each call: most of a page's context) and again after
    ``time.tzset()``.
    """
    now = time.time() if now is None else now
    minute, zone, offset = _offset[0]
    if minute != now // 60 or zone is not time.tzname:
        offset = (time.localtime(now).tm_gmtoff or 0) / 60
        _offset[0] = (now // 60, time.tzname, offset)
    return offset


# The last offset read: (the minute it holds for, since the epoch; time.tzname then; the offset).
_offset: list[tuple[float, tuple[str, str] | None, float]] = [(-1.0, None, 0.0)]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@dataclass(frozen=True, slots=True)
class PageContext:
    url: str | None = None
    referring_url: str | None = None
    user_agent: str | None = None
    client_hints: Mapping[str, Any] | None = None
    ip_address: str | None = None
    time_offset_minutes: float | None = None

    @classmethod
    def from_headers(cls, url: str | None, headers: Mapping[str, str], *, client_ip: str | None = None) -> PageContext:
        """Lift the facts Target uses out of inbound headers (case-insensitive mapping, or lower-case keys).

        ``client_ip`` should be the peer address the app trusts; X-Forwarded-For is not read here.
        """
        hints: dict[str, Any] = {}
        mobile = headers.get("sec-ch-ua-mobile")
        if mobile in ("?0", "?1"):
            hints["mobile"] = mobile == "?1"
        for header, field in _HINTS.items():
            value = headers.get(header)
            if value:
                hints[field] = _unquote(value) if field in _UNQUOTE else value
        return cls(
            url=url,
            referring_url=headers.get("referer") or None,
            user_agent=headers.get("user-agent") or None,
            client_hints=hints or None,
            ip_address=client_ip,
        )

    @classmethod
    def from_raw_headers(
        cls, url: str | None, headers: Mapping[bytes, bytes], *, client_ip: str | None = None
    ) -> PageContext:
        """:meth:`from_headers` over the raw ASGI headers as bytes (lower-case names, the first of a repeated one):
        the same value, decoding only the few headers it reads rather than every one, built without the frozen
        stores (no field of a PageContext is checked: see ``frozen``)."""
        hints: dict[str, Any] = {}
        if not _HINT_HEADERS.isdisjoint(headers):  # one pass in C; most requests (not Chromium's) have none
            mobile = headers.get(b"sec-ch-ua-mobile")
            if mobile in {b"?0", b"?1"}:
                hints["mobile"] = mobile == b"?1"
            for header, field, unquote in _RAW_HINTS:
                raw = headers.get(header)
                if raw:
                    value = raw.decode("latin-1")
                    hints[field] = _unquote(value) if unquote else value
        referer, agent = headers.get(b"referer"), headers.get(b"user-agent")
        return _new_page_context(
            url,
            referer.decode("latin-1") if referer else None,
            agent.decode("latin-1") if agent else None,
            hints or None,
            client_ip,
            None,
        )

    def to_json(self, *, send_ip_address: bool) -> dict[str, Any]:
        context: dict[str, Any] = {"channel": "web"}
        address = {}
        if self.url:
            address["url"] = self.url[:_MAX_URL]
        if self.referring_url:
            address["referringUrl"] = self.referring_url[:_MAX_URL]
        if address:
            context["address"] = address
        if self.user_agent:
            context["userAgent"] = self.user_agent
        if self.client_hints:
            context["clientHints"] = dict(self.client_hints)
        if send_ip_address and self.ip_address:
            # not an address: no geo rather than garbage
            with contextlib.suppress(ValueError):
                context["geo"] = {"ipAddress": str(ipaddress.ip_address(self.ip_address.strip()))}
        offset = self.time_offset_minutes
        context["timeOffsetInMinutes"] = server_time_offset_minutes() if offset is None else offset
        return context


_new_page_context = builder(PageContext)
