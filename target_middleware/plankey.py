"""The rewrite cache's key for a decision's page plan, read off the decision's models without building the plan.

``page_plan`` turns a decision's options and click metrics into action dicts, and the rewrite cache keyed them by
their marshalled bytes: both on every request, because a decision's option models are new objects each time (the
on-device engine copies what an app could change). On a cache hit the dicts are not needed, only a key that is
equal for two decisions exactly when their plans' actions are the same JSON (types, values, key order): that is
:func:`plan_key`, one flat tuple of the plan's values in the order ``page_plan`` writes them.

Why it is exact: each action starts with a mark of its kind (an ``actions`` option's action, an ``html`` option's,
a click metric's), which fixes its dict's keys and their order, then its values; a JSON value inside is a leaf (a
``str``, an ``int``, None) or a mark (``true``, ``false``) or a container's mark, its length and its items (a
dict's keys and values in order). Read back mark by mark, the tuple gives the plan's actions again, so two plans
differ exactly when their tuples do. Tuples compare with ``==``, under which ``1``, ``1.0`` and ``True`` meet:
only exact ``str`` and ``int`` leaves stay leaves (``True``/``False`` become marks, and a float, a subclass or
anything else makes the key None, for the marshalled key of the general path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any

from .decisions import DEFAULT_HTML_SELECTOR
from .delivery.models import MboxResult, Metric, MetricType, Option, OptionType, PageLoadResult
from .delivery.offers import OffersResult
from .delivery.shared import SharedPageLoad

__all__ = ["PlanKey", "plan_key", "plan_strings", "uses_nonce"]


class _Mark:
    """A place in a key that no JSON value is equal to."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_ACTION, _HTML, _CLICK = _Mark("action"), _Mark("html"), _Mark("click")
_DICT, _LIST, _TRUE, _FALSE = _Mark("dict"), _Mark("list"), _Mark("true"), _Mark("false")
_LEAVES = frozenset({str, int, type(None), _Mark})  # what a key may hold; bool is not an int here


_items = chain.from_iterable  # a dict's items, flat: key, value, key, value, ...


_PLAN_KEY = _Mark("plan key")  # its entries' place in a SharedPageLoad's memo
_UNSEEN: Any = _Mark("unseen")
_MAX_MEMO = 64  # keys kept per shared answer (one per global mbox html selector and page_load_clicks met)


class _NotPlain(Exception):
    """A value with no exact place in a key (a float, a subclass, an object)."""


# (the plan's values, flat; how many actions; the first redirect's URL, when there is one: then no actions)
PlanKey = tuple[tuple[Any, ...], int, str | None]


def plan_key(
    result: OffersResult, html_selectors: Mapping[str, str], global_mbox: str, *, page_load_clicks: bool = True
) -> PlanKey | None:
    """``page_plan``'s actions as a key (see the module's docstring), their number and the redirect, walked in
    ``page_plan``'s order; None when a value has no exact place in a key.

    A decision of the global mbox alone whose page load is a ``SharedPageLoad`` (the middleware's on-device
    decisions) has its key worked out once and kept on that shared answer: the key depends on nothing but the
    answer's options and metrics (never changed), the global mbox's html selector and ``page_load_clicks``."""
    page_load, mboxes = result.page_load, result.mboxes
    if type(page_load) is SharedPageLoad and not mboxes:
        memo = page_load.memo
        at = (_PLAN_KEY, global_mbox, html_selectors.get(global_mbox), page_load_clicks)
        key: PlanKey | None = memo.get(at, _UNSEEN)  # (None is a key worked out: no exact one)
        if key is not _UNSEEN:
            return key
        key = _walk(page_load, (), html_selectors, global_mbox, clicks=page_load_clicks, deep=False)
        if len(memo) < _MAX_MEMO:
            memo[at] = key
        return key
    return _walk(page_load, mboxes, html_selectors, global_mbox, clicks=page_load_clicks, deep=False)


def _walk(
    page_load: PageLoadResult | None,
    mboxes: tuple[MboxResult, ...],
    html_selectors: Mapping[str, str],
    global_mbox: str,
    *,
    clicks: bool,
    deep: bool,
) -> PlanKey | None:
    """``plan_key`` of a decision's page load and mboxes, walked (``clicks``: the page load's click metrics too)."""
    flat: list[Any] = []
    count = 0
    try:
        if page_load is not None:
            added = _options(flat, page_load.options, global_mbox, html_selectors, deep)
            if isinstance(added, str):
                return (), 0, added
            count += added
            if clicks and page_load.metrics:
                count += _clicks(flat, page_load.metrics)
        for mbox in mboxes:
            added = _options(flat, mbox.options, mbox.name, html_selectors, deep)
            if isinstance(added, str):
                return (), 0, added
            count += added
            if mbox.metrics:
                count += _clicks(flat, mbox.metrics)
    except _NotPlain:
        return None
    key = tuple(flat)
    if not _LEAVES.issuperset(map(type, key)):
        # A dict's item put as it is (``_flat_dict``) that is a container or a bool, or an action's type, selector
        # or token that is not a str: walked again, every JSON value through ``_json``.
        return None if deep else _walk(page_load, mboxes, html_selectors, global_mbox, clicks=clicks, deep=True)
    return key, count, None


def plan_strings(key: tuple[Any, ...]) -> Iterable[str]:
    """The strings of a key (its JSON's keys and values)."""
    return (part for part in key if type(part) is str)


def uses_nonce(key: tuple[Any, ...]) -> bool:
    """Whether the plan's actions can carry the page's CSP nonce, as the marshalled key's test finds it: a string of
    theirs holds ``script``, ``style`` or ``click`` (any case). A click metric's action always does: its type is
    ``click`` (a mark in the key, not a string), and the rewrite inserts the click listener's script for it."""
    if _CLICK in key:
        return True
    return any("script" in low or "style" in low or "click" in low for low in map(str.lower, plan_strings(key)))


def _options(
    flat: list[Any], options: tuple[Option, ...], name: str, html_selectors: Mapping[str, str], deep: bool
) -> int | str:
    """One mbox's options onto ``flat``: how many actions they add, or the first redirect's URL.

    Unless ``deep``, a dict's keys and values go in as they are, as ``_json`` puts a dict of leaves (a container or
    a bool among them fails the key's check of its leaves, and ``plan_key`` walks again, deep)."""
    count = 0
    for option in options:
        kind = option.type
        if kind is OptionType.ACTIONS:
            for action in option.content:
                content = action.content
                flat += (_ACTION, action.type, action.selector, action.css_selector)
                if type(content) is str or content is None:
                    flat.append(content)
                elif type(content) is dict and not deep:
                    flat += (_DICT, len(content))
                    flat.extend(_items(content.items()))
                else:
                    _json(flat, content)
            count += len(option.content)
        elif kind is OptionType.HTML:
            content = option.content
            flat += (_HTML, html_selectors.get(name, DEFAULT_HTML_SELECTOR))
            if type(content) is str or content is None:
                flat.append(content)
            else:
                _json(flat, content)
            count += 1
        elif kind is OptionType.REDIRECT and isinstance(option.content, str):
            return option.content
    return count


def _clicks(flat: list[Any], metrics: tuple[Metric, ...]) -> int:
    count = 0
    for metric in metrics:
        if metric.type is MetricType.CLICK and metric.selector and metric.event_token:
            flat += (_CLICK, metric.selector, metric.event_token)
            count += 1
    return count


def _json(flat: list[Any], value: Any) -> None:
    kind = type(value)
    if kind is str or kind is int or value is None:
        flat.append(value)
    elif kind is bool:
        flat.append(_TRUE if value else _FALSE)
    elif kind is dict:
        flat += (_DICT, len(value))
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            flat.append(key)
            _json(flat, item)
    elif kind is list:
        flat += (_LIST, len(value))
        for item in value:
            _json(flat, item)
    else:
        raise _NotPlain
