"""Typed values of a Delivery API response, parsed strictly at the edge of the system.

``parse_response`` turns the JSON of a 200 answer (the edge's or the on-device decider's) into a
``DeliveryResponse``, or raises ``ResponseParseError`` saying where it does not fit the schema. Unknown fields
are ignored, as the spec allows them to be added; the raw JSON is kept on the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ..frozen import builder
from .deferred import deferrable
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

_T = TypeVar("_T")


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


# An on-device answer's JSON, which few read, is made when first read (see ``deferred``).
deferrable(DeliveryResponse, "raw")


class _Misfit(Exception):
    """Raised deep in the parse; the path is filled in on the way out (no path strings on the happy path)."""

    def __init__(self, what: str, *path: str) -> None:
        super().__init__(what)
        self.what = what
        self.path = list(path)


_OPTION_TYPES = {member.value: member for member in OptionType}
_METRIC_TYPES = {member.value: member for member in MetricType}
_ACTIONS, _JSON = OptionType.ACTIONS, OptionType.JSON


# Built many to an answer: without the frozen stores (see ``frozen``); every field is checked before.
_new_action, _new_option, _new_metric = builder(Action), builder(Option), builder(Metric)
_new_mbox, _new_page_load, _new_view = builder(MboxResult), builder(PageLoadResult), builder(ViewResult)
_new_response = builder(DeliveryResponse)


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
        return tuple(map(parse, items))
    except _Misfit:
        pass
    for i, item in enumerate(items):  # the slow path, only to say where it failed
        try:
            parse(item)
        except _Misfit as misfit:
            misfit.path.append(f"{key}[{i}]")
            raise
    raise AssertionError("unreachable")  # pragma: no cover


# The parsers of the values that come many to an answer (actions, options, metrics, mboxes) check inline, in the
# order of the fields: the first misfit found is the one reported.


def _action(data: object) -> Action:
    obj = data if type(data) is dict else _obj(data)
    kind = obj.get("type")
    if type(kind) is not str:
        raise _Misfit("expected a string" if kind is not None else "missing", "type")
    if not kind:
        raise _Misfit("missing", "type")
    content = obj.get("content")
    if content is not None and type(content) is not str and not isinstance(content, str | Mapping):
        raise _Misfit("expected a string or an object", "content")
    selector, css = obj.get("selector"), obj.get("cssSelector")
    if selector is not None and type(selector) is not str:
        raise _Misfit("expected a string", "selector")
    if css is not None and type(css) is not str:
        raise _Misfit("expected a string", "cssSelector")
    return _new_action(kind, selector, css, content)


def _option(data: object) -> Option:
    obj = data if type(data) is dict else _obj(data)
    try:
        kind = _OPTION_TYPES.get(obj.get("type"))  # type: ignore[arg-type]
    except TypeError:  # not hashable: not a type name either
        kind = None
    if kind is None:
        raise _Misfit("unknown option type", "type")
    content = obj.get("content")
    if kind is _ACTIONS:
        content = _each(_list(content, "content"), "content", _action)
    elif kind is not _JSON and type(content) is not str:
        raise _Misfit(f"expected a string for a {kind} option", "content")
    tokens = obj.get("responseTokens")
    if tokens is None:
        tokens = {}
    elif type(tokens) is not dict:
        raise _Misfit("expected an object", "responseTokens")
    token = obj.get("eventToken")
    if token is not None and type(token) is not str:
        raise _Misfit("expected a string", "eventToken")
    return _new_option(kind, content, token, tokens)


def _metric(data: object) -> Metric:
    obj = data if type(data) is dict else _obj(data)
    try:
        kind = _METRIC_TYPES.get(obj.get("type"))  # type: ignore[arg-type]
    except TypeError:
        kind = None
    if kind is None:
        raise _Misfit("unknown metric type", "type")
    selector, token = obj.get("selector"), obj.get("eventToken")
    if selector is not None and type(selector) is not str:
        raise _Misfit("expected a string", "selector")
    if token is not None and type(token) is not str:
        raise _Misfit("expected a string", "eventToken")
    return _new_metric(kind, selector, token)


def _parts(obj: Mapping[str, Any]) -> tuple[tuple[Option, ...], tuple[Metric, ...], str | None]:
    options, metrics = obj.get("options"), obj.get("metrics")
    options = _each(options, "options", _option) if type(options) is list else _list(options, "options")
    metrics = _each(metrics, "metrics", _metric) if type(metrics) is list else _list(metrics, "metrics")
    return options, metrics, _str(obj, "state")  # type: ignore[return-value]


def _mbox(data: object) -> MboxResult:
    obj = data if type(data) is dict else _obj(data)
    name, index = obj.get("name"), obj.get("index")
    if name is not None and type(name) is not str:
        raise _Misfit("expected a string", "name")
    if index is not None and type(index) is not int:
        raise _Misfit("expected an integer", "index")
    return _new_mbox(name or "", index, *_parts(obj))


def _view(data: object) -> ViewResult:
    obj = _obj(data)
    return _new_view(_str(obj, "name"), _str(obj, "key"), *_parts(obj))


def _page_load(section: Mapping[str, Any]) -> PageLoadResult | None:
    value = section.get("pageLoad")
    if value is None:
        return None
    try:
        return _new_page_load(*_parts(_obj(value)))
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
        execute_page_load = _page_load(execute) if "pageLoad" in execute else None
        where = "prefetch"
        prefetch = _object_or_empty(body.get("prefetch"))
        prefetch_mboxes = _each(_list(prefetch.get("mboxes"), "mboxes"), "mboxes", _mbox)
        prefetch_page_load = _page_load(prefetch)
        views = _each(_list(prefetch.get("views"), "views"), "views", _view)
        metrics = _each(_list(prefetch.get("metrics"), "metrics"), "metrics", _metric)
        where = "id"
        tnt_id = _str(_object_or_empty(body.get("id")), "tntId")
        where = ""
        notes = body.get("notifications")
        notes = _each(_list(notes, "notifications"), "notifications", _obj) if notes is not None else ()
        status, request_id = _int(body, "status"), _str(body, "requestId")
        client, edge_host = _str(body, "client"), _str(body, "edgeHost")
    except _Misfit as misfit:
        if where:
            misfit.path.append(where)
        raise
    return _new_response(
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
        notification_ids=tuple(str(n["id"]) for n in notes if n.get("id") is not None) if notes else (),
        raw=body,
    )


def parse_response(data: object) -> DeliveryResponse:
    """A Delivery API 200 body (decoded JSON) as a typed value; ``ResponseParseError`` if it does not fit."""
    try:
        return _parse(_obj(data))
    except _Misfit as misfit:
        where = ".".join(reversed(misfit.path)).replace(".[", "[") or "$"
        raise ResponseParseError(f"response does not fit the schema at {where}: {misfit.what}") from None
