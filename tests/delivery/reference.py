"""The straightforward versions of what the client now does faster: the oracles its fast paths must match.

``parse_response`` and ``map_params``/``sections`` are the parser and the request building as they were before
they were made fast (one helper call per field, a MappedParams per mbox, frozen values built by their
``__init__``). Tests compare the package's answers with these on generated input, failures included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from target_middleware.delivery.errors import ResponseParseError
from target_middleware.delivery.models import (
    Action,
    DeliveryResponse,
    MboxResult,
    Metric,
    MetricType,
    Option,
    OptionType,
    PageLoadResult,
    ViewResult,
)
from target_middleware.delivery.params import MappedParams, Mbox

_T = TypeVar("_T")
_MAX_PARAMS = 50
_MAX_NAME = 128
_MAX_VALUE = 5000
_SPECIAL = frozenset(
    {"mbox3rdPartyId", "at_property", "orderId", "orderTotal", "productPurchasedId", "productId", "categoryId"}
)


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


def map_params(params: Mapping[str, Any]) -> MappedParams:
    """Split at.js params into the request's places. Bad names or values are a ValueError."""
    parameters: dict[str, str] = {}
    profile: dict[str, str] = {}
    order: dict[str, Any] = {}
    product: dict[str, str] = {}
    third_party_id = property_token = None
    for name, raw in params.items():
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME + len("profile."):
            raise ValueError(f"param name {name!r} is empty, too long or not a string")
        if raw is None:
            continue
        value = raw if type(raw) is str and len(raw) <= _MAX_VALUE else _text(name, raw)
        if name not in _SPECIAL and not name.startswith("profile."):
            if len(name) > _MAX_NAME:
                raise ValueError(f"param name {name[:20]!r}... is longer than {_MAX_NAME} characters")
            parameters[name] = value
        elif name.startswith("profile."):
            key = name.removeprefix("profile.")
            if not key or key.startswith("profile."):
                raise ValueError(f"param name {name!r} is not a valid profile parameter")
            profile[key] = value
        elif name == "mbox3rdPartyId":
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
        elif name == "categoryId":
            product["categoryId"] = value[:128]
    if len(parameters) > _MAX_PARAMS or len(profile) > _MAX_PARAMS:
        raise ValueError(f"at most {_MAX_PARAMS} parameters and {_MAX_PARAMS} profile parameters")
    places = {"parameters": parameters, "profileParameters": profile, "order": order, "product": product}
    return MappedParams({k: v for k, v in places.items() if v}, third_party_id, property_token)


def sections(mboxes: Sequence[Mbox], global_mbox: str, ids: dict[str, str | None]) -> dict[str, Any]:
    section: dict[str, Any] = {}
    regional: list[dict[str, Any]] = []
    for mbox in mboxes:
        mapped = map_params(mbox.params)
        if mapped.third_party_id:
            ids["thirdPartyId"] = mapped.third_party_id
        if mapped.property_token:
            ids["property"] = mapped.property_token
        if mbox.name == global_mbox:
            section["pageLoad"] = mapped.details
        else:
            regional.append({"index": len(regional), "name": mbox.name, **mapped.details})
    if regional:
        section["mboxes"] = regional
    return section


class _Misfit(Exception):
    def __init__(self, what: str, *path: str) -> None:
        super().__init__(what)
        self.what = what
        self.path = list(path)


_OPTION_TYPES = {member.value: member for member in OptionType}
_METRIC_TYPES = {member.value: member for member in MetricType}


def _obj(value: object) -> Mapping[str, Any]:
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise _Misfit("expected an object")


def _list(value: object, key: str) -> Sequence[Any]:
    if value is None:
        return ()
    if type(value) is not list:
        raise _Misfit("expected an array", key)
    return value


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise _Misfit("expected a string", key)


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or type(value) is int:
        return value
    raise _Misfit("expected an integer", key)


def _each(items: Sequence[Any], key: str, parse: Callable[[Any], _T]) -> tuple[_T, ...]:
    try:
        return tuple([parse(item) for item in items])
    except _Misfit:
        pass
    for i, item in enumerate(items):  # the slow path, only to say where it failed
        try:
            parse(item)
        except _Misfit as misfit:
            misfit.path.append(f"{key}[{i}]")
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _action(data: object) -> Action:
    obj = _obj(data)
    kind = _str(obj, "type")
    if not kind:
        raise _Misfit("missing", "type")
    content = obj.get("content")
    if content is not None and not isinstance(content, str | Mapping):
        raise _Misfit("expected a string or an object", "content")
    return Action(kind, _str(obj, "selector"), _str(obj, "cssSelector"), content)


def _option(data: object) -> Option:
    obj = _obj(data)
    kind = _OPTION_TYPES.get(obj.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise _Misfit("unknown option type", "type")
    content = obj.get("content")
    if kind is OptionType.ACTIONS:
        content = _each(_list(content, "content"), "content", _action)
    elif kind is not OptionType.JSON and type(content) is not str:
        raise _Misfit(f"expected a string for a {kind} option", "content")
    tokens = obj.get("responseTokens")
    if tokens is None:
        tokens = {}
    elif type(tokens) is not dict:
        raise _Misfit("expected an object", "responseTokens")
    return Option(kind, content, _str(obj, "eventToken"), tokens)


def _metric(data: object) -> Metric:
    obj = _obj(data)
    kind = _METRIC_TYPES.get(obj.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise _Misfit("unknown metric type", "type")
    return Metric(kind, _str(obj, "selector"), _str(obj, "eventToken"))


def _parts(obj: Mapping[str, Any]) -> tuple[tuple[Option, ...], tuple[Metric, ...], str | None]:
    options = _each(_list(obj.get("options"), "options"), "options", _option)
    metrics = _each(_list(obj.get("metrics"), "metrics"), "metrics", _metric)
    return options, metrics, _str(obj, "state")


def _mbox(data: object) -> MboxResult:
    obj = _obj(data)
    return MboxResult(_str(obj, "name") or "", _int(obj, "index"), *_parts(obj))


def _view(data: object) -> ViewResult:
    obj = _obj(data)
    return ViewResult(_str(obj, "name"), _str(obj, "key"), *_parts(obj))


def _page_load(section: Mapping[str, Any]) -> PageLoadResult | None:
    value = section.get("pageLoad")
    if value is None:
        return None
    try:
        return PageLoadResult(*_parts(_obj(value)))
    except _Misfit as misfit:
        misfit.path.append("pageLoad")
        raise


def _object_or_empty(value: object) -> Mapping[str, Any]:
    return {} if value is None else _obj(value)


def _parse(body: Mapping[str, Any]) -> DeliveryResponse:
    where = ""  # the top-level key being parsed, for the error's path
    try:
        where = "execute"
        execute = _object_or_empty(body.get("execute"))
        execute_mboxes = _each(_list(execute.get("mboxes"), "mboxes"), "mboxes", _mbox)
        execute_page_load = _page_load(execute)
        where = "prefetch"
        prefetch = _object_or_empty(body.get("prefetch"))
        prefetch_mboxes = _each(_list(prefetch.get("mboxes"), "mboxes"), "mboxes", _mbox)
        prefetch_page_load = _page_load(prefetch)
        views = _each(_list(prefetch.get("views"), "views"), "views", _view)
        metrics = _each(_list(prefetch.get("metrics"), "metrics"), "metrics", _metric)
        where = "id"
        tnt_id = _str(_object_or_empty(body.get("id")), "tntId")
        where = ""
        notes = _each(_list(body.get("notifications"), "notifications"), "notifications", _obj)
        status, request_id = _int(body, "status"), _str(body, "requestId")
        client, edge_host = _str(body, "client"), _str(body, "edgeHost")
    except _Misfit as misfit:
        if where:
            misfit.path.append(where)
        raise
    return DeliveryResponse(
        status=status,
        request_id=request_id,
        client=client,
        tnt_id=tnt_id,
        edge_host=edge_host,
        execute_mboxes=execute_mboxes,
        execute_page_load=execute_page_load,
        prefetch_mboxes=prefetch_mboxes,
        prefetch_page_load=prefetch_page_load,
        prefetch_views=views,
        prefetch_metrics=metrics,
        notification_ids=tuple(str(n["id"]) for n in notes if n.get("id") is not None),
        raw=body,
    )


def parse_response(data: object) -> DeliveryResponse:
    """A Delivery API 200 body (decoded JSON) as a typed value; ``ResponseParseError`` if it does not fit."""
    try:
        return _parse(_obj(data))
    except _Misfit as misfit:
        where = ".".join(reversed(misfit.path)).replace(".[", "[") or "$"
        raise ResponseParseError(f"response does not fit the schema at {where}: {misfit.what}") from None
