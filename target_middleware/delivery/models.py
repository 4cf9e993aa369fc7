"""Typed values of a Delivery API response, parsed strictly at the edge of the system.

``parse_response`` turns the JSON of a 200 answer (the edge's or the on-device decider's) into a
``DeliveryResponse``, or raises ``ResponseParseError`` saying where it does not fit the schema. Unknown fields
are ignored, as the spec allows them to be added; the raw JSON is kept on the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import ResponseParseError

__all__ = [
    "Action",
    "DeliveryResponse",
    "MboxResult",
    "Metric",
    "MetricType",
    "Option",
    "OptionType",
    "PageLoadResult",
    "ViewResult",
    "parse_response",
]


class OptionType(StrEnum):
    HTML = "html"
    JSON = "json"
    REDIRECT = "redirect"
    DYNAMIC = "dynamic"
    ACTIONS = "actions"


class MetricType(StrEnum):
    CLICK = "click"
    DISPLAY = "display"


@dataclass(frozen=True, slots=True)
class Action:
    type: str
    selector: str | None
    css_selector: str | None
    content: Any  # str, a JSON object, or None (remove)


@dataclass(frozen=True, slots=True)
class Option:
    type: OptionType
    content: Any  # str for html/redirect/dynamic, JSON for json, tuple[Action, ...] for actions
    event_token: str | None
    response_tokens: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Metric:
    type: MetricType
    selector: str | None
    event_token: str | None


@dataclass(frozen=True, slots=True)
class MboxResult:
    name: str
    index: int | None
    options: tuple[Option, ...]
    metrics: tuple[Metric, ...]
    state: str | None = None


@dataclass(frozen=True, slots=True)
class PageLoadResult:
    options: tuple[Option, ...]
    metrics: tuple[Metric, ...]
    state: str | None = None


@dataclass(frozen=True, slots=True)
class ViewResult:
    name: str | None
    key: str | None
    options: tuple[Option, ...]
    metrics: tuple[Metric, ...]
    state: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResponse:
    status: int | None
    request_id: str | None
    client: str | None
    tnt_id: str | None
    edge_host: str | None
    execute_mboxes: tuple[MboxResult, ...]
    execute_page_load: PageLoadResult | None
    prefetch_mboxes: tuple[MboxResult, ...]
    prefetch_page_load: PageLoadResult | None
    prefetch_views: tuple[ViewResult, ...]
    prefetch_metrics: tuple[Metric, ...]
    notification_ids: tuple[str, ...]
    raw: Mapping[str, Any]

    @property
    def response_tokens(self) -> tuple[Mapping[str, Any], ...]:
        """Every option's response tokens, in response order (as the SDKs' ``responseTokens``)."""
        groups: list[Sequence[Option]] = [m.options for m in self.execute_mboxes]
        for page_load in (self.execute_page_load, self.prefetch_page_load):
            if page_load is not None:
                groups.append(page_load.options)
        groups.extend(m.options for m in self.prefetch_mboxes)
        groups.extend(v.options for v in self.prefetch_views)
        return tuple(o.response_tokens for options in groups for o in options if o.response_tokens)


def _fail(where: str, what: str) -> ResponseParseError:
    return ResponseParseError(f"response does not fit the schema at {where}: {what}")


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "expected an object")
    return value


def _list(value: object, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(where, "expected an array")
    return value


def _str(value: object, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _fail(where, "expected a string")
    return value


def _int(value: object, where: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise _fail(where, "expected an integer")
    return value


def _action(data: object, where: str) -> Action:
    obj = _obj(data, where)
    kind = _str(obj.get("type"), f"{where}.type")
    if not kind:
        raise _fail(f"{where}.type", "missing")
    content = obj.get("content")
    if content is not None and not isinstance(content, str | Mapping):
        raise _fail(f"{where}.content", "expected a string or an object")
    return Action(
        kind,
        _str(obj.get("selector"), f"{where}.selector"),
        _str(obj.get("cssSelector"), f"{where}.cssSelector"),
        content,
    )


def _option(data: object, where: str) -> Option:
    obj = _obj(data, where)
    try:
        kind = OptionType(str(obj.get("type")))
    except ValueError:
        raise _fail(f"{where}.type", "unknown option type") from None
    content = obj.get("content")
    if kind is OptionType.ACTIONS:
        content = tuple(_action(a, f"{where}.content[{i}]") for i, a in enumerate(_list(content, where)))
    elif kind is not OptionType.JSON and not isinstance(content, str):
        raise _fail(f"{where}.content", f"expected a string for a {kind} option")
    tokens = obj.get("responseTokens")
    return Option(
        kind,
        content,
        _str(obj.get("eventToken"), f"{where}.eventToken"),
        _obj(tokens, f"{where}.responseTokens") if tokens is not None else {},
    )


def _metric(data: object, where: str) -> Metric:
    obj = _obj(data, where)
    try:
        kind = MetricType(str(obj.get("type")))
    except ValueError:
        raise _fail(f"{where}.type", "unknown metric type") from None
    return Metric(
        kind,
        _str(obj.get("selector"), f"{where}.selector"),
        _str(obj.get("eventToken"), f"{where}.eventToken"),
    )


def _parts(obj: Mapping[str, Any], where: str) -> tuple[tuple[Option, ...], tuple[Metric, ...], str | None]:
    options = tuple(_option(o, f"{where}.options[{i}]") for i, o in enumerate(_list(obj.get("options"), where)))
    metrics = tuple(_metric(m, f"{where}.metrics[{i}]") for i, m in enumerate(_list(obj.get("metrics"), where)))
    return options, metrics, _str(obj.get("state"), f"{where}.state")


def _mboxes(value: object, where: str) -> tuple[MboxResult, ...]:
    result = []
    for i, data in enumerate(_list(value, where)):
        obj = _obj(data, f"{where}[{i}]")
        name = _str(obj.get("name"), f"{where}[{i}].name") or ""
        result.append(MboxResult(name, _int(obj.get("index"), f"{where}[{i}].index"), *_parts(obj, f"{where}[{i}]")))
    return tuple(result)


def _page_load(value: object, where: str) -> PageLoadResult | None:
    return None if value is None else PageLoadResult(*_parts(_obj(value, where), where))


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return {} if value is None else _obj(value, key)


def parse_response(data: object) -> DeliveryResponse:
    """A Delivery API 200 body (decoded JSON) as a typed value; ``ResponseParseError`` if it does not fit."""
    body = _obj(data, "$")
    execute = _section(body, "execute")
    prefetch = _section(body, "prefetch")
    visitor_id = _section(body, "id")
    views = []
    for i, data_view in enumerate(_list(prefetch.get("views"), "prefetch.views")):
        obj = _obj(data_view, f"prefetch.views[{i}]")
        views.append(
            ViewResult(
                _str(obj.get("name"), f"prefetch.views[{i}].name"),
                _str(obj.get("key"), f"prefetch.views[{i}].key"),
                *_parts(obj, f"prefetch.views[{i}]"),
            )
        )
    notes = [_obj(n, f"notifications[{i}]") for i, n in enumerate(_list(body.get("notifications"), "notifications"))]
    return DeliveryResponse(
        status=_int(body.get("status"), "status"),
        request_id=_str(body.get("requestId"), "requestId"),
        client=_str(body.get("client"), "client"),
        tnt_id=_str(visitor_id.get("tntId"), "id.tntId"),
        edge_host=_str(body.get("edgeHost"), "edgeHost"),
        execute_mboxes=_mboxes(execute.get("mboxes"), "execute.mboxes"),
        execute_page_load=_page_load(execute.get("pageLoad"), "execute.pageLoad"),
        prefetch_mboxes=_mboxes(prefetch.get("mboxes"), "prefetch.mboxes"),
        prefetch_page_load=_page_load(prefetch.get("pageLoad"), "prefetch.pageLoad"),
        prefetch_views=tuple(views),
        prefetch_metrics=tuple(
            _metric(m, f"prefetch.metrics[{i}]")
            for i, m in enumerate(_list(prefetch.get("metrics"), "prefetch.metrics"))
        ),
        notification_ids=tuple(str(n.get("id")) for n in notes if n.get("id") is not None),
        raw=body,
    )
