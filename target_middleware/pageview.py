"""What the middleware asks Target for one request: the rule's params resolved, the offers request, the visitor.

One function, used by the middleware for every matched request and by ``explain()``, so the two never differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.types import Scope

from .delivery.context import PageContext
from .delivery.offers import OffersRequest
from .delivery.params import Mbox
from .qa import qa_mode_from_query, trace_from_query
from .routing import RouteMatch, resolve_params
from .visitor import Visitor

__all__ = ["PageView", "page_view"]


@dataclass(frozen=True, slots=True)
class PageView:
    offers: OffersRequest
    visitor: Visitor
    params: dict[str, Any]  # the rule's params for this request
    profile_params: dict[str, Any]  # ... and its profile params (sent as profile.<name>)


async def page_view(scope: Scope, match: RouteMatch, *, qa_mode: bool, trace: bool) -> PageView:
    """The decision request for ``scope`` under ``match``; raises what the rule's params callables raise."""
    request = Request({**scope, "path_params": match.path_params})
    params = await resolve_params(match.rule.params, request)
    profile = await resolve_params(match.rule.profile_params, request)
    mbox_params = {**params, **{f"profile.{key}": value for key, value in profile.items()}}
    headers = Headers(scope=scope)
    client = scope.get("client")
    query = scope.get("query_string", b"").decode("latin-1")
    offers = OffersRequest(
        mboxes=[Mbox(name, mbox_params) for name in match.rule.mboxes],
        prefetch_views=match.rule.views,
        page=PageContext.from_headers(str(request.url), headers, client_ip=client[0] if client else None),
        qa_mode=qa_mode_from_query(query) if qa_mode and query else None,
        trace=trace_from_query(query) if trace and query else None,
    )
    visitor = Visitor.from_cookies(cookie_parser(headers.get("cookie", "")))
    return PageView(offers, visitor, params, profile)
