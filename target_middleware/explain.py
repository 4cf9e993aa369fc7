"""``explain()``: what the middleware would do for a request, step by step, without sending anything.

For a debug page or a test: the rule that matches, the params and profile params it resolves, the Delivery API
request, Target's decision, and the page the app renders with that decision (the app is called as the middleware
calls it, with ``request.state.target`` set), the actions applied to it in a dry run, each with its outcome::

    @app.get("/_target")
    async def debug(request: Request, path: str = "/") -> dict:
        return (await explain(request.app, request, path=path)).to_dict()

The decision is made by the middleware's own client, on its own loop (the I/O thread for remote decisioning), with
the visitor's cookies from ``request``: the same experience the visitor gets. Nothing is counted in the stats.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from copy import copy as shallow_copy
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Scope

from .decisions import TargetRequest, checked_redirect, page_plan
from .delivery.offers import OffersResult
from .delivery.shared import owned
from .html import ActionReport
from .middleware import TargetMiddleware, _bypassed
from .personalize import _charset, eligible
from .rewritecache import RewriteCache
from .routing import MboxRule
from .visitor import Visitor

__all__ = ["Explanation", "explain", "find_target_middleware"]

# What a request for another page keeps of the request it is made from: the visitor's headers, not its route.
_KEPT = ("type", "asgi", "http_version", "scheme", "server", "client", "root_path", "headers", "app", "router")


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the middleware would do for one request. ``outcome`` is what it would count (``applied``,
    ``unchanged``, ``redirect``, ``not-eligible``, ``timeout``, ``error``, ``breaker-open``, ...) or ``no-rule``,
    ``bypassed``."""

    path: str
    outcome: str
    rule: MboxRule | None = None
    visitor: Visitor | None = None  # as the request's cookies name it, before the decision
    params: Mapping[str, Any] = field(default_factory=dict)
    profile_params: Mapping[str, Any] = field(default_factory=dict)
    delivery_request: Mapping[str, Any] | None = None  # the Delivery API request for the decision
    result: OffersResult | None = None  # Target's decision, when it came
    error: str | None = None  # why there is no decision, or no rewrite
    redirect: str | None = None  # a redirect offer's URL
    redirect_location: str | None = None  # ... and the Location the visitor gets, when it is allowed
    status: int | None = None  # the app's answer
    actions: tuple[ActionReport, ...] = ()  # each action in offer order: applied (to how many) or skipped (why)
    html: str | None = None  # the page as the visitor gets it
    timings_ms: Mapping[str, float] = field(default_factory=dict)  # decision, page (both from the start), apply

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: for a debug page, a log line or an API."""
        result = self.result
        return {
            "path": self.path,
            "outcome": self.outcome,
            "rule": None if self.rule is None else {"path": self.rule.path, "mboxes": list(self.rule.mboxes)},
            "visitor": None if self.visitor is None else {"returning": self.visitor.tnt_id is not None},
            "params": dict(self.params),
            "profile_params": dict(self.profile_params),
            "decisioning": None if result is None else result.decisioning.value,
            "mboxes": [] if result is None else _decided(result),
            "tokens": [] if result is None else [dict(t) for t in result.response_tokens],
            "error": self.error,
            "redirect": None if self.redirect is None else {"url": self.redirect, "location": self.redirect_location},
            "status": self.status,
            "actions": [_action(report) for report in self.actions],
            "timings_ms": dict(self.timings_ms),
        }


def find_target_middleware(app: ASGIApp) -> TargetMiddleware:
    """The ``TargetMiddleware`` in ``app``'s middleware stack (or ``app`` itself when it is one)."""
    node: Any = app
    for _ in range(100):
        if isinstance(node, TargetMiddleware):
            return node
        # Starlette and FastAPI build their stack on the first request; each middleware holds the next as .app.
        node = getattr(node, "middleware_stack", None) or getattr(node, "app", None)
        if node is None:
            break
    raise LookupError("no TargetMiddleware in this app's middleware stack (is the app serving requests yet?)")


async def explain(
    app: ASGIApp, request: Request, *, path: str | None = None, timeout: float | None = None
) -> Explanation:
    """What the middleware in ``app`` would do for ``request``, or for ``path`` (with query) with its headers.

    ``timeout`` is the decision's budget (the middleware's own by default). Never raises for what goes wrong
    with Target or the page: that is in ``outcome`` and ``error``. Raises LookupError without a TargetMiddleware.
    """
    middleware = find_target_middleware(app)
    scope = _page_scope(request.scope, path)
    shown = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
    match = middleware.rules.match(scope)
    if match is None:
        return Explanation(shown, "no-rule", error="no MboxRule matches: the page passes through untouched")
    if _bypassed(scope):
        return Explanation(shown, "bypassed", match.rule, error="mboxDisable or an authoring parameter is set")
    if not middleware.breaker.allow():
        return Explanation(shown, "breaker-open", match.rule, error="recent decisions failed: Target is not asked")
    budget = middleware.timeout if timeout is None else timeout
    started = time.perf_counter()
    timings: dict[str, float] = {}
    analytics = middleware.analytics.for_page_view() if middleware.analytics is not None else None
    try:
        view = await middleware._page_view(scope, match, analytics)
    except Exception as exc:
        return Explanation(shown, "error", match.rule, error=f"the rule's params failed: {type(exc).__name__}")
    found = Explanation(shown, "error", match.rule, view.visitor, view.params, view.profile_params)
    decision = middleware._submit(middleware.client.get_offers(view.offers, visitor=view.visitor, timeout=budget))
    sdid = analytics.supplemental_data_id if analytics is not None else None
    pending = TargetRequest(decision, started + budget, scope, middleware.tracking, sdid)
    scope["state"] = {**scope.get("state", {}), "target": pending}
    page = asyncio.ensure_future(_render(middleware.app, scope))  # beside the decision, as the middleware runs it
    try:
        result = await asyncio.wait_for(asyncio.shield(decision), budget)
    except Exception as exc:
        decision.cancel()  # a late answer is not wanted (nor its failure logged as never retrieved)
        page.cancel()
        page.add_done_callback(_retrieved)
        outcome = "timeout" if isinstance(exc, TimeoutError) else str(getattr(exc, "status", "error"))
        return _with(found, outcome=outcome, error=f"the decision failed: {type(exc).__name__}: {exc}")
    timings["decision"] = _ms(started)
    found = _with(found, result=owned(result), delivery_request=result.request, timings_ms=timings)
    return await _rewritten(middleware, scope, rule=match.rule, found=found, result=result, page=page, started=started)


async def _rewritten(
    middleware: TargetMiddleware,
    scope: Scope,
    *,
    rule: MboxRule,
    found: Explanation,
    result: OffersResult,
    page: asyncio.Future[tuple[Message, bytes]],
    started: float,
) -> Explanation:
    """The app's page, and what the middleware's own rewrite makes of it."""
    timings = found.timings_ms
    assert isinstance(timings, dict)
    # The middleware's own rewrite, without its cache: a dry run neither fills it nor counts its hits.
    personalizer = shallow_copy(middleware.personalizer)
    personalizer.rewrites = RewriteCache(0)
    try:
        start, body = await page
    except Exception as exc:  # the middleware lets it propagate; here it is the answer
        return _with(found, outcome="app-error", error=f"the app raised {type(exc).__name__}")
    timings["page"] = _ms(started)
    found = _with(found, status=start.get("status"))
    if not eligible(start, "GET", middleware.max_body_size) or len(body) > middleware.max_body_size:
        return _with(found, outcome="not-eligible", error="not a 200 HTML answer within max_body_size: sent as it is")
    redirect = page_plan(result, rule.html_selectors, personalizer.global_mbox).redirect
    if redirect is not None:
        found = _with(found, redirect=redirect)
        if checked_redirect(redirect, personalizer.redirect_hosts) is None:
            found = _with(found, error="the redirect offer is refused: not an allowed http(s) URL")
    applying = time.perf_counter()
    try:  # the middleware's own rewrite: the same actions, handoff and headers as the visitor's page
        copy = {**start, "headers": list(start["headers"])}
        start, body, outcome, applied = await personalizer.personalize(
            scope, copy, body, result, rule, started=applying
        )
    except Exception as exc:
        return _with(found, outcome="apply-error", error=f"the page could not be rewritten: {type(exc).__name__}")
    timings["apply"] = _ms(applying)
    headers = MutableHeaders(scope=start)
    if outcome == "redirect":
        return _with(found, outcome=outcome, redirect_location=headers["location"])
    reports = () if applied is None else tuple(sorted((*applied.applied, *applied.skipped), key=_index))
    encoding = applied.encoding if applied is not None else (_charset(headers) or "utf-8")
    return _with(found, outcome=outcome, actions=reports, html=body.decode(encoding, "replace"))


def _index(report: ActionReport) -> int:
    return report.index


def _page_scope(scope: Scope, path: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {key: scope[key] for key in _KEPT if key in scope}
    page_path, _, query = (path or scope["path"]).partition("?")
    if path is None:
        query = scope.get("query_string", b"").decode("latin-1")
    if not page_path.startswith("/"):
        raise ValueError(f"path must start with '/', like '/products/tent-2p', not {page_path!r}")
    page.update(method="GET", path=page_path, raw_path=page_path.encode(), query_string=query.encode("latin-1"))
    page["state"] = dict(scope.get("state") or {})
    return page


async def _render(app: ASGIApp, scope: dict[str, Any]) -> tuple[Message, bytes]:
    """The app's response to a GET of ``scope``: its start message and whole body."""
    done = asyncio.Event()
    start: Message = {}
    body: list[bytes] = []
    sent_request = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return start, b"".join(body)


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _with(explanation: Explanation, **changes: Any) -> Explanation:
    return replace(explanation, **changes)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _decided(result: OffersResult) -> list[dict[str, Any]]:
    sections: list[tuple[str, Any]] = []
    if result.page_load is not None:
        sections.append(("pageLoad", result.page_load))
    sections.extend((m.name, m) for m in result.mboxes)
    return [
        {"name": name, "options": [{"type": o.type.value, "content": _content(o.content)} for o in answer.options]}
        for name, answer in sections
    ]


def _content(content: Any) -> Any:
    if isinstance(content, tuple | list) and all(hasattr(a, "type") and hasattr(a, "selector") for a in content):
        return [{"type": a.type, "selector": a.selector} for a in content]
    return content


def _action(report: ActionReport) -> dict[str, Any]:
    return {
        "index": report.index,
        "type": report.type,
        "selector": report.selector,
        "outcome": "applied" if report.reason is None else "skipped",
        "matched": report.matched,
        "reason": None if report.reason is None else report.reason.value,
        "detail": report.detail,
    }
