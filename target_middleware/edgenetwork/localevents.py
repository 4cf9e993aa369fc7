"""What the local edge reads from Edge Network events beyond their tokens: conversions, and the click metrics of a
page load.

A conversion is recorded as the Delivery API's would be: an event with ``commerce.order`` (``purchaseID``,
``priceTotal``, ``productListItems[].SKU`` as the order's id, total and products) for its decision scopes, and a
``decisioning.propositionDisplay`` that names decision scopes instead of propositions (``track()`` without an
order) as a display notification for each mbox.

A fetch is decided as a prefetch, and a prefetched page load carries no metrics (Adobe's engines keep them for
views only), yet the real edge answers a page-load click metric as a proposition of its own with a ``click``
dom-action: the local edge finds the click metrics of the experiences it decided in its artifact.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ..decisioning import Artifact
from .answer import PAGE_WIDE_SCOPE

__all__ = ["conversions_of", "dig", "page_clicks"]


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or None where a level is missing or not an object (bodies are untrusted)."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def conversions_of(event: Mapping[str, Any], scopes: list[str]) -> list[dict[str, Any]]:
    """The notifications a conversion event stands for: one per mbox scope (or one for the page), with the order."""
    placed = dig(event, "xdm", "commerce", "order")
    kind = dig(event, "xdm", "eventType")
    if not isinstance(placed, Mapping) and not (kind == "decisioning.propositionDisplay" and scopes):
        return []
    order: dict[str, Any] = {}
    if isinstance(placed, Mapping):
        if isinstance(placed.get("purchaseID"), str):
            order["id"] = placed["purchaseID"]
        if isinstance(placed.get("priceTotal"), int | float) and not isinstance(placed.get("priceTotal"), bool):
            order["total"] = placed["priceTotal"]
        items = dig(event, "xdm", "productListItems")
        skus = [i.get("SKU") for i in (items if isinstance(items, list) else ()) if isinstance(i, Mapping)]
        if any(isinstance(sku, str) for sku in skus):
            order["purchasedProductIds"] = [sku for sku in skus if isinstance(sku, str)]
    mboxes: list[str | None] = [s for s in scopes if s != PAGE_WIDE_SCOPE] or [None]
    return [
        {"id": str(uuid.uuid4()), "type": "display", "timestamp": 0}
        | ({"mbox": {"name": mbox}} if mbox else {})
        | ({"order": order} if isinstance(placed, Mapping) else {})
        for mbox in mboxes
    ]


def page_clicks(artifact: Artifact, page_load: Any) -> list[Mapping[str, Any]]:
    """The click metrics (with a selector) of the experiences a prefetched page load decided, one per token, with
    the activity and experience as ``responseTokens``."""
    if not isinstance(page_load, Mapping):
        return []
    found: list[Mapping[str, Any]] = [m for m in page_load.get("metrics") or () if isinstance(m, Mapping)]
    decided = set()
    for option in page_load.get("options") or ():
        tokens = option.get("responseTokens") if isinstance(option, Mapping) else None
        if isinstance(tokens, Mapping):
            decided.add((str(tokens.get("activity.id")), str(tokens.get("experience.id"))))
    for rule in artifact.mbox_rules.get(artifact.global_mbox, ()):
        experience = (str(rule.meta.get("activity.id", rule.activity_id)), str(rule.meta.get("experience.id")))
        if experience not in decided:
            continue
        ids = {"activity.id": experience[0], "experience.id": experience[1]}  # what the proposition names
        for metric in rule.consequence.get("metrics") or ():
            if isinstance(metric, Mapping) and metric.get("type") == "click" and metric.get("selector"):
                found.append({**metric, "responseTokens": ids})
    first: dict[Any, Mapping[str, Any]] = {}
    for metric in found:
        first.setdefault(metric.get("eventToken"), metric)
    return list(first.values())
