"""What the middleware asks Target for one request: the rule's params resolved, the offers request, the visitor.

One function, used by the middleware for every matched request and by ``explain()``, so the two never differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request, cookie_parser
from starlette.types import Scope

from .analytics import PageViewAnalytics
from .delivery.context import PageContext
from .delivery.offers import OffersRequest
from .delivery.params import Mbox
from .identity import CustomerIdsSource, ThirdPartyIdSource, identify
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


async def page_view(
    scope: Scope,
    match: RouteMatch,
    *,
    qa_mode: bool,
    trace: bool,
    analytics: PageViewAnalytics | None = None,
    deferred_display: bool = False,
    organization_id: str = "",
    customer_ids: CustomerIdsSource = None,
    third_party_id: ThirdPartyIdSource = None,
) -> PageView:
    """The decision request for ``scope`` under ``match``, the visitor with all its ids (the AMCV cookie, the
    rule's or else the middleware's customer ids and thirdPartyId); raises what the rule's callables raise."""
    request = Request({**scope, "path_params": match.path_params})
    params = await resolve_params(match.rule.params, request)
    profile = await resolve_params(match.rule.profile_params, request)
    mbox_params = {**params, **{f"profile.{key}": value for key, value in profile.items()}}
    headers = _first_values(scope)
    client = scope.get("client")
    query = scope.get("query_string", b"").decode("latin-1")
    offers = OffersRequest(
        mboxes=[Mbox(name, mbox_params) for name in match.rule.mboxes],
        prefetch_views=match.rule.views,
        page=PageContext.from_headers(str(request.url), headers, client_ip=client[0] if client else None),
        qa_mode=qa_mode_from_query(query) if qa_mode and query else None,
        trace=trace_from_query(query) if trace and query else None,
        deferred_display=deferred_display,
        analytics=analytics,
    )
    cookies = cookie_parser(headers.get("cookie", ""))
    rule = match.rule
    visitor = await identify(
        Visitor.from_cookies(cookies),
        cookies,
        request,
        organization_id=organization_id,
        customer_ids=rule.customer_ids if rule.customer_ids is not None else customer_ids,
        third_party_id=rule.third_party_id if rule.third_party_id is not None else third_party_id,
    )
    return PageView(offers, visitor, params, profile)


def _first_values(scope: Scope) -> dict[str, str]:
    """The request's headers by name, the first of a repeated one winning: what ``Headers(scope=scope).get`` reads,
    in one pass rather than a scan of the list per header."""
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in reversed(scope.get("headers") or ())}
