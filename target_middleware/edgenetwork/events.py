"""Clicks and conversions as Edge Network experience events: what the Web SDK sends for Target, sent by the server.

The middleware's click endpoint and ``track()`` queue Delivery-shaped notifications (``tracking``, ``clicks``);
through an ``EdgeNetworkClient`` each becomes one ``interact`` call, built like the page's own fetch
(``interact_body``: the page, the user agent, the ECID when known, the visitor's ``kndctr_*`` state entries):

- a **click** (a note that names the clicked ``propositions``, as the signed beacon brought them back): a
  ``decisioning.propositionInteract`` event, ``_experience.decisioning.propositions[{id, scope, scopeDetails}]``
  and ``propositionEventType: {interact: 1}`` (the Web SDK's own click event for a Target click metric);
- a **conversion** (``track(mbox, params=, profile=, order=)``): the mbox as the event's decision scope (Target
  executes it: the "viewed an mbox" goal at.js's ``trackEvent`` counts), its params and ``profile.*`` in
  ``data.__adobe.target``; an order as Adobe's Web SDK guides map at.js's order parameters: ``orderId`` →
  ``commerce.order.purchaseID``, ``orderTotal`` → ``commerce.order.priceTotal``, ``productPurchasedId`` →
  ``productListItems[].SKU``, with ``commerce.purchases.value`` 1 and the event type ``commerce.purchases``.
  Without an order the event is a ``decisioning.propositionDisplay`` for the mbox, as the guides map a
  ``trackEvent`` display notification.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..delivery.context import PageContext
from ..delivery.params import Mbox
from ..visitor import Visitor
from .request import interact_body

__all__ = ["CLICK_EVENT", "CONVERSION_EVENT", "PURCHASE_EVENT", "experience_event", "proposition_ref"]

CLICK_EVENT = "decisioning.propositionInteract"
CONVERSION_EVENT = "decisioning.propositionDisplay"
PURCHASE_EVENT = "commerce.purchases"


_How = tuple[str, str | None]  # the global mbox's name, the datastream's namespace for mbox3rdPartyId


def proposition_ref(raw: object) -> dict[str, Any] | None:
    """``{id, scope, scopeDetails}`` of a proposition, or None when it is not one."""
    if not isinstance(raw, Mapping):
        return None
    pid, scope, details = raw.get("id"), raw.get("scope"), raw.get("scopeDetails")
    if not (isinstance(pid, str) and pid and isinstance(scope, str) and scope and isinstance(details, Mapping)):
        return None
    return {"id": pid, "scope": scope, "scopeDetails": dict(details)}


def _base(visitor: Visitor, page: PageContext, mboxes: Sequence[Mbox], how: _How) -> dict[str, Any]:
    global_mbox, namespace = how
    return interact_body(
        mboxes,
        page=page,
        state=visitor.edge_state,
        global_mbox=global_mbox,
        ecid=visitor.marketing_cloud_visitor_id,
        customer_ids=visitor.customer_ids,
        third_party_id=(namespace, visitor.third_party_id) if namespace and visitor.third_party_id else None,
    )


def _click(note: Mapping[str, Any], visitor: Visitor, page: PageContext, how: _How) -> dict[str, Any] | None:
    refs: list[dict[str, Any]] = []
    for raw in note.get("propositions") or ():
        ref = proposition_ref(raw)
        if ref is not None and all(ref["id"] != seen["id"] for seen in refs):
            refs.append(ref)
    if not refs:
        return None  # a click of a Delivery API page: no proposition to name
    body = _base(visitor, page, (), how)
    del body["query"]  # an interaction asks for nothing
    xdm = body["event"]["xdm"]
    xdm["eventType"] = CLICK_EVENT
    xdm["_experience"] = {"decisioning": {"propositions": refs, "propositionEventType": {"interact": 1}}}
    return body


def _conversion(note: Mapping[str, Any], visitor: Visitor, page: PageContext, how: _How) -> dict[str, Any] | None:
    mbox = note.get("mbox")
    name = mbox.get("name") if isinstance(mbox, Mapping) else None
    if not isinstance(name, str) or not name.strip():
        return None
    params: dict[str, Any] = dict(note.get("parameters") or {})
    params.update({f"profile.{k}": v for k, v in (note.get("profileParameters") or {}).items()})
    product = note.get("product")
    if isinstance(product, Mapping):  # Recommendations' entity params, as at.js names them
        params.update({f"entity.{k}": v for k, v in product.items() if k in ("id", "categoryId")})
    body = _base(visitor, page, (Mbox(name, params),), how)
    xdm = body["event"]["xdm"]
    order = note.get("order")
    if isinstance(order, Mapping) and order:
        xdm["eventType"] = PURCHASE_EVENT
        placed: dict[str, Any] = {}
        if isinstance(order.get("id"), str):
            placed["purchaseID"] = order["id"]
        total = order.get("total")
        if isinstance(total, int | float) and not isinstance(total, bool):
            placed["priceTotal"] = total
        xdm["commerce"] = {"order": placed, "purchases": {"value": 1}}
        skus = [p for p in order.get("purchasedProductIds") or () if isinstance(p, str) and p]
        if skus:
            xdm["productListItems"] = [{"SKU": sku} for sku in skus]
    else:
        xdm["eventType"] = CONVERSION_EVENT
        xdm["_experience"] = {"decisioning": {"propositionEventType": {"display": 1}}}
    return body


def experience_event(
    note: Mapping[str, Any],
    *,
    visitor: Visitor,
    page: PageContext,
    global_mbox: str,
    third_party_id_namespace: str | None = None,
) -> dict[str, Any] | None:
    """The ``interact`` body for one queued notification, or None when the Edge Network has no event for it."""
    how = (global_mbox, third_party_id_namespace)
    if note.get("type") == "click":
        return _click(note, visitor, page, how)
    return _conversion(note, visitor, page, how)
