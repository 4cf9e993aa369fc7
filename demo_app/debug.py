"""``/_target?path=/some/page``: what Target decided for that page, for this visitor, and what it did to the HTML.

Built on the package's public ``explain()``: the decision is made again by the middleware's own client with the
visitor's own cookies (so the same experience), the page is rendered by the app as the middleware calls it, and
the actions are applied to it in a dry run: nothing is sent, every action is listed as applied (to how many
elements) or skipped (and why).

The page is a list of sections, each a title and what goes under it (``facts``, a ``table``, or a ``text``): a
section added here shows up in the page with no template change.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from target_middleware import Decisions, Explanation, TargetStats, explain
from target_middleware.identity import amcv_cookie_name

from .target import TargetSettings

__all__ = ["debug_page"]


async def debug_page(request: Request, path: str, *, stats: TargetStats, settings: TargetSettings) -> dict[str, Any]:
    """The template's context: ``path``, ``mode``, ``outcome``, ``error``, ``sections`` and ``stats``.

    A section is ``{"title": ..., and one of "facts": {name: value}, "table": {"head": [...], "rows":
    [{"cells": [...], "class": ...}]}, "list": [(label, value)], "text": ...}``.
    """
    page: dict[str, Any] = {"path": path, "mode": settings.describe(), "stats": dict(sorted(stats.items()))}
    if not path.startswith("/") or path.startswith(("//", "/_target", "/static")):
        page["error"] = "path must be one of the shop's pages, like /products/tent-2p"
        return page
    found = await explain(request.app, request, path=path, timeout=max(settings.timeout, 2.0))
    if found.rule is None:
        page["error"] = "no MboxRule matches this path: the middleware lets it through untouched, at no cost"
        return page
    page["error"] = found.error
    page["outcome"] = found.outcome
    page["identity"] = _identity(found, settings)
    page["sections"] = [
        section
        for section in (_request(found), _decisions(found), _tokens(found), _redirect(found), _actions(found))
        if section is not None
    ]
    return page


def _identity(found: Explanation, settings: TargetSettings) -> dict[str, Any]:
    """Who Target sees, as the middleware identified the visitor: the ECID of the AMCV cookie the Visitor API set
    (on-device allocation hashes it first), the signed-in shopper's customer id, and the A4T SDID."""
    visitor = found.visitor
    return {
        "amcv_cookie": amcv_cookie_name(settings.organization_id),
        "ecid": visitor.marketing_cloud_visitor_id if visitor else None,
        "customer_ids": [c.to_json() for c in visitor.customer_ids] if visitor else [],
        "sdid": Decisions(found.result).supplemental_data_id if found.result else None,
    }


def _request(found: Explanation) -> dict[str, Any]:
    assert found.rule is not None
    visitor = found.visitor
    returning = visitor is not None and visitor.tnt_id is not None
    facts = {
        "rule": f"{found.rule.path} → {', '.join(found.rule.mboxes)}",
        "params": json.dumps(dict(found.params), ensure_ascii=False, default=str),
        "profile params": json.dumps(dict(found.profile_params), ensure_ascii=False, default=str),
        "visitor": (
            "returning (its tntId is in the mbox cookie: same experience)"
            if returning
            else "new (no mbox cookie yet: this decision is a first visit's)"
        )
        + (f", session {visitor.session_id[:8]}…" if visitor else "")
        # the visitor as the middleware sees it: on-device allocation hashes the ECID first, so this is its experience
        + (
            f", Experience Cloud ID {visitor.marketing_cloud_visitor_id} (from the AMCV cookie: on-device "
            "allocation hashes it first)"
            if visitor is not None and visitor.marketing_cloud_visitor_id
            else ""
        ),
    }
    timings = found.timings_ms
    if "decision" in timings:
        decisioning = found.result.decisioning.value if found.result else ""
        spent = f"decision {timings['decision']} ms"
        if "apply" in timings:
            spent += f" · app render {timings['page']} ms · apply {timings['apply']} ms"
        facts["timing"] = f"{spent} ({decisioning})"
    return {"title": "Request", "facts": facts}


def _decisions(found: Explanation) -> dict[str, Any] | None:
    mboxes = found.to_dict()["mboxes"]
    if not mboxes:
        return None
    rows: list[dict[str, Any]] = []
    for mbox in mboxes:
        cells = [[mbox["name"], o["type"], _short(o["content"])] for o in mbox["options"]]
        rows.extend({"cells": c} for c in cells or [[mbox["name"], "", "no offer for this visitor"]])
    return {"title": "Decisions", "table": {"head": ["mbox", "option", "content"], "rows": rows}}


def _tokens(found: Explanation) -> dict[str, Any] | None:
    if found.result is None or not found.result.response_tokens:
        return None
    tokens = [(t.get("activity.name"), t.get("experience.name")) for t in found.result.response_tokens]
    return {"title": "Response tokens", "list": tokens}


def _redirect(found: Explanation) -> dict[str, Any] | None:
    if found.redirect is None:
        return None
    verdict = "answered as a 302 by the server" if found.redirect_location else "refused (not an allowed http(s) URL)"
    return {"title": "Redirect", "text": f"{found.redirect} — {verdict}"}


def _actions(found: Explanation) -> dict[str, Any] | None:
    if found.redirect_location or found.result is None:
        return None
    if not found.actions:
        return {"title": "Actions on the page", "text": "No action for this page: it is sent as the app rendered it."}
    rows: list[dict[str, Any]] = []
    for report in found.actions:
        outcome = "applied" if report.reason is None else "skipped"
        if report.reason is None:
            why = f"{report.matched} element{'s' if report.matched != 1 else ''}"
        else:
            why = report.reason.value + (f": {report.detail}" if report.detail else "")
        rows.append({"cells": [report.index, report.type, report.selector or "", outcome, why], "class": outcome})
    head = ["#", "action", "selector", "outcome", "why"]
    return {"title": "Actions on the page (dry run)", "table": {"head": head, "rows": rows}}


def _short(content: Any) -> str:
    if isinstance(content, list) and all(isinstance(a, dict) and "selector" in a for a in content):
        return ", ".join(str(a["type"]) for a in content) + " (below, as applied to the page)"
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
    return text if len(text) <= 400 else text[:400] + "…"
