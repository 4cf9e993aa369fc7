"""The Delivery API request essentials the edge checks before deciding (openapi/delivery, DeliveryRequest).

Not a full schema validator: the constraints that a real edge rejects with ``400 {"status", "message"}`` and
that would make a decision meaningless: shapes, required fields, enums and the documented length limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["RequestInvalid", "validate_delivery_request", "validate_session_id"]

_SESSION_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_AUTH_STATES = {"unknown", "authenticated", "logged_out"}


class RequestInvalid(ValueError):
    """A Delivery API request that does not fit the spec; the message says where."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise RequestInvalid(message)


def _string(value: Any, where: str, max_len: int, *, required: bool = False) -> None:
    if value is None:
        _check(not required, f"{where} is required")
        return
    _check(isinstance(value, str), f"{where} must be a string")
    _check(len(value) <= max_len, f"{where} is longer than {max_len} characters")


def _object(value: Any, where: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None:
        _check(not required, f"{where} is required")
        return {}
    _check(isinstance(value, Mapping), f"{where} must be an object")
    return value  # type: ignore[no-any-return]


def _params(value: Any, where: str, *, profile: bool = False) -> None:
    params = _object(value, where)
    _check(len(params) <= 50, f"{where} has more than 50 entries")
    for name, item in params.items():
        _check(len(name) <= 128, f"{where}: a name is longer than 128 characters")
        _check(profile or not name.startswith("profile."), f"{where}.{name}: use profileParameters")
        _check(item is None or isinstance(item, str | int | float | bool), f"{where}.{name} must be a string")
        _check(not isinstance(item, str) or len(item) <= 5000, f"{where}.{name} is over 5000 characters")


def _details(value: Any, where: str) -> Mapping[str, Any]:
    details = _object(value, where)
    _params(details.get("parameters"), f"{where}.parameters")
    _params(details.get("profileParameters"), f"{where}.profileParameters", profile=True)
    address = _object(details.get("address"), f"{where}.address")
    _string(address.get("url"), f"{where}.address.url", 4096)
    _string(address.get("referringUrl"), f"{where}.address.referringUrl", 4096)
    return details


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    _check(isinstance(value, list), f"{where} must be an array")
    return value  # type: ignore[no-any-return]


def _visitor(value: Any) -> None:
    visitor = _object(value, "id")
    for key in ("tntId", "thirdPartyId", "marketingCloudVisitorId"):
        _string(visitor.get(key), f"id.{key}", 128)
    customer_ids = _list(visitor.get("customerIds"), "id.customerIds")
    _check(len(customer_ids) <= 50, "id.customerIds has more than 50 entries")
    for i, customer in enumerate(customer_ids):
        item = _object(customer, f"id.customerIds[{i}]", required=True)
        _string(item.get("id"), f"id.customerIds[{i}].id", 128, required=True)
        _string(item.get("integrationCode"), f"id.customerIds[{i}].integrationCode", 50, required=True)
        state = item.get("authenticatedState")
        _check(state in _AUTH_STATES, f"id.customerIds[{i}].authenticatedState is invalid")


def _mode(value: Any, where: str, *, views: bool) -> None:
    part = _object(value, where)
    if part.get("pageLoad") is not None:
        _details(part["pageLoad"], f"{where}.pageLoad")
    for i, mbox in enumerate(_list(part.get("mboxes"), f"{where}.mboxes")):
        item = _details(mbox, f"{where}.mboxes[{i}]")
        _string(item.get("name"), f"{where}.mboxes[{i}].name", 250, required=True)
        index = item.get("index")
        _check(
            index is None or (isinstance(index, int) and not isinstance(index, bool)),
            f"{where}.mboxes[{i}].index must be an integer",
        )
    if views:
        for i, view in enumerate(_list(part.get("views"), f"{where}.views")):
            item = _details(view, f"{where}.views[{i}]")
            _string(item.get("name"), f"{where}.views[{i}].name", 128)
            _string(item.get("key"), f"{where}.views[{i}].key", 512)
    else:
        _check(part.get("views") is None, f"{where}.views is not allowed")


def validate_session_id(session_id: str | None) -> None:
    _check(
        session_id is None or (bool(_SESSION_ID.match(session_id)) and "?" not in session_id and "/" not in session_id),
        "sessionId must be 1-128 printable characters without space, ? or /",
    )


def validate_delivery_request(body: Any) -> Mapping[str, Any]:
    """Return the request when it is valid; raise :class:`RequestInvalid` otherwise."""
    request = _object(body, "request", required=True)
    context = _object(request.get("context"), "context", required=True)
    _check(context.get("channel") in ("web", "mobile"), "context.channel must be 'web' or 'mobile'")
    _string(context.get("userAgent"), "context.userAgent", 4096)
    address = _object(context.get("address"), "context.address")
    _string(address.get("url"), "context.address.url", 4096)
    _string(address.get("referringUrl"), "context.address.referringUrl", 4096)
    _object(context.get("geo"), "context.geo")
    _string(request.get("requestId"), "requestId", 128)
    _visitor(request.get("id"))
    _string(_object(request.get("property"), "property").get("token"), "property.token", 128)
    _mode(request.get("execute"), "execute", views=False)
    _mode(request.get("prefetch"), "prefetch", views=True)
    for i, note in enumerate(_list(request.get("notifications"), "notifications")):
        item = _details(note, f"notifications[{i}]")
        _string(item.get("id"), f"notifications[{i}].id", 200, required=True)
        _check(item.get("type") in ("click", "display"), f"notifications[{i}].type must be click or display")
        stamp = item.get("timestamp")
        valid_stamp = isinstance(stamp, int) and not isinstance(stamp, bool)
        _check(valid_stamp, f"notifications[{i}].timestamp is invalid")
        for token in _list(item.get("tokens"), f"notifications[{i}].tokens"):
            _check(isinstance(token, str) and bool(token), f"notifications[{i}].tokens: a token is not a string")
    return request
