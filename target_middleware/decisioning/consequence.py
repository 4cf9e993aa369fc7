"""Turning a matched rule's consequence into what the response carries.

The steps Adobe's engines apply, in their order: execute (options lose ``eventToken``, blank options go, only
click metrics stay) or prefetch (each option gets the event token of the display metric at its index; metrics
stay only for views); then response tokens (``activity.decisioningMethod`` plus whitelisted meta and geo
values);
then campaign macros (``${campaign.id}``, ``${offer.name}``, ``${mbox.name}``, ``${mbox.<param>}``, ...).
"""

from __future__ import annotations

import copy
import marshal
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .context import JSON_OBJECT

if TYPE_CHECKING:
    from .artifact import Rule

__all__ = [
    "for_execute",
    "for_prefetch",
    "geo_response_tokens",
    "instantiate",
    "replace_macros",
    "with_response_tokens",
]

_GEO_TOKENS = (
    ("geo.city", "city"),
    ("geo.country", "country"),
    ("geo.state", "region"),
    ("geo.latitude", "latitude"),
    ("geo.longitude", "longitude"),
)
_MACRO = re.compile(r"\$\{([a-zA-Z0-9_.]*?)\}")
_MACRO_RENAMES = re.compile(r"campaign|recipe", re.IGNORECASE)
_RENAMED = {"campaign": "activity", "recipe": "experience"}


def for_execute(response: dict[str, Any]) -> dict[str, Any]:
    """An execute answer: options without their event tokens (the notification carries them), click metrics only.

    ``response`` is this request's own copy (see :func:`instantiate`), so it is changed in place.
    """
    options = [option for option in response.get("options") or [] if option.get("type") and option.get("content")]
    for option in options:
        option.pop("eventToken", None)
    response["options"] = options
    clicks = [m for m in response.get("metrics") or [] if m.get("type") == "click"]
    if clicks:
        response["metrics"] = clicks
    else:
        response.pop("metrics", None)
    return response


def for_prefetch(response: dict[str, Any], *, is_view: bool) -> dict[str, Any]:
    metrics = response.get("metrics") or []
    for index, option in enumerate(response.get("options") or []):
        if not option.get("eventToken") and index < len(metrics) and metrics[index].get("type") == "display":
            option["eventToken"] = metrics[index].get("eventToken")
    if not is_view:
        response.pop("metrics", None)
    return response


def geo_response_tokens(whitelist: frozenset[str], geo: Mapping[str, Any]) -> dict[str, Any]:
    tokens: dict[str, Any] = {"activity.decisioningMethod": "on-device"}
    for token, key in _GEO_TOKENS:
        if token in whitelist and geo.get(key):
            tokens[token] = geo[key]
    return tokens


def with_response_tokens(
    response: dict[str, Any], rule: Rule, whitelist: frozenset[str], request_tokens: Mapping[str, Any]
) -> dict[str, Any]:
    for option in response.get("options") or []:
        option["responseTokens"] = {**rule.response_tokens, **request_tokens}
    return response


def _macro_value(key: str, rule: Rule, details: Mapping[str, Any]) -> str | None:
    key = _MACRO_RENAMES.sub(lambda m: _RENAMED[m.group(0).lower()], key)
    parts = key.split(".")
    if len(parts) > 2:
        parts = parts[-2:]
    name = ".".join(part for part in parts if part != "mbox")
    params = details.get("parameters") or {}
    for source in (rule.meta, details, params):
        if isinstance(source, JSON_OBJECT) and source.get(name) is not None:
            value = source[name]
            if isinstance(value, bool):
                return "true" if value else "false"  # JavaScript's String(), as Target's own engines print
            return str(value)
    return None


def _replace(text: Any, rule: Rule, details: Mapping[str, Any]) -> Any:
    if not isinstance(text, str) or "${" not in text:
        return text

    def sub(match: re.Match[str]) -> str:
        value = _macro_value(match.group(1), rule, details)
        return match.group(0) if value is None else value

    return _MACRO.sub(sub, text)


def replace_macros(response: dict[str, Any], rule: Rule, details: Mapping[str, Any]) -> dict[str, Any]:
    for option in response.get("options") or []:
        if option.get("type") == "html":
            option["content"] = _replace(option.get("content"), rule, details)
        elif option.get("type") == "actions" and isinstance(option.get("content"), list):
            actions = option["content"]  # this request's own copy (instantiate): changed in place
            for index, action in enumerate(actions):
                if isinstance(action, JSON_OBJECT) and "content" in action:
                    content = _replace(action["content"], rule, details)
                    if content is not action["content"]:  # a macro was filled in
                        actions[index] = {**action, "content": content}
    return response


def instantiate(rule: Rule) -> dict[str, Any]:
    """A fresh copy of the rule's consequence: the artifact is shared by every request, the response is not.

    Strings are immutable and shared; only structured content (json offers, action lists) is deep-copied.
    """
    result = dict(rule.consequence)
    if rule.options_template:  # the same tree of fresh objects as the clone below, in C
        result["options"] = marshal.loads(rule.options_template)
    else:
        result["options"] = [_clone(option) for option in rule.consequence.get("options") or ()]
    result["metrics"] = [dict(metric) for metric in rule.consequence.get("metrics") or ()]
    return result


def _clone(value: Any) -> Any:
    """A copy of decoded JSON (dicts, lists, scalars): several times faster than copy.deepcopy."""
    kind = type(value)
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)
