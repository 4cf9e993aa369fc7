"""``/_target?path=/some/page``: what Target decided for that page, for this visitor, and what it did to the HTML.

The decision is made again with the visitor's own cookies (so the same experience), the page is rendered by the
app with ``mboxDisable`` (which makes the middleware step aside), and the actions are applied to it in a dry run:
nothing is sent, every action is listed as applied (to how many elements) or skipped (and why).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import httpx
from starlette.datastructures import Headers
from starlette.requests import Request

from target_middleware import OffersClient, OffersRequest, PageContext, TargetStats, Visitor, apply_actions
from target_middleware.decisions import Decisions, checked_redirect, page_plan
from target_middleware.delivery.params import Mbox
from target_middleware.identity import amcv_cookie_name, identify
from target_middleware.routing import MboxRule, Rules, resolve_params

from .shopper import customer_ids
from .target import TargetSettings

__all__ = ["debug_page"]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


async def debug_page(
    request: Request,
    path: str,
    *,
    client: OffersClient,
    rules: Iterable[MboxRule],
    stats: TargetStats,
    settings: TargetSettings,
) -> dict[str, Any]:
    report: dict[str, Any] = {"path": path, "mode": settings.describe(), "stats": dict(sorted(stats.items()))}
    # Who the visitor is, as the middleware identifies it: its mbox cookie, the ECID of the AMCV cookie the Visitor
    # API set (on-device allocation hashes it first, so the experience shown here is the visitor's own), and the
    # signed-in shopper's customer id.
    organization_id = getattr(client, "organization_id", "") or settings.organization_id
    visitor = await identify(
        Visitor.from_cookies(request.cookies),
        request.cookies,
        request,
        organization_id=organization_id,
        customer_ids=customer_ids,
    )
    report["identity"] = {
        "amcv_cookie": amcv_cookie_name(organization_id),
        "ecid": visitor.marketing_cloud_visitor_id,
        "customer_ids": [c.to_json() for c in visitor.customer_ids],
    }
    if not path.startswith("/") or path.startswith(("//", "/_target", "/static")):
        report["error"] = "path must be one of the shop's pages, like /products/tent-2p"
        return report
    page_path, _, query = path.partition("?")
    match = Rules(rules).match({"method": "GET", "path": page_path, "headers": request.scope["headers"]})
    if match is None:
        report["error"] = "no MboxRule matches this path: the middleware lets it through untouched, at no cost"
        return report
    report["rule"] = {"path": match.rule.path, "mboxes": list(match.rule.mboxes)}

    # The request for that page, as the middleware builds it, for this visitor.
    scope = {
        **request.scope,
        "path": page_path,
        "raw_path": page_path.encode(),
        "query_string": query.encode(),
        "path_params": match.path_params,
    }
    page_request = Request(scope)
    params = await resolve_params(match.rule.params, page_request)
    report["visitor"] = {
        "returning": visitor.tnt_id is not None,
        "session": visitor.session_id[:8] + "…",
        "ecid": visitor.marketing_cloud_visitor_id,
    }
    report["params"] = params
    started = time.perf_counter()
    try:
        result = await client.get_offers(
            OffersRequest(
                mboxes=[Mbox(name, params) for name in match.rule.mboxes],
                page=PageContext.from_headers(str(page_request.url), Headers(scope=scope)),
                analytics=settings.analytics.for_page_view(),
            ),
            visitor=visitor,
            timeout=2.0,
        )
    except Exception as exc:
        report["error"] = f"the decision failed ({exc.__class__.__name__}: {exc}): visitors get the page as it is"
        return report
    report["timing"] = {"decision_ms": _ms(started)}
    report["identity"]["sdid"] = Decisions(result).supplemental_data_id
    report["decisioning"] = result.decisioning.value
    report["tokens"] = [dict(t) for t in result.response_tokens]
    report["mboxes"] = [
        {"name": m.name, "options": [{"type": o.type.value, "content": _short(o.content)} for o in m.options]}
        for m in result.mboxes
    ]
    if result.page_load is not None:
        options = [{"type": o.type.value, "content": _short(o.content)} for o in result.page_load.options]
        report["mboxes"].insert(0, {"name": f"{client.global_mbox} (pageLoad)", "options": options})

    plan = page_plan(result, match.rule.html_selectors, client.global_mbox)
    if plan.redirect is not None:
        allowed = checked_redirect(plan.redirect, None) is not None
        report["redirect"] = {"url": plan.redirect, "allowed": allowed}
        return report

    started = time.perf_counter()
    separator = "&" if query else "?"
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url)) as http:
        page = await http.get(f"{path}{separator}mboxDisable=1")
    report["timing"]["app_ms"] = _ms(started)
    started = time.perf_counter()
    applied = apply_actions(page.text, plan.actions)
    report["timing"]["apply_ms"] = _ms(started)
    report["actions"] = sorted(
        (
            {
                "index": r.index,
                "type": r.type,
                "selector": r.selector or "",
                "outcome": "applied" if r.reason is None else "skipped",
                "why": f"{r.matched} element{'s' if r.matched != 1 else ''}"
                if r.reason is None
                else f"{r.reason.value}{': ' + r.detail if r.detail else ''}",
            }
            for r in (*applied.applied, *applied.skipped)
        ),
        key=lambda row: row["index"],
    )
    return report


def _short(content: Any) -> str:
    if isinstance(content, tuple | list) and all(hasattr(a, "type") and hasattr(a, "selector") for a in content):
        return ", ".join(f"{a.type}" for a in content) + " (below, as applied to the page)"
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
    return text if len(text) <= 400 else text[:400] + "…"
