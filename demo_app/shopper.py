"""Who the shopper is: an Experience Cloud ID as Adobe's Visitor API would set it, and a demo sign-in.

A site with Adobe's Visitor API (or the Web SDK) has an ``AMCV_{orgId}`` cookie holding the visitor's Experience
Cloud ID (``MCMID``) before Target is asked anything. The demo has no Adobe script, so :class:`DemoVisitorId` plays
that part: a visitor without the cookie gets a fresh ECID, in the request the middleware reads (so even the first
page is decided for it) and in a ``Set-Cookie``. ``/login?user=NAME`` signs the shopper in (a plain cookie, for the
demo only: no password, nothing secret) and :func:`customer_ids` tells Target who that is.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_middleware.identity import amcv_cookie_name, read_amcv

__all__ = [
    "USER_COOKIE",
    "DemoVisitorId",
    "amcv_cookie_name",
    "customer_ids",
    "ecid_from_cookies",
    "signed_in_user",
    "valid_user",
]

USER_COOKIE = "trailhead_user"
INTEGRATION_CODE = "trailhead"  # the customer-attribute source's integration code in the Experience Cloud
_USER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_TWO_YEARS = 2 * 365 * 24 * 3600


def ecid_from_cookies(cookies: Mapping[str, str], organization_id: str) -> str | None:
    """The ECID (``MCMID``) of the ``AMCV`` cookie as the middleware reads it: None when there is no valid one."""
    found = read_amcv(cookies, organization_id)
    return found.marketing_cloud_visitor_id if found is not None else None


def valid_user(name: str | None) -> str | None:
    """A demo user name (lower-case letters, digits, ``-``, ``_``; up to 32), or None."""
    return name if name and _USER.match(name) else None


def signed_in_user(request: Request) -> str | None:
    return valid_user(request.cookies.get(USER_COOKIE))


def customer_ids(request: Request) -> list[dict[str, Any]]:
    """The signed-in shopper as a Target customer id (none when nobody is signed in)."""
    user = signed_in_user(request)
    if user is None:
        return []
    return [{"id": user, "integrationCode": INTEGRATION_CODE, "authenticatedState": "authenticated"}]


class DemoVisitorId:
    """Gives a visitor without an ``AMCV`` cookie an ECID, before anything downstream reads the cookies."""

    def __init__(self, app: ASGIApp, *, organization_id: str, skip: tuple[str, ...] = ("/static",)) -> None:
        self.app = app
        self.cookie = amcv_cookie_name(organization_id)
        self.organization_id = organization_id
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        if ecid_from_cookies(cookies, self.organization_id) is not None:
            await self.app(scope, receive, send)
            return
        ecid = f"{secrets.randbelow(10**19):019d}{secrets.randbelow(10**19):019d}"
        value = quote(f"MCMID|{ecid}|vVersion|5.5.0", safe="")
        scope = dict(scope)
        request_headers = MutableHeaders(raw=list(scope["headers"]))
        cookie = request_headers.get("cookie")
        request_headers["cookie"] = f"{cookie}; {self.cookie}={value}" if cookie else f"{self.cookie}={value}"
        scope["headers"] = request_headers.raw

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{self.cookie}={value}; Path=/; Max-Age={_TWO_YEARS}; SameSite=Lax"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
