"""What Target decided for one request, and what of it lands on the page.

:class:`Decisions` is what the app sees (json offers for its templates, response tokens); :func:`page_plan`
turns the decided options into the actions the middleware applies: ``actions`` options as they are, ``html``
options into the selector configured for their mbox (at.js ``applyOffer`` defaults to ``head``), click metrics as
marks, and the first ``redirect`` as the URL to send the visitor to. ``json`` is data for the app, never rendered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .analytics import AnalyticsPayload, analytics_payloads, supplemental_data_id_of
from .delivery.models import MboxResult, Metric, MetricType, Option, OptionType, PageLoadResult
from .delivery.notifications import NotificationOutcome
from .delivery.offers import OffersResult
from .delivery.shared import owned
from .frozen import builder
from .handoff import server_state

if TYPE_CHECKING:
    from starlette.types import Scope

    from .tracking import Tracking

__all__ = ["Decisions", "PagePlan", "TargetRequest", "checked_redirect", "page_plan"]

DEFAULT_HTML_SELECTOR = "head"
# Control characters, and the backslash: browsers read it as '/' in http(s) URLs, urlsplit does not, so
# "https://evil.example\\@shop.example/" would pass an allow-list for shop.example and land on evil.example.
_REFUSED = frozenset((*(chr(c) for c in (*range(0x20), 0x7F)), "\\"))
# Everything printable in ASCII stays as it is; only what a header cannot carry is percent-encoded.
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


@dataclass(frozen=True, slots=True)
class Decisions:
    """Target's answer for this request's mboxes."""

    result: OffersResult

    def json_offers(self, mbox: str | None = None) -> list[Any]:
        """The content of every ``json`` option, for one mbox or for all of them (page load included)."""
        found: list[Any] = []
        for name, options in _options(self.result):
            if mbox is None or name == mbox:
                found.extend(o.content for o in options if o.type is OptionType.JSON)
        return found

    @property
    def response_tokens(self) -> tuple[Mapping[str, Any], ...]:
        return self.result.response_tokens

    @property
    def mboxes(self) -> tuple[MboxResult, ...]:
        return self.result.mboxes

    @property
    def page_load(self) -> PageLoadResult | None:
        return self.result.page_load

    @property
    def supplemental_data_id(self) -> str | None:
        """A4T server-side: the SDID this page view's Delivery request carried (give it to the page's Analytics hit)."""
        return supplemental_data_id_of(self.result.request)

    @property
    def analytics_payloads(self) -> tuple[AnalyticsPayload, ...]:
        """A4T client-side: every ``analytics.payload`` Target answered (mboxes, page load, click metrics)."""
        return analytics_payloads(self.result.raw)

    def server_state(self) -> dict[str, Any] | None:
        """``{request, response}`` for at.js's ``targetGlobalSettings.serverState``, for apps that render their own
        ``<script>`` (serialize it with ``target_middleware.pagebytes.script_json``): the whole page load and the
        prefetched views, for at.js to render in the browser. None when the request had neither.

        Not with the middleware's own ``handoff="atjs"`` on the same page, which already hands over what it did
        not apply (at.js would apply the rest twice).
        """
        return server_state(self.result)


@dataclass(frozen=True, slots=True)
class PagePlan:
    actions: list[dict[str, Any]] = field(default_factory=list)
    redirect: str | None = None
    # For each action, where it came from when it is a page-load option's: (option index, action index in the
    # option, -1 for an html option); None for regional mboxes and metrics. The at.js hand-off leaves out of
    # serverState what the server applied.
    origins: list[tuple[int, int] | None] = field(default_factory=list)


_new_plan = builder(PagePlan)  # one per request: without the frozen stores (see ``frozen``)


def _options(result: OffersResult) -> list[tuple[str | None, tuple[Option, ...]]]:
    found: list[tuple[str | None, tuple[Option, ...]]] = []
    page_load = result.page_load
    if page_load is not None:
        found.append((None, page_load.options))
    found.extend((m.name, m.options) for m in result.mboxes)
    return found


def page_plan(
    result: OffersResult, html_selectors: Mapping[str, str], global_mbox: str, *, page_load_clicks: bool = True
) -> PagePlan:
    """The actions to apply to the page, in the order Target sent them, and the redirect if any.

    ``page_load_clicks=False`` leaves the page-load click metrics out (at.js counts them from serverState).
    """
    actions: list[dict[str, Any]] = []
    origins: list[tuple[int, int] | None] = []
    page_load = result.page_load
    if page_load is not None:
        redirect = _plan_options(actions, origins, page_load.options, global_mbox, html_selectors, page_load=True)
        if redirect is not None:
            return PagePlan(redirect=redirect)
        if page_load_clicks:
            _plan_clicks(actions, origins, page_load.metrics)
    for mbox in result.mboxes:
        redirect = _plan_options(actions, origins, mbox.options, mbox.name, html_selectors, page_load=False)
        if redirect is not None:
            return PagePlan(redirect=redirect)
        _plan_clicks(actions, origins, mbox.metrics)
    return _new_plan(actions, None, origins)


def _plan_options(
    actions: list[dict[str, Any]],
    origins: list[tuple[int, int] | None],
    options: tuple[Option, ...],
    name: str,
    html_selectors: Mapping[str, str],
    *,
    page_load: bool,
) -> str | None:
    """One mbox's options onto the plan (``actions``, and ``origins`` beside them); the first redirect's URL."""
    for i, option in enumerate(options):
        kind = option.type
        if kind is OptionType.ACTIONS:
            content = option.content
            actions += [
                {"type": a.type, "selector": a.selector, "cssSelector": a.css_selector, "content": a.content}
                for a in content
            ]
            origins += [(i, j) for j in range(len(content))] if page_load else [None] * len(content)
        elif kind is OptionType.HTML:
            selector = html_selectors.get(name, DEFAULT_HTML_SELECTOR)
            actions.append({"type": "setHtml", "selector": selector, "content": option.content})
            origins.append((i, -1) if page_load else None)
        elif kind is OptionType.REDIRECT and isinstance(option.content, str):
            return option.content
    return None


def _plan_clicks(
    actions: list[dict[str, Any]], origins: list[tuple[int, int] | None], metrics: tuple[Metric, ...]
) -> None:
    for metric in metrics:
        if metric.type is MetricType.CLICK and metric.selector and metric.event_token:
            actions.append({"type": "click", "selector": metric.selector, "eventToken": metric.event_token})
            origins.append(None)


def checked_redirect(url: str, allowed_hosts: Collection[str] | None) -> str | None:
    """``url`` when it is an absolute http(s) URL safe to put in a Location header (and an allowed host)."""
    if not url or len(url) > 8192 or any(ch in _REFUSED for ch in url):
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    if allowed_hosts is not None and host.lower() not in allowed_hosts:
        return None
    if not parts.netloc.isascii():
        return None  # an internationalized host: refused rather than guessed at
    # A Location header is Latin-1 on the wire: percent-encode the rest, as a browser would before following it.
    return quote(url.strip(), safe=_URL_SAFE)


class TargetRequest:
    """What the middleware gives a request (``request.state.target``): the decision in flight, if its route has
    a rule, and ``track()`` on every route."""

    __slots__ = ("_deadline", "_decision", "_scope", "_tracking", "supplemental_data_id")

    def __init__(
        self,
        decision: asyncio.Future[OffersResult] | OffersResult | None,
        deadline: float,
        scope: Scope | None = None,
        tracking: Tracking | None = None,
        supplemental_data_id: str | None = None,
    ) -> None:
        # The decision in flight, or made already (its result: an on-device one, made before the app ran), or None.
        self._decision, self._deadline = decision, deadline
        self._scope, self._tracking = scope, tracking
        # A4T server-side: this page view's SDID, known before the decision (for the page's Analytics hit).
        self.supplemental_data_id = supplemental_data_id

    def release(self) -> None:
        """The request is over: keep its scope for a later ``track()`` (a task the app left running), but not the
        state that holds this handle. Scope -> state -> handle -> scope is a reference cycle that would keep every
        request's decision alive until the garbage collector looks for cycles (which it then does far more often)."""
        scope = self._scope
        state = scope.get("state") if scope is not None else None
        if scope is None or not isinstance(state, dict):
            return
        if len(state) == 1 and state.get("target") is self:  # as the middleware left it: nothing else to keep
            self._scope = _with_state(scope, {})
            return
        for value in state.values():  # a loop, not any(): no generator to make
            if value is self:
                self._scope = _with_state(scope, {key: value for key, value in state.items() if value is not self})
                return

    async def decisions(self) -> Decisions | None:
        """Target's decisions, awaited within what is left of the request's budget; None when they failed (or the
        route has no rule)."""
        decision = self._decision
        if decision is None:
            return None
        if isinstance(decision, OffersResult):  # awaited as the done future it stands for
            future: asyncio.Future[OffersResult] = asyncio.get_running_loop().create_future()
            future.set_result(decision)
            decision = future
        remaining = self._deadline - time.perf_counter()
        try:
            result = await asyncio.wait_for(asyncio.shield(decision), max(remaining, 0.0))
        except Exception:
            return None
        mine = owned(result)  # the app's own copy of what the answer shares with other requests, made once
        if mine is not result:
            self._decision = mine
        return Decisions(mine)

    async def track(
        self,
        mbox: str,
        *,
        params: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
        order: Mapping[str, Any] | None = None,
        wait: bool = False,
    ) -> NotificationOutcome:
        """at.js ``adobe.target.trackEvent`` for this request's visitor and page: a conversion for ``mbox``.

        ``order`` is ``{"orderId", "orderTotal", "productPurchasedId"}``. Sent in the background: ``queued`` at
        once (``dropped`` if the queue is full), or with ``wait=True`` ``sent`` / ``failed`` once Target
        answered. Never raises for Target's failures; bad params are a ValueError.
        """
        if self._tracking is None or self._scope is None:
            raise RuntimeError("track() needs TargetMiddleware in front of the app")
        visitor = None
        decision = self._decision
        if isinstance(decision, OffersResult):
            visitor = decision.visitor  # a first visit: the id this page's decision gave it
        elif decision is not None and decision.done() and not decision.cancelled() and decision.exception() is None:
            visitor = decision.result().visitor
        return await self._tracking.track(
            self._scope, visitor, mbox, params=params, profile=profile, order=order, wait=wait
        )


def _with_state(scope: Scope, state: dict[str, Any]) -> Scope:
    """``{**scope, "state": state}``, made as dict's copy where the scope is a dict (as an ASGI server's is): its
    table cloned, no key hashed and inserted again (~700 instructions less for a routed request's ~19 keys)."""
    kept: dict[str, Any] = scope.copy() if type(scope) is dict else dict(scope)
    kept["state"] = state
    return kept
