"""Which responses may be rewritten, and the rewrite itself: offers applied to the body, headers made right."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Scope

from .analytics import AnalyticsSettings
from .decisions import PagePlan, checked_redirect, page_plan
from .delivery.offers import OffersResult
from .edgenetwork.handoff import display_rest, websdk_script
from .handoff import ClickOwner, Handoff, handoff_script, insert_handoff, server_state
from .html import ENGINES, ActionReport, Engine, SkipReason
from .options import check_hosts, check_optional_str, describe_choices
from .pagebytes import splice_before_body_end
from .pageheaders import (
    HeaderEdit,
    charset_of,
    kept_edit,
    read_page_headers,
    set_cookie_suffix,
    set_cookies,
)
from .plankey import plan_key
from .rewritecache import Rewrite, RewriteCache
from .routing import MboxRule

__all__ = ["Personalizer", "eligible"]

logger = logging.getLogger(__name__)

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
MAX_INLINE_ACTIONS = 50
# The response headers that say whether a page may be rewritten.
_DECIDING = frozenset(
    (
        b"content-type",
        b"content-encoding",
        b"content-range",
        b"content-disposition",
        b"accept-ranges",
        b"content-length",
    )
)
_SECURE = ("https", "wss")  # the schemes whose Set-Cookie lines say Secure
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_.-]")
# Skips that say the offer itself is broken, as opposed to a page that lacks what it targets.
_MALFORMED = frozenset({SkipReason.INVALID_SELECTOR, SkipReason.UNSUPPORTED, SkipReason.BAD_CONTENT, SkipReason.ERROR})


class ClickSigning(Protocol):
    def __call__(
        self,
        body: bytes,
        result: OffersResult,
        *,
        tokens: Collection[object],
        encoding: str,
        nonce: str | None,
        at: int | None = None,
    ) -> bytes: ...


def eligible(start: Message, method: str, max_body_size: int) -> bool:
    """A 200 HTML answer to a GET with a Content-Length within the cap: not encoded, not a file, range or attachment."""
    if start.get("status") != 200 or method != "GET":
        return False
    # One pass over the raw list for the few headers that decide (the first of each, as Headers.get reads it).
    raw: dict[bytes, bytes] = {}
    for key, value in start.get("headers") or ():
        if key in _DECIDING and key not in raw:
            raw[key] = value
    if not _is_html(raw.get(b"content-type", b"")):
        return False
    # Content-Type and a Content-Length of ASCII digits only, as most pages: nothing else to check, and int() reads
    # the digits as it reads the text's.
    length = raw.get(b"content-length", b"")
    if len(raw) == 2 and length.isdigit():
        return int(length) <= max_body_size
    headers = {key: value.decode("latin-1") for key, value in raw.items()}
    if b"content-encoding" in headers or b"content-range" in headers:
        return False
    if headers.get(b"content-disposition", "").lower().startswith("attachment"):
        return False
    # A file (FileResponse, static files) offers byte ranges; rewritten, its ranges would point at other bytes.
    if headers.get(b"accept-ranges", "").lower() == "bytes":
        return False
    # No Content-Length means a stream: it goes through as it comes, its first bytes not held back.
    text = headers.get(b"content-length", "")
    return text.isdigit() and int(text) <= max_body_size


# Content-Type value -> whether it is HTML's; a site sends a few (the first _MAX_TYPES seen are kept).
_HTML_TYPES: dict[bytes, bool] = {}
_MAX_TYPES = 64


def _is_html(content_type: bytes) -> bool:
    """Whether a Content-Type header value names HTML (its media type, without parameters, any case)."""
    html = _HTML_TYPES.get(content_type)
    if html is None:
        html = content_type.decode("latin-1").split(";", 1)[0].strip().lower() in HTML_CONTENT_TYPES
        if len(_HTML_TYPES) < _MAX_TYPES:
            _HTML_TYPES[content_type] = html
    return html


class Personalizer:
    """The part of the middleware that knows Target and HTML; the ASGI plumbing stays in middleware.py."""

    def __init__(
        self,
        *,
        engine: Engine | None,
        offload_size: int,
        cookie_domain: str | None,
        cookie_http_only: bool,
        redirect_hosts: Collection[str] | None,
        redirect_keep_query: bool,
        click_endpoint: str | None,
        debug_header: bool,
        global_mbox: str,
        analytics: AnalyticsSettings | None = None,
        handoff: Handoff | None = None,
        clicks: ClickOwner = ClickOwner.ATJS,
        handoff_max_size: int = 256 * 1024,
        send_ip_address: bool = False,
        sign_clicks: ClickSigning | None = None,
        rewrites: RewriteCache | None = None,
    ) -> None:
        if engine is not None and engine not in ENGINES:
            raise ValueError(f"engine must be {describe_choices(ENGINES)} (or None for lexbor), not {engine!r}")
        cookie_domain = check_optional_str(cookie_domain, "cookie_domain", ".shop.example")
        if cookie_domain is not None and not re.fullmatch(r"\.?[A-Za-z0-9.-]{1,253}", cookie_domain):
            raise ValueError(f"cookie_domain {cookie_domain!r} is not a domain name like '.shop.example'")
        click_endpoint = check_optional_str(click_endpoint, "click_endpoint", "/target/click")
        if click_endpoint is not None and not click_endpoint.startswith(("/", "https://", "http://")):
            raise ValueError(
                f"click_endpoint must be a path like '/target/click' or an http(s) URL, not {click_endpoint!r}"
            )
        self.engine = engine
        self.offload_size = offload_size
        self.cookie_domain = cookie_domain
        self.cookie_http_only = cookie_http_only
        self.redirect_hosts = check_hosts(redirect_hosts, "redirect_hosts")
        self.redirect_keep_query = redirect_keep_query
        self.click_endpoint = click_endpoint
        self.debug_header = debug_header
        self.global_mbox = global_mbox
        self.analytics = analytics
        self.handoff, self.clicks, self.handoff_max_size = handoff, clicks, handoff_max_size
        self.send_ip_address = send_ip_address
        self.sign_clicks = sign_clicks
        self.rewrites = RewriteCache(0) if rewrites is None else rewrites
        self.cache = self.rewrites.size > 0
        # What follows name=value in this middleware's Set-Cookie lines, on http and on https.
        self._cookie_suffix = {
            secure: set_cookie_suffix(domain=cookie_domain, secure=secure, http_only=cookie_http_only)
            for secure in (False, True)
        }

    def handoff_for(self, rule: MboxRule) -> Handoff | None:
        """The hand-off for pages of ``rule``: its own, else the middleware's."""
        return self.handoff if rule.handoff is None else (None if rule.handoff == "off" else Handoff(rule.handoff))

    async def personalize(
        self, scope: Scope, start: Message, body: bytes, result: OffersResult, rule: MboxRule, *, started: float
    ) -> tuple[Message, bytes, str, Rewrite | None]:
        """The response to send (start message, body), the outcome's name and the actions' reports (if any).

        ``started`` is when the app's page was complete: Server-Timing reports what we added after it.
        """
        handoff = self.handoff_for(rule)
        atjs_clicks = handoff is not None and self.clicks is ClickOwner.ATJS
        selectors, page_load_clicks = rule.html_selectors, not atjs_clicks
        # The plan's key for the rewrite cache, read off the decision: on a hit, the plan itself is never built.
        key = plan_key(result, selectors, self.global_mbox, page_load_clicks=page_load_clicks) if self.cache else None
        plan: PagePlan | None = None
        if key is None or key[2] is not None or handoff is not None:  # the hand-off needs the plan's origins
            plan = page_plan(result, selectors, self.global_mbox, page_load_clicks=page_load_clicks)
        redirect = None if plan is None else plan.redirect
        if redirect is not None:
            url = checked_redirect(redirect, self.redirect_hosts)
            if url is not None:
                display_rest(result)  # a deferred Edge Network display: nothing is left for alloy to count
                return self._redirect(scope, start, result, url, started), b"", "redirect", None
            logger.warning("Target redirect offer for %s refused: not an allowed http(s) URL", rule.path)
        raw = start.get("headers") or ()
        charset, nonce = read_page_headers(raw, scope)
        outcome = "unchanged"
        applied: Rewrite | None = None
        changed = False  # the body is not the app's: its length is new, its validators stale
        count = len(plan.actions) if plan is not None else key[1] if key is not None else 0
        if count:
            # Everything apply_actions is given is part of the rewrite cache's key.
            options = {"engine": self.engine, "nonce": nonce, "charset": charset, "click_endpoint": self.click_endpoint}
            applied = None if key is None else self.rewrites.cached(body, key[0], options)
            if applied is None:
                if plan is None:
                    plan = page_plan(result, selectors, self.global_mbox, page_load_clicks=page_load_clicks)
                # A large page, or an offer with very many actions, would hold the event loop for milliseconds or
                # more: apply it on a worker thread.
                heavy = len(body) > self.offload_size or count > MAX_INLINE_ACTIONS
                exact = None if key is None else key[0]
                applied = await self.rewrites.apply(body, plan.actions, options, offload=heavy, plan=exact)
            if applied.changed:
                body = applied.body
                if self.sign_clicks is not None and applied.clicked:
                    # The visitor's own part, after the rewrite: apply_actions' output stays the experience's.
                    body = self.sign_clicks(
                        body,
                        result,
                        tokens=applied.clicked,
                        encoding=applied.encoding,
                        nonce=nonce,
                        at=applied.body_end,
                    )
                changed = True
                outcome = "applied"
            elif applied.skipped and all(r.reason in _MALFORMED for r in applied.skipped):
                logger.warning(
                    "Target offers for %s: all %d actions malformed; page sent as it is",
                    rule.path,
                    len(applied.skipped),
                )
                outcome = "malformed"
        if handoff is not None:
            handed = self._hand_off(
                body,
                charset=charset,
                result=result,
                origins=[] if plan is None else plan.origins,
                applied=applied,
                nonce=nonce,
                rule=rule,
                keep_metrics=atjs_clicks,
            )
            changed, body = changed or handed is not body, handed
        if self.analytics is not None and self.analytics.data_island_id is not None:
            with_island = self._with_island(charset, body, result, nonce)
            changed, body = changed or with_island is not body, with_island
        # The headers are edited once, at the end: a failure before leaves the app's as they were. The edit of the
        # app's lines is kept beside the rewrite: the next response made from it usually has the same ones.
        debug = _debug(applied) if self.debug_header and applied is not None else None
        edit = (
            HeaderEdit(raw, changed=changed, debug=debug)
            if applied is None
            else kept_edit(applied.memo, raw, changed=changed, debug=debug)
        )
        cookies = self._set_cookies(scope, result)
        start["headers"] = edit.lines(len(body), cookies, _timing(time.perf_counter() - started))
        return start, body, outcome, applied

    def _with_island(self, charset: str | None, body: bytes, result: OffersResult, nonce: str | None) -> bytes:
        """The A4T data island spliced in before ``</body>``: per page view, so after the rewrite, never in it."""
        assert self.analytics is not None
        if (charset or "").lower().startswith(("utf-16", "utf-32")) or body.startswith((b"\xff\xfe", b"\xfe\xff")):
            return body  # ASCII bytes would not read as text there
        island = self.analytics.island(result.request, result.raw, nonce=nonce)
        if island is None:
            return body
        return splice_before_body_end(body, island)

    def _hand_off(
        self,
        body: bytes,
        *,
        charset: str | None,
        result: OffersResult,
        origins: list[tuple[int, int] | None],
        applied: Rewrite | None,
        nonce: str | None,
        rule: MboxRule,
        keep_metrics: bool,
    ) -> bytes:
        """The page with at.js's serverState (or alloy's applyResponse) at the start of its head: what the server
        did not apply."""
        done: set[tuple[int, int]] = set()
        if applied is not None and applied.changed:
            for report in applied.applied:
                origin = origins[report.index] if report.index < len(origins) else None
                if origin is not None:
                    done.add(origin)
        if self.handoff_for(rule) is Handoff.WEBSDK:
            websdk = websdk_script(
                result,
                applied=done,
                server_clicks=not keep_metrics,
                nonce=nonce,
                max_size=self.handoff_max_size,
                path=rule.path,
            )
            return body if websdk is None else insert_handoff(body, websdk, charset)
        state = server_state(result, applied=done, keep_metrics=keep_metrics, send_ip_address=self.send_ip_address)
        if state is None:
            return body
        script = handoff_script(state, nonce=nonce)
        if len(script) > self.handoff_max_size:
            logger.warning(
                "at.js hand-off for %s skipped: serverState is %d bytes, over handoff_max_size (%d)",
                rule.path,
                len(script),
                self.handoff_max_size,
            )
            return body
        return insert_handoff(body, script, charset)

    def _redirect(self, scope: Scope, start: Message, result: OffersResult, url: str, started: float) -> Message:
        if self.redirect_keep_query and scope.get("query_string") and not urlsplit(url).query:
            url = urlunsplit(urlsplit(url)._replace(query=scope["query_string"].decode("latin-1")))
        lines = [(b"location", url.encode("latin-1")), (b"content-length", b"0")]
        cookies, timing = self._set_cookies(scope, result), _timing(time.perf_counter() - started)
        lines = HeaderEdit(lines, changed=False, debug=None).lines(None, cookies, timing)
        headers = MutableHeaders(raw=lines)
        headers["cache-control"] = "no-store"
        return {"type": "http.response.start", "status": 302, "headers": lines}

    def _set_cookies(self, scope: Scope, result: OffersResult) -> list[tuple[bytes, bytes]]:
        """The visitor's cookies as Set-Cookie lines (``Secure`` on an https request)."""
        cookies = result.cookies
        if not cookies:
            return []
        return set_cookies(cookies, self._cookie_suffix[scope.get("scheme") in _SECURE])


# Server-Timing values of 0.0 to 99.9 ms: what f"{ms:.1f}" writes for each tenth.
_DURATIONS = tuple(f"target;dur={tenth // 10}.{tenth % 10}".encode() for tenth in range(1000))


def _timing(elapsed: float) -> bytes:
    """Server-Timing: what the middleware added after the app's page was complete (``elapsed`` seconds), in ms with
    one decimal, in ASCII: ``f"target;dur={elapsed * 1000:.1f}".encode()``.

    Below 100 ms it is read from a table, the tenths rounded to the nearest: ``.1f`` rounds the exact value of
    ``elapsed * 1000`` to the nearest tenth, and ``tenths`` is within 3e-13 of ten times that value, so unless it
    lies within a hair of a tie (x.x5, where that error could tip it: then the formatting decides) the nearest
    integer is the same."""
    tenths = elapsed * 10_000
    if 0.0 < tenths < 999.0:  # (not 0.0: the formatting writes -0.0 as it is)
        n = round(tenths)
        if -0.4999 < tenths - n < 0.4999:
            return _DURATIONS[n]
    return f"target;dur={elapsed * 1000:.1f}".encode()


def _charset(headers: Headers) -> str | None:
    return charset_of(headers.get("content-type", ""))


def _debug(applied: Rewrite) -> str:
    # An unknown action type is the offer's own string: only token characters of it may reach a header.
    def kind(report: ActionReport) -> str:
        return _NOT_TOKEN.sub("?", report.type[:40])

    outcomes = [f"{r.index}:{kind(r)}=applied" for r in applied.applied]
    outcomes += [f"{r.index}:{kind(r)}={r.reason}" for r in applied.skipped]
    return ", ".join(sorted(outcomes, key=lambda o: int(o.split(":", 1)[0])))[:4000]
