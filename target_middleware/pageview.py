"""What the middleware asks Target for one request: the rule's params resolved, the offers request, the visitor.

One function, used by the middleware for every matched request and by ``explain()``, so the two never differ.
A rule with nothing to call (no params or identity callables) is read straight from the scope
(:func:`page_view_from_scope`); one with callables gets a Starlette ``Request`` to call them with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from starlette.requests import Request, cookie_parser
from starlette.types import Scope

from .amcv import amcv_cookie_name
from .analytics import PageViewAnalytics
from .delivery.context import PageContext
from .delivery.offers import OffersRequest
from .delivery.params import Mbox
from .frozen import builder
from .identity import CustomerIdsSource, ThirdPartyIdSource, identify, identify_without_request
from .pageurl import page_url
from .qa import qa_mode_from_query, trace_from_query
from .routing import MboxRule, ParamsSource, RouteMatch, resolve_params
from .visitor import Visitor, returning_visitor

__all__ = ["PageView", "ScopedPageViews", "needs_request", "page_view", "page_view_from_scope"]


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
    rule = match.rule
    if not needs_request(rule, customer_ids, third_party_id):
        return page_view_from_scope(
            scope,
            rule,
            qa_mode=qa_mode,
            trace=trace,
            analytics=analytics,
            deferred_display=deferred_display,
            organization_id=organization_id,
            customer_ids=customer_ids,
            third_party_id=third_party_id,
        )
    return await _page_view_with_request(
        scope,
        match,
        qa_mode=qa_mode,
        trace=trace,
        analytics=analytics,
        deferred_display=deferred_display,
        organization_id=organization_id,
        customer_ids=customer_ids,
        third_party_id=third_party_id,
    )


async def _page_view_with_request(
    scope: Scope,
    match: RouteMatch,
    *,
    qa_mode: bool,
    trace: bool,
    analytics: PageViewAnalytics | None,
    deferred_display: bool,
    organization_id: str,
    customer_ids: CustomerIdsSource,
    third_party_id: ThirdPartyIdSource,
) -> PageView:
    """:func:`page_view` the general way: a Starlette ``Request`` for the rule's callables, its ``url``, every
    header decoded (and the reference :func:`page_view_from_scope` is tested against)."""
    rule = match.rule
    customer_ids = rule.customer_ids if rule.customer_ids is not None else customer_ids
    third_party_id = rule.third_party_id if rule.third_party_id is not None else third_party_id
    request = Request({**scope, "path_params": match.path_params})
    params = await resolve_params(rule.params, request)
    profile = await resolve_params(rule.profile_params, request)
    mbox_params = {**params, **{f"profile.{key}": value for key, value in profile.items()}}
    headers = _first_values(scope)
    client = scope.get("client")
    query = scope.get("query_string", b"").decode("latin-1")
    offers = OffersRequest(
        mboxes=[Mbox(name, mbox_params) for name in rule.mboxes],
        prefetch_views=rule.views,
        page=PageContext.from_headers(str(request.url), headers, client_ip=client[0] if client else None),
        qa_mode=qa_mode_from_query(query) if qa_mode and query else None,
        trace=trace_from_query(query) if trace and query else None,
        deferred_display=deferred_display,
        analytics=analytics,
        read_only=True,  # the middleware only reads the answer (an app's decisions() gets its own copy)
    )
    cookies = cookie_parser(headers.get("cookie", ""))
    visitor = await identify(
        Visitor.from_cookies(cookies),
        cookies,
        request,
        organization_id=organization_id,
        customer_ids=customer_ids,
        third_party_id=third_party_id,
    )
    return PageView(offers, visitor, params, profile)


def page_view_from_scope(
    scope: Scope,
    rule: MboxRule,
    *,
    qa_mode: bool,
    trace: bool,
    analytics: PageViewAnalytics | None = None,
    deferred_display: bool = False,
    organization_id: str = "",
    customer_ids: CustomerIdsSource = None,
    third_party_id: ThirdPartyIdSource = None,
) -> PageView:
    """:func:`page_view` for a rule with nothing to call (see :func:`needs_request`), read from the scope alone
    (see :class:`ScopedPageViews`)."""
    views = ScopedPageViews(
        rule,
        qa_mode=qa_mode,
        trace=trace,
        deferred_display=deferred_display,
        organization_id=organization_id,
        customer_ids=customer_ids,
        third_party_id=third_party_id,
    )
    return views(scope, analytics)


class ScopedPageViews:
    """The page views of one rule that calls nothing of the app (see :func:`needs_request`), under one
    middleware's options: what :func:`page_view` gives, read from the scope alone.

    What is the same for every request is worked out once (the rule's or else the middleware's ids, a bare rule's
    Mbox values, read-only, the AMCV cookie's names). Per request it skips the Starlette ``Request`` and its ``URL``
    (:func:`page_url` builds the same string), decodes only the headers it reads (the first of each, as
    ``Headers.get``), reads the ids only when there is something to read (an AMCV cookie, the app's ids), and builds
    the OffersRequest and PageView without checking again what is known good. It raises where the general path
    raises (no ``headers`` or ``path`` in the scope, a query string that is not UTF-8).
    """

    amcv_names: tuple[str, ...]

    __slots__ = (
        "amcv_names",
        "customer_ids",
        "deferred_display",
        "organization_id",
        "plain",
        "qa_mode",
        "rule",
        "third_party_id",
        "trace",
    )

    def __init__(
        self,
        rule: MboxRule,
        *,
        qa_mode: bool,
        trace: bool,
        deferred_display: bool,
        organization_id: str,
        customer_ids: CustomerIdsSource,
        third_party_id: ThirdPartyIdSource,
    ) -> None:
        if needs_request(rule, customer_ids, third_party_id):
            raise TypeError("the rule or the middleware has callables: use page_view")
        self.rule, self.qa_mode, self.trace, self.deferred_display = rule, qa_mode, trace, deferred_display
        self.organization_id = organization_id
        self.customer_ids = rule.customer_ids if rule.customer_ids is not None else customer_ids
        self.third_party_id = rule.third_party_id if rule.third_party_id is not None else third_party_id
        # No ids of the app's: only an AMCV cookie can give identify() something to add.
        self.plain = self.customer_ids is None and self.third_party_id is None
        # read_amcv's two names; no organization: it reads nothing
        self.amcv_names = (amcv_cookie_name(organization_id), f"AMCV_{organization_id}") if organization_id else ()

    def __call__(self, scope: Scope, analytics: PageViewAnalytics | None = None) -> PageView:
        offers, visitor = self.read(scope, analytics)
        rule = self.rule
        if rule._bare_mboxes is not None:  # no params, no profile params
            return _new_page_view(offers, visitor, {}, {})
        return _new_page_view(offers, visitor, _static_params(rule.params), _static_params(rule.profile_params))

    def read(self, scope: Scope, analytics: PageViewAnalytics | None = None) -> tuple[OffersRequest, Visitor]:
        """What a decision needs of the page view: its offers request and visitor (no PageView to make for it)."""
        rule = self.rule
        mboxes = rule._bare_mboxes
        if mboxes is None:
            params, profile = _static_params(rule.params), _static_params(rule.profile_params)
            mbox_params = {**params, **{f"profile.{key}": value for key, value in profile.items()}}
            mboxes = tuple(Mbox(name, mbox_params) for name in rule.mboxes)
        # dict(reversed(scope["headers"])) (the first of a repeated name wins, as Headers.get reads it), made on a
        # copy of _READ: every name read below is there, None when the request has no such header, so one itemgetter
        # call reads several (~250 instructions a name less than a get call each).
        headers: dict[bytes, bytes | None] = _READ.copy()
        headers.update(reversed(scope["headers"]))
        client = scope.get("client")
        # PageContext.from_raw_headers's value, its browser's part (user agent, client hints) remembered when there
        # are client hints (Chromium's requests), else read as it reads it. The key is the values of _AGENT_HEADERS,
        # in order.
        key = _agent_values(headers)
        browser = _BROWSERS.get(key)
        if browser is not None:
            user_agent, hints = browser
        elif key[1:] == _NO_HINTS:  # not Chromium: the user agent alone, not kept (browsers without hints are many)
            agent = key[0]
            user_agent, hints = agent.decode("latin-1") if agent else None, None
        else:
            user_agent, hints = _browser(key)
        referer, cookie = _page_values(headers)
        page = _new_page_context(
            page_url(scope, headers),
            referer.decode("latin-1") if referer else None,
            user_agent,
            hints,
            client[0] if client else None,
            None,
        )
        qa = trace = None
        if self.qa_mode or self.trace:
            query = scope.get("query_string", b"").decode("latin-1")
            qa = qa_mode_from_query(query) if self.qa_mode and query else None
            trace = trace_from_query(query) if self.trace and query else None
        offers = _new_offers_request(
            mboxes,
            (),
            False,
            rule.views,
            qa,
            trace,
            page,
            analytics,
            self.deferred_display,
            True,  # read_only, as page_view's
        )
        text = cookie.decode("latin-1") if cookie is not None else ""
        # A returning visitor with nothing for identify() to add: no cookies' dict to make (see returning_visitor).
        if self.plain and "AMCV_" not in text and (visitor := returning_visitor(text)) is not None:
            return offers, visitor
        cookies = cookie_parser(text)
        visitor = Visitor.from_cookies(cookies)
        names = self.amcv_names
        if (
            self.customer_ids is not None
            or self.third_party_id is not None
            or (names and (names[0] in cookies or names[1] in cookies))
        ):  # else identify() finds nothing to add
            visitor = identify_without_request(
                visitor,
                cookies,
                organization_id=self.organization_id,
                customer_ids=self.customer_ids,
                third_party_id=self.third_party_id,
            )
        return offers, visitor


# What PageContext.from_raw_headers reads of a browser: its User-Agent and client hints (Sec-CH-UA-*), a few
# values for all of a site's visitors (never one of a visitor's own). Their values -> the page context's user agent
# and client hints (read-only: shared by every page view that has them), the last _MAX_BROWSERS seen (cleared when
# full). The referer and the URL are the page's, read each time. (Tested against from_raw_headers with every subset
# of the headers it reads: one more read there fails that test rather than being left out of this key.)
_AGENT_HEADERS = (
    b"user-agent",
    b"sec-ch-ua",
    b"sec-ch-ua-mobile",
    b"sec-ch-ua-platform",
    b"sec-ch-ua-model",
    b"sec-ch-ua-platform-version",
    b"sec-ch-ua-full-version-list",
    b"sec-ch-ua-arch",
    b"sec-ch-ua-bitness",
)
_NO_HINTS = (None,) * (len(_AGENT_HEADERS) - 1)
_agent_values = itemgetter(*_AGENT_HEADERS)  # their values in order: one call, not nine
# ... and the page's own: its Referer and Cookie (page_url reads the Host)
_page_values = itemgetter(b"referer", b"cookie")
# Every name read above (each None until a header gives it a value): a request's headers go on a copy of it.
_READ = dict.fromkeys((*_AGENT_HEADERS, b"referer", b"cookie", b"host"))

_BROWSERS: dict[tuple[bytes | None, ...], tuple[str | None, Mapping[str, Any] | None]] = {}
_MAX_BROWSERS = 256
_MAX_BROWSER_BYTES = 2048  # a browser's headers longer than that in all are read each time, not kept


def _browser(agent: tuple[bytes | None, ...]) -> tuple[str | None, Mapping[str, Any] | None]:
    """A page context's user agent and client hints for these values of _AGENT_HEADERS, remembered."""
    read = PageContext.from_raw_headers(
        None, {name: value for name, value in zip(_AGENT_HEADERS, agent, strict=True) if value is not None}
    )
    hints = read.client_hints
    browser = read.user_agent, None if hints is None else MappingProxyType(dict(hints))
    if sum(len(value) for value in agent if value is not None) <= _MAX_BROWSER_BYTES:
        if len(_BROWSERS) >= _MAX_BROWSERS:
            _BROWSERS.clear()
        _BROWSERS[agent] = browser
    return browser


def needs_request(rule: MboxRule, customer_ids: CustomerIdsSource, third_party_id: ThirdPartyIdSource) -> bool:
    """Whether a page view of ``rule`` calls the app (its params or profile params, its own or else the
    middleware's ``customer_ids`` or ``third_party_id``): then it needs a Starlette ``Request`` to call them with."""
    return (
        callable(rule.params)
        or callable(rule.profile_params)
        or callable(rule.customer_ids if rule.customer_ids is not None else customer_ids)
        or callable(rule.third_party_id if rule.third_party_id is not None else third_party_id)
    )


def _static_params(source: ParamsSource) -> dict[str, Any]:
    """``resolve_params`` for a mapping or None: no request, nothing to await."""
    if callable(source):
        raise TypeError("a callable source needs the request: use resolve_params")
    return {} if source is None else dict(source)


def _first_values(scope: Scope) -> dict[str, str]:
    """The request's headers by name, the first of a repeated one winning: what ``Headers(scope=scope).get`` reads,
    in one pass rather than a scan of the list per header."""
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in reversed(scope.get("headers") or ())}


_new_offers_request = builder(OffersRequest)
_new_page_context = builder(PageContext)
_new_page_view = builder(PageView)
