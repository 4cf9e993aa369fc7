"""A Delivery API request as a mapping, the form Adobe's SDKs take, read into what ``get_offers`` decides.

Code moving from ``targetClient.getOffers({request: {...}})`` (Node) or ``get_offers({"request": {...}})``
(Python) can hand the same request to ``TargetClient.get_offers``::

    {"execute": {"mboxes": [{"index": 0, "name": "hero", "parameters": {...}}], "pageLoad": {...}},
     "prefetch": {"mboxes": [...], "pageLoad": {...}}, "context": {...}, "id": {...}, "qaMode": ..., "trace": ...}

or wrapped as the SDKs' options, ``{"request": {...}, "sessionId": "..."}``. Each mbox's ``parameters``,
``profileParameters``, ``order`` and ``product`` become its params (``profile.x``, ``orderId``, ...), mapped back
to the same places. What the client cannot carry (views, notifications, Analytics and Audience Manager settings,
customer ids, a per-mbox address) is refused with a message naming it, never dropped in silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ..visitor import Visitor, cluster_of_tnt_id, new_session_id
from .context import PageContext
from .offers import OffersRequest
from .params import Mbox

__all__ = ["offers_request_from_mapping", "one_of"]

_REQUEST_KEYS = frozenset({"requestId", "execute", "prefetch", "context", "id", "qaMode", "trace", "property"})
_SECTION_KEYS = frozenset({"mboxes", "pageLoad"})
_MBOX_KEYS = frozenset({"index", "name", "parameters", "profileParameters", "order", "product"})
_DETAIL_KEYS = frozenset({"parameters", "profileParameters", "order", "product"})
_CONTEXT_KEYS = frozenset({"channel", "address", "userAgent", "clientHints", "geo", "timeOffsetInMinutes"})
_ID_KEYS = frozenset({"tntId", "thirdPartyId", "marketingCloudVisitorId"})
# at.js names that map into order, product, id or property: as a plain parameter they would be read as those
_RESERVED = frozenset(
    {"mbox3rdPartyId", "at_property", "orderId", "orderTotal", "productPurchasedId", "productId", "categoryId"}
)
_UNSUPPORTED = {
    "views": "prefetch.views: view prefetching is not supported by get_offers",
    "notifications": "notifications: send them with send_notifications()",
    "experienceCloud": "experienceCloud (Analytics for Target, Audience Manager): not supported by get_offers",
    "customerIds": "id.customerIds: customer ids are not supported by get_offers",
    "address": "a per-mbox address: give the page's URL in context.address.url",
    "environmentId": "environmentId: set it on the client, TargetClient(environment_id=...)",
}


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a mapping (a JSON object), not {type(value).__name__}")
    return value


def _known(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in value:
        if key in allowed:
            continue
        if key in _UNSUPPORTED:
            raise ValueError(f"{where}: {_UNSUPPORTED[key]}")
        if key not in allowed:
            raise ValueError(f"{where}: unknown field {key!r}; the Delivery API names here are {sorted(allowed)}")


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _params(details: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A RequestDetails object as at.js params, which ``map_params`` puts back in the same places."""
    params: dict[str, Any] = {}
    for name, value in _mapping(details.get("parameters", {}), f"{where}.parameters").items():
        if name in _RESERVED or str(name).startswith("profile."):
            raise ValueError(f"{where}.parameters: {name!r} is read as an at.js name; use order, product or id")
        params[name] = value
    profile = _mapping(details.get("profileParameters", {}), f"{where}.profileParameters")
    params.update({f"profile.{name}": value for name, value in profile.items()})
    order = _mapping(details.get("order", {}), f"{where}.order")
    _known(order, frozenset({"id", "total", "purchasedProductIds"}), f"{where}.order")
    if "id" in order:
        params["orderId"] = order["id"]
    if "total" in order:
        params["orderTotal"] = order["total"]
    if "purchasedProductIds" in order:
        ids = order["purchasedProductIds"]
        if isinstance(ids, str) or not isinstance(ids, Sequence) or not all(isinstance(i, str) for i in ids):
            raise TypeError(f"{where}.order.purchasedProductIds must be a list of strings")
        if any("," in i for i in ids):
            raise ValueError(f"{where}.order.purchasedProductIds: a product id cannot hold ','")
        params["productPurchasedId"] = ",".join(ids)
    product = _mapping(details.get("product", {}), f"{where}.product")
    _known(product, frozenset({"id", "categoryId"}), f"{where}.product")
    if "id" in product:
        params["productId"] = product["id"]
    if "categoryId" in product:
        params["categoryId"] = product["categoryId"]
    return params


def _section(raw: object, where: str, global_mbox: str) -> tuple[list[Mbox], Mapping[str, Any] | None]:
    section = _mapping(raw, where)
    _known(section, _SECTION_KEYS, where)
    mboxes_raw = section.get("mboxes", [])
    if isinstance(mboxes_raw, str | Mapping) or not isinstance(mboxes_raw, Sequence):
        raise TypeError(f"{where}.mboxes must be a list of mbox requests")
    indexed: list[tuple[int, Mbox]] = []
    for position, item in enumerate(mboxes_raw):
        at = f"{where}.mboxes[{position}]"
        mbox = _mapping(item, at)
        _known(mbox, _MBOX_KEYS, at)
        index = mbox.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"{at}.index must be an integer >= 0, not {index!r}")
        if any(index == seen for seen, _ in indexed):
            raise ValueError(f"{at}.index {index} is used twice")
        indexed.append((index, Mbox(_string(mbox.get("name"), f"{at}.name"), _params(mbox, at))))
    page_load = section.get("pageLoad")
    if page_load is not None:
        _known(_mapping(page_load, f"{where}.pageLoad"), _DETAIL_KEYS, f"{where}.pageLoad")
    mboxes = [mbox for _, mbox in sorted(indexed, key=lambda pair: pair[0])]
    if page_load is not None and any(m.name == global_mbox for m in mboxes):
        raise ValueError(f"{where}: the global mbox {global_mbox!r} is asked for twice (pageLoad and mboxes)")
    return mboxes, page_load


def _page(raw: object) -> PageContext:
    context = _mapping(raw, "context")
    _known(context, _CONTEXT_KEYS, "context")
    if context.get("channel", "web") != "web":
        raise ValueError(f"context.channel: only 'web' is supported, not {context.get('channel')!r}")
    address = _mapping(context.get("address", {}), "context.address")
    _known(address, frozenset({"url", "referringUrl"}), "context.address")
    geo = _mapping(context.get("geo", {}), "context.geo")
    _known(geo, frozenset({"ipAddress"}), "context.geo")
    offset = context.get("timeOffsetInMinutes")
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int | float)):
        raise TypeError("context.timeOffsetInMinutes must be a number")
    hints = context.get("clientHints")
    return PageContext(
        url=address.get("url"),
        referring_url=address.get("referringUrl"),
        user_agent=context.get("userAgent"),
        client_hints=_mapping(hints, "context.clientHints") if hints is not None else None,
        ip_address=geo.get("ipAddress"),
        time_offset_minutes=offset,
    )


def _visitor(raw: object, session_id: str | None) -> Visitor:
    ids = _mapping(raw, "id")
    _known(ids, _ID_KEYS, "id")
    values = {key: _string(ids[key], f"id.{key}") for key in _ID_KEYS if key in ids}
    tnt_id = values.get("tntId")
    try:
        return Visitor(
            session_id=session_id or new_session_id(),
            tnt_id=tnt_id,
            edge_cluster=cluster_of_tnt_id(tnt_id) if tnt_id else None,
            third_party_id=values.get("thirdPartyId"),
            marketing_cloud_visitor_id=values.get("marketingCloudVisitorId"),
        )
    except ValueError as exc:
        raise ValueError(f"id / sessionId: {exc}") from None


def offers_request_from_mapping(
    raw: Mapping[str, Any], *, global_mbox: str
) -> tuple[OffersRequest, Visitor | None, PageContext | None]:
    """The request, the visitor its ``id`` (or ``sessionId``) names, and its ``context`` (None when left out)."""
    session_id = None
    if "request" in raw and not {"execute", "prefetch"} & raw.keys():  # the SDKs' options around the request
        for key in raw:
            if key not in ("request", "sessionId"):
                raise ValueError(
                    f"{key!r}: of the SDKs' getOffers options only request and sessionId are read here; "
                    "pass the visitor as visitor=Visitor.from_cookies(request.cookies)"
                )
        session_id = _string(raw["sessionId"], "sessionId") if "sessionId" in raw else None
        raw = _mapping(raw["request"], "request")
    _known(raw, _REQUEST_KEYS, "the Delivery API request")
    execute, page_load = _section(raw.get("execute", {}), "execute", global_mbox)
    prefetch, prefetch_page_load = _section(raw.get("prefetch", {}), "prefetch", global_mbox)
    if page_load is not None:
        execute.insert(0, Mbox(global_mbox, _params(page_load, "execute.pageLoad")))
    if prefetch_page_load is not None:
        prefetch.insert(0, Mbox(global_mbox, _params(prefetch_page_load, "prefetch.pageLoad")))
    if not execute and not prefetch:
        raise ValueError("nothing to decide: the request has no execute or prefetch mboxes and no pageLoad")
    token = _mapping(raw.get("property", {}), "property").get("token")
    if token is not None:  # a request's own property token goes where at.js's at_property param puts it
        first = (execute or prefetch)[0]
        first_params = {**first.params, "at_property": _string(token, "property.token")}
        (execute or prefetch)[0] = Mbox(first.name, first_params)
    qa_mode, trace = raw.get("qaMode"), raw.get("trace")
    request = OffersRequest(
        mboxes=execute,
        prefetch=prefetch,
        qa_mode=_mapping(qa_mode, "qaMode") if qa_mode is not None else None,
        trace=_mapping(trace, "trace") if trace is not None else None,
        page=_page(raw["context"]) if "context" in raw else PageContext(),
    )
    visitor = _visitor(raw["id"], session_id) if "id" in raw else None
    if visitor is None and session_id is not None:
        visitor = _visitor({}, session_id)
    return request, visitor, request.page if "context" in raw else None


T = TypeVar("T")


def one_of(argument: T | None, in_mapping: T | None, argument_name: str, key: str) -> T | None:
    """``argument`` or what the request mapping says: not both."""
    if argument is not None and in_mapping is not None:
        raise ValueError(f"give {argument_name}= or the request's {key!r}, not both")
    return argument if argument is not None else in_mapping
