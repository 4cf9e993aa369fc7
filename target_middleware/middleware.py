"""TargetMiddleware: personalize the HTML of configured routes before the first byte leaves (pure ASGI).

For a request on a route with a rule, the decision starts before the app is called (on an I/O thread when it goes
over the network), the app's response start is held, an eligible HTML body is buffered, and when the app is done
the decision is awaited within what is left of the budget and applied. Anything that goes wrong on our side sends
the original bytes, status and headers, is logged once and counted. Exceptions of the app propagate untouched.
Every decision's outcome is recorded where the decision completes (``outcomes.py``), whatever the page is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Collection, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .analytics import AnalyticsSettings, PageViewAnalytics
from .clicks import answer_beacon
from .decisions import TargetRequest
from .delivery.decider import DecisioningMethod
from .delivery.offers import OffersClient, OffersResult
from .delivery.params import GLOBAL_MBOX
from .edgenetwork.handoff import check_websdk_client
from .handoff import DEFAULT_MAX_SIZE as DEFAULT_HANDOFF_MAX_SIZE
from .handoff import ClickOwner, Handoff
from .html import Engine
from .identity import CustomerIdsSource, ThirdPartyIdSource, check_identity_sources
from .iothread import IOThread
from .options import check_bool, check_number, check_positive_int
from .outcomes import CircuitBreaker, DecisionWatch, Outcomes, TargetStats, describe
from .pageview import PageView, ScopedPageViews, needs_request, page_view
from .personalize import Personalizer, eligible
from .rewritecache import DEFAULT_SIZE, RewriteCache
from .routing import MboxRule, RouteMatch, Rules
from .telemetry import telemetry_for
from .tracking import Tracking, warn_process_key

if TYPE_CHECKING:
    from .telemetry import Telemetry

__all__ = ["TargetMiddleware", "TargetStats"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Pages asked for by Target's authoring tools, or with personalization switched off, pass through.
BYPASS_PARAMETERS = (b"mboxDisable", b"adobe_authoring_enabled", b"mboxEdit")


class TargetMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        client: OffersClient,
        rules: Iterable[MboxRule],
        timeout: float = 0.15,
        max_body_size: int = 4 * 1024 * 1024,
        offload_size: int = 256 * 1024,
        engine: Engine | None = None,
        cookie_domain: str | None = None,
        cookie_http_only: bool = False,
        redirect_hosts: Collection[str] | None = None,
        redirect_keep_query: bool = False,
        click_endpoint: str | None = None,
        click_path: str | None = "/_target/click",
        signing_key: bytes | str | Sequence[bytes | str] | None = None,
        debug_header: bool = False,
        qa_mode: bool = False,
        trace: bool = False,
        breaker_failures: int = 5,
        breaker_cooldown: float = 10.0,
        io_thread: bool | None = None,
        rewrite_cache: int = DEFAULT_SIZE,
        stats: TargetStats | None = None,
        customer_ids: CustomerIdsSource = None,
        third_party_id: ThirdPartyIdSource = None,
        analytics: AnalyticsSettings | None = None,
        handoff: str | None = None,
        clicks: str = "atjs",
        handoff_max_size: int = DEFAULT_HANDOFF_MAX_SIZE,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        if not callable(getattr(client, "get_offers", None)):
            raise TypeError(
                f"client must be a TargetClient or an EdgeNetworkClient (an OffersClient), not {type(client).__name__}"
            )
        self.timeout = check_number(timeout, "timeout", "seconds (the decision budget per request)")
        self.max_body_size = check_positive_int(max_body_size, "max_body_size", "bytes")
        offload_size = check_positive_int(offload_size, "offload_size", "bytes")
        breaker_failures = check_positive_int(breaker_failures, "breaker_failures", "failures in a row")
        breaker_cooldown = check_number(breaker_cooldown, "breaker_cooldown", "seconds", inclusive=True)
        if io_thread is not None:
            check_bool(io_thread, "io_thread")
        if stats is not None and not isinstance(stats, Counter):
            raise TypeError(f"stats must be a TargetStats (a Counter), not {type(stats).__name__}")
        for flag, value in (
            ("cookie_http_only", cookie_http_only),
            ("redirect_keep_query", redirect_keep_query),
            ("debug_header", debug_header),
            ("qa_mode", qa_mode),
            ("trace", trace),
        ):
            check_bool(value, flag)
        if handoff not in (None, "atjs", "websdk"):
            raise ValueError(
                "handoff must be 'atjs' (at.js continues from serverState), 'websdk' (alloy's applyResponse) or None,"
                f" not {handoff!r}"
            )
        if clicks not in ("atjs", "first-party"):
            raise ValueError(
                f"clicks must be 'atjs' (at.js counts them from serverState) or 'first-party' (ours), not {clicks!r}"
            )
        handoff_max_size = check_positive_int(handoff_max_size, "handoff_max_size", "bytes")
        if click_path is not None and (not isinstance(click_path, str) or not click_path.startswith("/")):
            raise ValueError(
                f"click_path must be a path on this site, like '/_target/click' (or None), not {click_path!r}"
            )
        check_identity_sources(customer_ids, third_party_id)
        if analytics is not None and not isinstance(analytics, AnalyticsSettings):
            raise TypeError("analytics must be an AnalyticsSettings(logging='server_side'|'client_side', ...)")
        self.app = app
        self.client = client
        self.rules = Rules(rules)
        check_websdk_client(client, handoff, self.rules)
        self.qa_mode, self.trace = qa_mode, trace
        self.stats = TargetStats() if stats is None else stats
        self.breaker = CircuitBreaker(breaker_failures, breaker_cooldown)
        method = getattr(client, "decisioning", None)
        self._local = method is DecisioningMethod.ON_DEVICE
        self._io = IOThread() if (not self._local if io_thread is None else io_thread) else None
        global_mbox = getattr(client, "global_mbox", GLOBAL_MBOX)
        self.tracking = Tracking(
            client,
            signing_key=signing_key,
            stats=self.stats,
            io=self._io,
            global_mbox=global_mbox,
            customer_ids=customer_ids,
            third_party_id=third_party_id,
        )
        # A receiver of the user's own (click_endpoint) gets the listener's beacons; else we answer them.
        self.click_path = click_path if click_endpoint is None else None
        if self.click_path is not None and self.tracking.signer.generated:
            warn_process_key()
        self.customer_ids, self.third_party_id, self.analytics = customer_ids, third_party_id, analytics
        # The page views of rules that call nothing of the app: read from the scope alone, with nothing to await.
        self._scoped: dict[int, ScopedPageViews] = {}
        # ... of those, the ones decided in __call__ itself: on-device, no I/O thread (else empty).
        self._in_place: dict[int, ScopedPageViews] = {}
        self.personalizer = Personalizer(
            engine=engine,
            offload_size=offload_size,
            cookie_domain=cookie_domain,
            cookie_http_only=cookie_http_only,
            redirect_hosts=redirect_hosts,
            redirect_keep_query=redirect_keep_query,
            click_endpoint=click_endpoint or self.click_path,
            debug_header=debug_header,
            global_mbox=global_mbox,
            analytics=analytics,
            handoff=None if handoff is None else Handoff(handoff),
            clicks=ClickOwner(clicks),
            handoff_max_size=handoff_max_size,
            send_ip_address=bool(getattr(client, "send_ip_address", False)),
            sign_clicks=self.tracking.sign_page if self.click_path is not None else None,
            rewrites=RewriteCache(rewrite_cache, stats=self.stats),
        )
        # A decision that can wait on the network is stopped at the request's deadline, wherever it runs.
        self._bounded = not self._local
        self.telemetry = telemetry_for(tracer_provider, meter_provider)
        self.outcomes = Outcomes(self.stats, self.breaker, self.telemetry, str(getattr(method, "value", method)))
        for rule in self.rules:
            if not needs_request(rule, customer_ids, third_party_id):
                self._scoped[id(rule)] = ScopedPageViews(
                    rule,
                    qa_mode=qa_mode,
                    trace=trace,
                    deferred_display=self.personalizer.handoff_for(rule) is Handoff.WEBSDK,
                    organization_id=getattr(client, "organization_id", ""),
                    customer_ids=customer_ids,
                    third_party_id=third_party_id,
                )
        if self._local and self._io is None:
            self._in_place = self._scoped
        # A future already done, of the running loop (made again when requests come on another): what the responder
        # answers the app's send with for a message it keeps.
        self._done: asyncio.Future[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: PLR0915 (a decided page in one frame)
        if scope["type"] != "http":
            await self.app(scope, receive, self._on_shutdown(send) if scope["type"] == "lifespan" else send)
            return
        if scope["path"] == self.click_path:
            await answer_beacon(self.tracking, scope, receive, send)
            return
        rule = self.rules.rule(scope)
        if rule is None or (scope.get("query_string") and _bypassed(scope)):
            # No decision, but track() works on every route: a handle that costs one small object.
            await self._undecided(scope, receive, send)
            return
        if not self.breaker.allow():
            self.outcomes.count("breaker-open", rule.path)
            await self._undecided(scope, receive, send)
            return
        started = time.perf_counter()
        analytics = sdid = None
        if self.analytics is not None:
            analytics = self.analytics.for_page_view()
            sdid = analytics.supplemental_data_id
        views = self._in_place.get(id(rule))
        # Whether OpenTelemetry records anything, asked once (Outcomes.recording, written out): this request's
        # outcomes go where it said.
        telemetry = self.telemetry
        if telemetry is not None and (time.monotonic() < telemetry.quiet_until or not telemetry.active):
            telemetry = None
        decision: asyncio.Future[OffersResult] | OffersResult
        watch: DecisionWatch | None = None
        if views is not None and telemetry is None:
            # _start's on-device way with no span to record, written out here: no coroutine of its own, no future.
            try:
                offers, visitor = views.read(scope, analytics)
                coroutine = self.client.get_offers(offers, visitor=visitor, timeout=self.timeout)
            except Exception as exc:
                self._not_started(rule, exc)
                await self._undecided(scope, receive, send)
                return
            try:
                decision = await coroutine
            except Exception as exc:
                decision, watch = self._failed_here(rule, exc)
            else:
                self.outcomes.decided(rule.path, None)  # counted, the breaker told
        else:
            match = self.rules.match(scope)
            assert match is not None  # the rule matched just now: the same rules, the same scope
            begun = await self._start(scope, match, analytics, telemetry)
            if begun is None:
                await self._undecided(scope, receive, send)
                return
            # The decision runs to its outcome within the budget, recorded by ``watch`` (or already, when it was
            # made here: then it is the result) whether or not the page waits for it (a JSON or streamed answer
            # does not).
            decision, watch = begun
        target = scope.setdefault("state", {})["target"] = _Responder(
            self, scope, rule, decision, started + self.timeout, send, telemetry, sdid
        )
        try:
            await self.app(scope, receive, target.forward)
            # Then, in this frame (a coroutine less a page, ~1 500 instructions): the decision within the budget,
            # and the page sent personalized or as it came.
            start = target.start
            if start is None:  # not held: gone through as it came
                return
            flushed = time.perf_counter()
            result: OffersResult | None
            if not target.done:  # the app stopped mid-body
                result = None
            elif watch is None:  # decided and recorded already: the result
                result = decision  # type: ignore[assignment]
            else:
                result = await target.settled(watch, decision)  # type: ignore[arg-type]
            if result is None:
                await target.pass_through(more_body=False)
                return
            body = target.body  # one chunk (the usual page): that chunk itself, no copy
            if type(body) is not bytes:
                body = target.joined()
            route = rule.path
            applying = (None, 0.0) if telemetry is None else telemetry.apply_started(route, len(body))
            try:
                start, body, outcome, applied = await self.personalizer.personalize(
                    scope, start, body, result, rule, started=flushed
                )
            except Exception as exc:
                await target.apply_failed(exc, applying)
                return
            self.outcomes.count_for(outcome, route, telemetry)
            if telemetry is not None:
                telemetry.apply_ended(applying, route=route, size=target.size, outcome=outcome, applied=applied)
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
        finally:
            # What a task of the app's may keep past the request must not keep the request: not the page's bytes, and
            # not the server's send, which holds the scope whose state holds this handle (uvicorn's bound method of
            # its request's cycle): a reference cycle per request, which makes the garbage collector run ~4x as often
            # and each run find the request's objects (through uvicorn, ~40 K instructions a request).
            target.body = None
            target.downstream = _over
            target.release()

    async def _undecided(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, with a ``request.state.target`` that has no decision (track() works on every route)."""
        target = scope.setdefault("state", {})["target"] = TargetRequest(None, 0.0, scope, self.tracking)
        try:
            await self.app(scope, receive, send)
        finally:
            target.release()

    def _first_done(self) -> asyncio.Future[None]:
        """``_done``, made on the running loop: awaiting it returns at once; gathered, shielded or waited for, it
        calls back on the loop the app runs on."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        self._done = future
        return future

    def _on_shutdown(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return wrapped

    async def aclose(self) -> None:
        """Close the client's connections (on the loop that opened them) and stop the I/O thread.

        Called at the app's lifespan shutdown; call it yourself when the server runs without lifespan.
        """
        try:
            if self._io is not None and self._io.running:
                await self._io.submit(self.client.aclose())
            else:
                await self.client.aclose()
        except Exception:
            logger.warning("closing the Target client failed", exc_info=True)
        if self._io is not None:
            self._io.close()

    async def _page_view(self, scope: Scope, match: RouteMatch, analytics: PageViewAnalytics | None) -> PageView:
        """This request's page view as this middleware asks Target about it (``explain()`` asks the same)."""
        view = self._page_view_now(scope, match, analytics)
        if view is not None:
            return view
        return await page_view(
            scope,
            match,
            qa_mode=self.qa_mode,
            trace=self.trace,
            analytics=analytics,
            deferred_display=self.personalizer.handoff_for(match.rule) is Handoff.WEBSDK,
            organization_id=getattr(self.client, "organization_id", ""),
            customer_ids=self.customer_ids,
            third_party_id=self.third_party_id,
        )

    def _page_view_now(self, scope: Scope, match: RouteMatch, analytics: PageViewAnalytics | None) -> PageView | None:
        """:meth:`_page_view` when the rule calls nothing of the app (no coroutine to make and await), else None."""
        views = self._scoped.get(id(match.rule))
        return None if views is None else views(scope, analytics)

    def _not_started(self, rule: MboxRule, exc: Exception) -> None:
        # The exception's class only: its text may carry request values.
        name = type(exc).__name__
        logger.warning("Target decision for %s could not start (%s); page sent as it is", rule.path, name)
        self.outcomes.count("error", rule.path)

    def _failed_here(self, rule: MboxRule, exc: Exception) -> tuple[asyncio.Future[OffersResult], DecisionWatch]:
        """A decision made here that failed: a future holding the failure, and the watch that records it."""
        future: asyncio.Future[OffersResult] = asyncio.get_running_loop().create_future()
        future.set_exception(exc)
        watch = DecisionWatch(self.outcomes, rule.path, 0.0, None)
        return watch.follow(future), watch

    async def _start(
        self, scope: Scope, match: RouteMatch, analytics: PageViewAnalytics | None, telemetry: Telemetry | None
    ) -> tuple[asyncio.Future[OffersResult] | OffersResult, DecisionWatch | None] | None:
        """Start the decision for this request: on the I/O thread, or in process for on-device decisioning. The
        decision, and the watch that records its outcome (None: decided here and recorded already, and the
        decision is its result). ``telemetry``: what :meth:`Outcomes.recording` said at the request's start."""
        # Where the decision is bounded, its deadline counts the page view too (on-device: never read).
        deadline = time.monotonic() + self.timeout if self._bounded else 0.0
        rule = match.rule
        try:
            views = self._scoped.get(id(rule))  # _page_view_now, written out: once a request
            view = await self._page_view(scope, match, analytics) if views is None else views(scope, analytics)
            coroutine = self.client.get_offers(view.offers, visitor=view.visitor, timeout=self.timeout)
        except Exception as exc:
            self._not_started(rule, exc)
            return None
        if self._io is not None or not self._local:
            watch = self.outcomes.watch(rule.path, len(rule.mboxes), deadline)
            return watch.follow(self._submit(watch.run(coroutine, bounded=self._bounded))), watch
        # On-device: a function call with no I/O to overlap with the app, made before it runs (outside the
        # budget, as on-device decisions always were: a loaded machine delays the page, it does not lose it).
        if telemetry is not None:  # a span
            future: asyncio.Future[OffersResult] = asyncio.get_running_loop().create_future()
            watch = self.outcomes.watch(rule.path, len(rule.mboxes), deadline)
            try:
                future.set_result(await watch.run(coroutine, bounded=False))
            except Exception as exc:
                future.set_exception(exc)
            return watch.follow(future), watch
        # No span to record: a decision is recorded here and now (counted, the breaker told), with no watch, done
        # callback or loop turn; a failure goes to a watch as above, which logs it. Once either way.
        try:
            result = await coroutine
        except Exception as exc:
            return self._failed_here(rule, exc)
        self.outcomes.decided(rule.path, telemetry)
        return result, None

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run a call of the client where the client lives: on the I/O thread, or on this loop beside the app."""
        if self._io is not None:
            return self._io.submit(coroutine)
        # A task on the app's own loop: it runs beside the app from the app's first await on.
        return asyncio.get_running_loop().create_task(coroutine)


async def _over(message: Message) -> None:
    """The server's ``send`` of a request that is over: kept by no handle (see ``__call__``'s end)."""
    raise RuntimeError(f"{message.get('type')!r} sent after the response ended")


def _bypassed(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return bool(query) and any(name in query for name in BYPASS_PARAMETERS)


class _Responder(TargetRequest):
    """One decided request, as one object: its ``request.state.target`` (a :class:`TargetRequest`: the decision,
    ``decisions()``, ``track()``) and its response as the app sends it: the start held and an eligible body
    buffered (for :meth:`TargetMiddleware.__call__` to send personalized after the app), or what came before sent
    as it came and the rest as it comes."""

    __slots__ = (
        "body",
        "done",
        "downstream",
        "kept",
        "middleware",
        "rule",
        "size",
        "start",
        "streaming",
        "telemetry",
    )
    _scope: Scope  # the request's, never None here

    def __init__(  # noqa: PLR0917 (positional: one a request, and keywords cost a Python call more to match)
        self,
        middleware: TargetMiddleware,
        scope: Scope,
        rule: MboxRule,
        decision: asyncio.Future[OffersResult] | OffersResult,
        deadline: float,
        downstream: Send,
        telemetry: Telemetry | None,
        supplemental_data_id: str | None,
    ) -> None:
        """``decision`` is a future, or the decision's result (made and recorded already); ``deadline`` is the
        request's ``time.perf_counter()`` plus the budget, ``downstream`` the server's ``send``, ``telemetry`` what
        :meth:`Outcomes.recording` said at the request's start. The handle's own fields are
        :class:`TargetRequest`'s ``__init__``'s, set here with the response's (one call, not two)."""
        self._decision, self._deadline = decision, deadline
        self._scope, self._tracking = scope, middleware.tracking
        self.supplemental_data_id = supplemental_data_id
        self.middleware, self.rule = middleware, rule
        self.downstream, self.telemetry = downstream, telemetry
        # What the app's send of a message kept here returns: a future already done (the middleware's, made once per
        # event loop: an app that gathers or shields its sends ties them to the future's loop).
        kept = middleware._done
        if kept is None or kept.get_loop() is not asyncio.get_running_loop():
            kept = middleware._first_done()
        self.kept = kept
        self.start: Message | None = None
        # The body so far: None, its one chunk as it came (the usual page), or a list of them from the second on.
        self.body: bytes | list[bytes] | None = None
        self.size = 0
        self.streaming = False  # the response goes through as it came
        self.done = False

    def forward(self, message: Message) -> Awaitable[None]:
        """The app's ``send``: a message held (the start, the body's chunks) is taken at once and answered with a
        future already done (~400 instructions less than a coroutine a message, the usual two a page); one that goes
        on is the server's ``send``'s awaitable, or the held messages' sending."""
        if self.streaming:
            return self.downstream(message)
        kind = message["type"]
        if kind == "http.response.start":
            if eligible(message, self._scope["method"], self.middleware.max_body_size):
                # Don't send the start until the body says whether (and how) the headers change.
                self.start = message
                return self.kept
            self.middleware.outcomes.count_for("not-eligible", self.rule.path, self.telemetry)
            self.streaming = True
            return self.downstream(message)
        if kind == "http.response.body" and self.start is not None:
            chunk = message.get("body", b"")
            body = self.body
            if body is None:
                self.body = chunk  # the first chunk: kept as it is, no list
            elif type(body) is bytes:
                self.body = [body, chunk]
            else:
                body.append(chunk)  # type: ignore[union-attr]
            self.size += len(chunk)
            if self.size > self.middleware.max_body_size:
                self.middleware.outcomes.count_for("too-large", self.rule.path, self.telemetry)
                return self.pass_through(more_body=message.get("more_body", False))
            if not message.get("more_body", False):
                self.done = True
            return self.kept
        # pathsend, debug, trailers...: what came before goes first, as it was
        return self.pass_through(more_body=True, last=message)

    def joined(self) -> bytes:
        """The body so far, as one bytes (its one chunk itself: no copy)."""
        body = self.body
        if body is None:
            return b""
        return body if isinstance(body, bytes) else b"".join(body)

    async def pass_through(self, *, more_body: bool, last: Message | None = None) -> None:
        send = self.downstream
        self.streaming = True
        if self.start is not None:
            await send(self.start)
            if self.body is not None or last is None:
                await send({"type": "http.response.body", "body": self.joined(), "more_body": more_body})
        self.start = self.body = None
        if last is not None:
            await send(last)

    async def apply_failed(self, error: Exception, applying: Any) -> None:
        """The offers could not be applied: logged (the class only), counted, the page sent as it came."""
        route = self.rule.path
        logger.warning("Target offers for %s could not be applied (%s); original page sent", route, describe(error))
        logger.debug("apply failure", exc_info=error)
        self.middleware.outcomes.count_for("apply-error", route, self.telemetry)
        if self.telemetry is not None:
            self.telemetry.apply_ended(applying, route=route, size=self.size, outcome="apply-error", error=error)
        await self.pass_through(more_body=False)

    async def settled(self, watch: DecisionWatch, decision: asyncio.Future[OffersResult]) -> OffersResult | None:
        """The decision's result within the budget, or None (recorded, counted and logged by the watch, once)."""
        try:
            if decision.done():  # decided already (on-device, always): no timer, no shield
                watch.settle(decision)  # counted before the page leaves, whether its callback ran yet or not
                return decision.result()
            remaining = self._deadline - time.perf_counter()
            return await asyncio.wait_for(asyncio.shield(decision), max(remaining, 0.0))
        except Exception:  # timeout, error, parse error
            result: OffersResult | None = watch.at_deadline()
            return result
