"""A rule's consequence as an ``execute`` answer carries it, worked out once when the artifact is loaded.

For each matched rule, an execute answer copies the consequence, notes the options' event tokens for the display
notification, drops blank options and the tokens, keeps only click metrics and fills in campaign macros (see
:mod:`.consequence`). Where the options hold no macro, only the copy depends on the request: the rest is done
here once, and a decision loads the finished options (marshalled, a tree of fresh objects each time) and adds its
response tokens. The answer is the same, key order included; rules with macros, or with options that are not
plain JSON objects, take the step-by-step path.
"""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .consequence import for_execute

__all__ = ["ExecuteTemplate", "execute_template"]


@dataclass(frozen=True, slots=True)
class ExecuteTemplate:
    options: bytes  # the options as execute answers them, marshalled (version 2: no shared references)
    clicks: tuple[Mapping[str, Any], ...]  # the click metrics, copied into each answer; none: no "metrics" key
    event_tokens: tuple[Any, ...]  # every option's eventToken (None where it has none), for the notification


def execute_template(consequence: Mapping[str, Any]) -> ExecuteTemplate | None:
    """The execute answer of ``consequence`` but its response tokens, or None where it must be made per request."""
    options = consequence.get("options") or []
    metrics = consequence.get("metrics") or []
    if not isinstance(options, list) or not isinstance(metrics, list):
        return None
    if not all(type(o) is dict for o in options) or not all(type(m) is dict for m in metrics):
        return None
    try:
        raw = marshal.dumps(options, 2)
    except ValueError:  # not plain JSON values
        return None
    if b"${" in raw:  # a macro to fill in per request (or text that looks like one: the careful path either way)
        return None
    response: dict[str, Any] = {"options": marshal.loads(raw), "metrics": [dict(m) for m in metrics]}
    tokens = tuple(option.get("eventToken") for option in response["options"])
    for_execute(response)
    return ExecuteTemplate(marshal.dumps(response["options"], 2), tuple(response.get("metrics") or ()), tokens)
