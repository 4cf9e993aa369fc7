"""at.js parameters mapped into a DeliveryRequest, the way ``adobe.target.getOffer`` maps them.

``profile.x`` -> ``profileParameters.x``; ``mbox3rdPartyId`` -> ``id.thirdPartyId``; ``at_property``
-> ``property.token``; ``orderId``/``orderTotal``/``productPurchasedId`` -> ``order``;
``productId``/``categoryId`` -> ``product``; everything else -> ``parameters``.
The global mbox becomes ``pageLoad``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..identity import audience_manager, visitor_ids
from ..randomids import uuid4_hex
from ..visitor import Visitor

__all__ = [
    "GLOBAL_MBOX",
    "MappedParams",
    "Mbox",
    "build_request",
    "experience_cloud",
    "map_params",
    "new_request_id",
    "page_load_ids",
    "page_load_request",
]

GLOBAL_MBOX = "target-global-mbox"
_MAX_PARAMS = 50
_MAX_NAME = 128
_MAX_VALUE = 5000
_SPECIAL = frozenset(
    {
        "mbox3rdPartyId",
        "at_property",
        "orderId",
        "orderTotal",
        "productPurchasedId",
        "productId",
        "categoryId",
    }
)


@dataclass(frozen=True, slots=True)
class Mbox:
    """One mbox to decide, with its at.js-style params (string, number or bool values)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("an mbox needs a non-empty name")
        if not isinstance(self.params, Mapping):
            raise ValueError("mbox params must be a mapping")


@dataclass(frozen=True, slots=True)
class MappedParams:
    details: dict[str, Any]  # RequestDetails: parameters, profileParameters, order, product
    third_party_id: str | None = None
    property_token: str | None = None


def _text(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value)
        if len(text) > _MAX_VALUE:
            raise ValueError(f"param {name!r}: value longer than {_MAX_VALUE} characters")
        return text
    raise ValueError(f"param {name!r}: expected a string, number or bool, got {type(value).__name__}")


def _order_total(value: str) -> float:
    try:
        total = float(value)
    except ValueError:
        raise ValueError("param 'orderTotal' is not a number") from None
    if not math.isfinite(total) or total < 0:
        raise ValueError("param 'orderTotal' must be a finite number >= 0")
    return total


def _place(params: Mapping[str, Any], into: dict[str, Any]) -> tuple[str | None, str | None]:
    """Put at.js params in their places in ``into`` (a RequestDetails: parameters, profileParameters, order,
    product, each only when it has something); the thirdPartyId and property token they name. Bad names or values
    are a ValueError, the first in the params' order."""
    parameters: dict[str, str] = {}
    profile: dict[str, str] = {}
    order: dict[str, Any] = {}
    product: dict[str, str] = {}
    third_party_id = property_token = None
    for name, raw in params.items():
        if (type(name) is not str and not isinstance(name, str)) or not name or len(name) > _MAX_NAME + 8:
            raise ValueError(f"param name {name!r} is empty, too long or not a string")
        if raw is None:
            continue
        value = raw if type(raw) is str and len(raw) <= _MAX_VALUE else _text(name, raw)
        if name in _SPECIAL:
            if name == "mbox3rdPartyId":
                third_party_id = value[:128]
            elif name == "at_property":
                property_token = value
            elif name == "orderId":
                order["id"] = value[:250]
            elif name == "orderTotal":
                order["total"] = _order_total(value)
            elif name == "productPurchasedId":
                order["purchasedProductIds"] = [p.strip() for p in value.split(",") if p.strip()]
            elif name == "productId":
                product["id"] = value[:128]
            else:  # categoryId
                product["categoryId"] = value[:128]
        elif name.startswith("profile."):
            key = name[8:]
            if not key or key.startswith("profile."):
                raise ValueError(f"param name {name!r} is not a valid profile parameter")
            profile[key] = value
        elif len(name) > _MAX_NAME:
            raise ValueError(f"param name {name[:20]!r}... is longer than {_MAX_NAME} characters")
        else:
            parameters[name] = value
    if len(parameters) > _MAX_PARAMS or len(profile) > _MAX_PARAMS:
        raise ValueError(f"at most {_MAX_PARAMS} parameters and {_MAX_PARAMS} profile parameters")
    if parameters:
        into["parameters"] = parameters
    if profile:
        into["profileParameters"] = profile
    if order:
        into["order"] = order
    if product:
        into["product"] = product
    return third_party_id, property_token


def map_params(params: Mapping[str, Any]) -> MappedParams:
    """Split at.js params into the request's places. Bad names or values are a ValueError."""
    details: dict[str, Any] = {}
    third_party_id, property_token = _place(params, details)
    return MappedParams(details, third_party_id, property_token)


def _section(mboxes: Sequence[Mbox], global_mbox: str, ids: dict[str, str | None]) -> dict[str, Any]:
    section: dict[str, Any] = {}
    regional: list[dict[str, Any]] = []
    for mbox in mboxes:
        name, params = mbox.name, mbox.params
        if name == global_mbox:
            details: dict[str, Any] = {}
            section["pageLoad"] = details
        else:
            details = {"index": len(regional), "name": name}
            regional.append(details)
        if params:
            third_party_id, property_token = _place(params, details)
            if third_party_id:
                ids["thirdPartyId"] = third_party_id
            if property_token:
                ids["property"] = property_token
    if regional:
        section["mboxes"] = regional
    return section


# A random (version 4) UUID as 32 hex digits, as ``uuid.uuid4().hex`` writes it, from a pool (see ``randomids``).
_request_id = uuid4_hex


def build_request(
    *,
    execute: Sequence[Mbox],
    prefetch: Sequence[Mbox] = (),
    prefetch_page_load: bool = False,
    prefetch_views: bool = False,
    visitor: Visitor,
    context: dict[str, Any],
    global_mbox: str = GLOBAL_MBOX,
    property_token: str | None = None,
    environment_id: int | None = None,
    analytics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The DeliveryRequest JSON for one visitor's page view: one request for every mbox.

    The visitor's ids come from :func:`identity.visitor_ids`; ``analytics`` is ``experienceCloud.analytics`` (A4T).
    """
    if len(execute) == 1 and not (prefetch or prefetch_page_load or prefetch_views):
        only = execute[0]
        if only.name == global_mbox and not only.params:
            return page_load_request(visitor, context, property_token, environment_id, analytics)
    return _request(
        execute=execute,
        prefetch=prefetch,
        prefetch_page_load=prefetch_page_load,
        prefetch_views=prefetch_views,
        visitor=visitor,
        context=context,
        global_mbox=global_mbox,
        property_token=property_token,
        environment_id=environment_id,
        analytics=analytics,
    )


def new_request_id() -> str:
    """A fresh ``requestId`` (what ``build_request`` writes): a random UUID as 32 hex digits."""
    return _request_id()


def page_load_ids(visitor: Visitor) -> dict[str, Any] | None:
    """The ``id`` of the visitor's page-load request (``visitor_ids``), None when it has none: the usual returning
    visitor's, a tntId alone, written out without its call."""
    if not (visitor.third_party_id or visitor.marketing_cloud_visitor_id):  # no customer ids without an ECID
        return {"tntId": visitor.tnt_id} if visitor.tnt_id else None
    return visitor_ids(visitor) or None


def experience_cloud(visitor: Visitor, analytics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The request's ``experienceCloud``: the visitor's Audience Manager part and ``analytics`` (A4T), or None."""
    aam = audience_manager(visitor) if visitor.marketing_cloud_visitor_id else None
    if not (aam or analytics):
        return None
    section: dict[str, Any] = {}
    if aam:
        section["audienceManager"] = aam
    if analytics:
        section["analytics"] = dict(analytics)
    return section


def page_load_request(
    visitor: Visitor,
    context: dict[str, Any],
    property_token: str | None,
    environment_id: int | None,
    analytics: Mapping[str, Any] | None,
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    """``build_request`` for the global mbox alone, without params, nothing prefetched (most pages' request): what
    ``_request`` builds, key order included, without the sections' loops (no param can name a thirdPartyId or
    property token here). ``request_id``: its ``requestId``, else a new one."""
    request: dict[str, Any] = {
        "requestId": _request_id() if request_id is None else request_id,
        "context": context,
        "execute": {"pageLoad": {}},
    }
    ids = page_load_ids(visitor)
    if ids is not None:
        request["id"] = ids
    if visitor.marketing_cloud_visitor_id or analytics or property_token or environment_id is not None:
        _close(request, visitor, property_token, environment_id, analytics)
    return request


def _with_ids(
    request: dict[str, Any],
    visitor: Visitor,
    *,
    third_party_id: str | None,
    property_token: str | None,
    environment_id: int | None,
    analytics: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``request`` with what follows its sections: the visitor's ids, experienceCloud, property, environmentId."""
    visitor_id = visitor_ids(visitor, third_party_id=third_party_id)
    if visitor_id:
        request["id"] = visitor_id
    _close(request, visitor, property_token, environment_id, analytics)
    return request


def _close(
    request: dict[str, Any],
    visitor: Visitor,
    property_token: str | None,
    environment_id: int | None,
    analytics: Mapping[str, Any] | None,
) -> None:
    """What a request ends with, after the visitor's ids: experienceCloud, property, environmentId."""
    cloud = experience_cloud(visitor, analytics)
    if cloud is not None:
        request["experienceCloud"] = cloud
    if property_token:
        request["property"] = {"token": property_token}
    if environment_id is not None:
        request["environmentId"] = environment_id


def _request(
    *,
    execute: Sequence[Mbox],
    prefetch: Sequence[Mbox],
    prefetch_page_load: bool,
    prefetch_views: bool,
    visitor: Visitor,
    context: dict[str, Any],
    global_mbox: str,
    property_token: str | None,
    environment_id: int | None,
    analytics: Mapping[str, Any] | None,
) -> dict[str, Any]:
    ids: dict[str, str | None] = {"thirdPartyId": visitor.third_party_id, "property": property_token}
    request: dict[str, Any] = {"requestId": _request_id(), "context": context}
    execute_section = _section(execute, global_mbox, ids)
    prefetch_section = _section(prefetch, global_mbox, ids)
    if prefetch_page_load:
        prefetch_section.setdefault("pageLoad", {})
    if prefetch_views:
        # One view request asks for every view; it carries the page-load parameters, as at.js sends them.
        page_load = execute_section.get("pageLoad", {})
        prefetch_section["views"] = [{k: v for k, v in page_load.items() if k in ("parameters", "profileParameters")}]
    if execute_section:
        request["execute"] = execute_section
    if prefetch_section:
        request["prefetch"] = prefetch_section
    return _with_ids(
        request,
        visitor,
        third_party_id=ids["thirdPartyId"],
        property_token=ids["property"],
        environment_id=environment_id,
        analytics=analytics,
    )
