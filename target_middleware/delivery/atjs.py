"""``adobe.target.getOffer`` parity: the at.js options, the legacy action list, the error statuses.

``success`` gets the offer in the form at.js's ``convertToActions`` hands over (NOTES.md §7): html
options joined into one ``setContent``, json options in one ``setJson``, ``redirect`` with a ``url``, each VEC
action under its legacy name, and click metrics as ``trackClick``/``signalClick``. ``error`` gets
``(status, error)`` with status ``timeout``, ``parseerror`` or ``error`` and the
``DeliveryError`` itself (its ``str`` is the message).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..visitor import Visitor
from .context import PageContext
from .errors import DeliveryError, DeliveryFailed, MboxRejected
from .models import Metric, MetricType, Option, OptionType
from .offers import OffersClient
from .params import Mbox, map_params

__all__ = ["run_get_offer", "to_atjs_actions"]

logger = logging.getLogger(__name__)

# VEC action type -> the legacy name at.js's getOffer hands to success()
_CONTENT_ACTIONS = {
    "setHtml": "setContent",
    "setContent": "setContent",
    "setText": "setText",
    "appendHtml": "appendContent",
    "appendContent": "appendContent",
    "prependHtml": "prependContent",
    "prependContent": "prependContent",
    "replaceHtml": "replaceContent",
    "replaceContent": "replaceContent",
    "insertBefore": "insertBefore",
    "insertAfter": "insertAfter",
    "customCode": "customCode",
}


@dataclass(frozen=True, slots=True)
class _Options:
    mbox: str
    params: Mapping[str, Any]
    success: Callable[..., Any]
    error: Callable[..., Any]
    timeout: float | None  # seconds
    visitor: Visitor | None
    page: PageContext | None


def _validate(options: Mapping[str, Any]) -> _Options:
    if not isinstance(options, Mapping):
        raise ValueError("getOffer options must be a mapping")
    mbox = options.get("mbox")
    if not isinstance(mbox, str) or not mbox.strip():
        raise ValueError("getOffer: 'mbox' is required and must be a non-empty string")
    for name in ("success", "error"):
        if not callable(options.get(name)):
            raise ValueError(f"getOffer: '{name}' is required and must be callable")
    params = options.get("params") or {}
    if not isinstance(params, Mapping):
        raise ValueError("getOffer: 'params' must be a mapping")
    map_params(params)  # bad names or values: a ValueError now, not an error callback later
    timeout_ms = options.get("timeout")
    if timeout_ms is not None and (
        isinstance(timeout_ms, bool)
        or not isinstance(timeout_ms, int | float)
        or not math.isfinite(timeout_ms)
        or timeout_ms <= 0
    ):
        raise ValueError("getOffer: 'timeout' must be a positive number of milliseconds")
    visitor, page = options.get("visitor"), options.get("page")
    if visitor is not None and not isinstance(visitor, Visitor):
        raise ValueError("getOffer: 'visitor' must be a Visitor")
    if page is not None and not isinstance(page, PageContext):
        raise ValueError("getOffer: 'page' must be a PageContext")
    return _Options(
        mbox,
        params,
        options["success"],
        options["error"],
        None if timeout_ms is None else timeout_ms / 1000,
        visitor,
        page,
    )


def _action(action_type: str, selector: str | None, css: str | None, content: Any) -> list[dict[str, Any]]:
    where: dict[str, Any] = {"selector": selector, "cssSelector": css}
    if action_type in _CONTENT_ACTIONS:
        return [{"action": _CONTENT_ACTIONS[action_type], **where, "content": content}]
    if action_type == "setAttribute" and isinstance(content, Mapping):
        return [{"action": "setAttribute", **where, "attribute": k, "value": v} for k, v in content.items()]
    if action_type == "setImageSource":
        return [{"action": "setAttribute", **where, "attribute": "src", "value": content}]
    if action_type in ("setStyle", "resize", "move"):
        return [{"action": "setStyle", **where, "style": content}]
    if action_type == "rearrange" and isinstance(content, Mapping):
        return [{"action": "rearrange", **where, "from": content.get("from"), "to": content.get("to")}]
    if action_type == "redirect":
        return [{"action": "redirect", "url": content}]
    if action_type == "remove":
        return [{"action": "remove", **where}]
    return [{"action": action_type, **where, "content": content}]


def to_atjs_actions(options: Sequence[Option], metrics: Sequence[Metric] = ()) -> list[dict[str, Any]]:
    """The list at.js's ``getOffer`` passes to ``success`` for these options and metrics."""
    html = [o.content for o in options if o.type in (OptionType.HTML, OptionType.DYNAMIC)]
    jsons = [o.content for o in options if o.type is OptionType.JSON]
    actions: list[dict[str, Any]] = []
    if html:
        actions.append({"action": "setContent", "content": "".join(html)})
    if jsons:
        actions.append({"action": "setJson", "content": jsons})
    for option in options:
        if option.type is OptionType.REDIRECT:
            actions.append({"action": "redirect", "url": option.content})
        elif option.type is OptionType.ACTIONS:
            for a in option.content:
                actions.extend(_action(a.type, a.selector, a.css_selector, a.content))
    for metric in metrics:
        if metric.type is MetricType.CLICK and metric.selector:
            actions.append({"action": "trackClick", "selector": metric.selector, "clickTrackId": metric.event_token})
        elif metric.type is MetricType.CLICK:
            actions.append({"action": "signalClick", "clickTrackId": metric.event_token})
    return actions


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome


async def run_get_offer(client: OffersClient, options: Mapping[str, Any]) -> None:
    opts = _validate(options)
    try:
        result = await client.get_offers(
            [Mbox(opts.mbox, opts.params)], visitor=opts.visitor, page=opts.page, timeout=opts.timeout
        )
        if opts.mbox == client.global_mbox:
            page_load = result.page_load
            if page_load is None:
                raise MboxRejected("Target answered nothing for the global mbox", mbox=opts.mbox)
            actions = to_atjs_actions(page_load.options, page_load.metrics)
        else:
            answer = result.mbox(opts.mbox)
            if answer is None:
                raise MboxRejected("Target answered nothing for the requested mbox", mbox=opts.mbox)
            actions = to_atjs_actions(answer.options, answer.metrics)
    except Exception as exc:  # never raise for an upstream failure: at.js reports it through error()
        error = exc if isinstance(exc, DeliveryError) else DeliveryFailed(f"unexpected failure: {exc!r}")
        if not isinstance(exc, DeliveryError):
            logger.warning("getOffer failed unexpectedly", exc_info=exc)
        else:
            logger.warning("getOffer failed with status %s: %s", error.status.value, exc.__class__.__name__)
        await _call(opts.error, error.status.value, error)
        return
    await _call(opts.success, actions)
