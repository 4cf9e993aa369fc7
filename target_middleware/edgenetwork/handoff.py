"""Hand-off to the Web SDK (alloy) in the page: ``alloy("applyResponse", …)`` with the server's ``interact`` answer.

Adobe's Web SDK ``applyResponse`` command (Experience League, "applyResponse": ``renderDecisions``,
``responseHeaders``, ``responseBody``) takes the answer of an ``interact`` call the server made and starts alloy
from it as if alloy had made the call: it renders what is left to render, caches the views for ``sendEvent`` with
``xdm.web.webPageDetails.viewName`` (no second call for the page load), and takes over the visitor's identity and
state from the ``state:store`` / ``identity:result`` handles.

What ``responseBody`` keeps of the server's answer:

- every handle other than ``personalization:decisions`` as it came (state, identity, location hint);
- page-wide (``__view__``) propositions without the items the server applied (alloy would apply them again: an
  ``insertBefore`` doubles), without redirect items (the server follows or refuses a redirect, never alloy), and
  without click items when the server marks the clicks itself (``clicks="first-party"``); a proposition left with
  no item goes;
- view propositions as they came (alloy renders them on ``sendEvent`` for their view);
- no regional-mbox proposition: the server rendered them (or the app did, from their json), as the at.js hand-off
  leaves regional mboxes to the page.

Who counts a display. alloy sends a ``decisioning.propositionDisplay`` for every proposition it renders at least
one item of (dom-action other than ``click``, html item with a selector, default content: alloy's own
``processDomAction`` / ``processHtmlContent`` / ``processDefaultContent`` set ``includeInNotification``; a click
item only arms the click tracking), with
``renderDecisions`` (``personalization.sendDisplayEvent`` defaults to true), and for views when ``sendEvent`` renders
them. The server counts every other non-view proposition of its answer: what it rendered in full, regional mboxes,
what nobody renders (json items). So each proposition is counted once, by whoever showed it.

The page's order: the hand-off script comes first in ``<head>``; it sets up ``window.alloy`` as alloy's base code
does (``window.__alloyNS`` and the ``alloy.q`` queue) when the page has not yet, and queues ``applyResponse`` right
after the page's own ``alloy("configure", …)`` (alloy refuses any command before ``configure``). The page keeps its
base code (it leaves an existing ``window.alloy`` alone), its ``configure`` and its alloy library script; it drops
the page-top ``sendEvent`` with ``renderDecisions`` (the hand-off is that event) and calls ``sendEvent`` for its
views as before.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..delivery.offers import OffersResult
from ..pagebytes import script_json
from .answer import DEFAULT_ITEM, DOM_ACTION, HTML_ITEM, PAGE_WIDE_SCOPE, REDIRECT_ITEM, EdgeAnswer, Proposition

__all__ = [
    "EdgeExchange",
    "alloy_script",
    "check_websdk_client",
    "display_rest",
    "response_body",
    "websdk_script",
]

logger = logging.getLogger(__name__)

ALLOY_INSTANCE = "alloy"
_INSTANCE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}")
Origin = tuple[int, int]


@dataclass(frozen=True, slots=True)
class EdgeExchange:
    """One ``interact`` call as it came back, for the Web SDK hand-off (``OffersResult.edge``).

    ``display`` is set when the client left the display event to the page's rendering (``deferred_display``):
    called once with the propositions the server counts.
    """

    answer: EdgeAnswer
    body: Mapping[str, Any]  # the answer's JSON as the edge sent it
    display: Callable[[Sequence[Proposition]], None] | None = None


def _is_click(item: Mapping[str, Any]) -> bool:
    data = item.get("data")
    return item.get("schema") == DOM_ACTION and isinstance(data, Mapping) and data.get("type") == "click"


def _alloy_renders(item: Mapping[str, Any]) -> bool:
    """Whether alloy renders ``item`` with ``renderDecisions`` (and so counts its proposition as displayed)."""
    if item.get("schema") == DEFAULT_ITEM:
        return True  # the control experience: alloy "renders" it and counts its display, as Target does
    data = item.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        return False
    if item.get("schema") == DOM_ACTION:
        return bool(data["type"] != "click")
    return item.get("schema") == HTML_ITEM and isinstance(data.get("selector"), str)


def response_body(
    exchange: EdgeExchange, applied: Collection[Origin], *, server_clicks: bool
) -> tuple[dict[str, Any], set[tuple[int, int]]]:
    """alloy's ``responseBody`` and the (handle, payload) positions of the propositions alloy will count.

    ``applied`` names the page-load actions the server applied, as ``PagePlan.origins`` does.
    """
    done = {exchange.answer.sources[o] for o in applied if o in exchange.answer.sources}
    known = {p.at: p for p in exchange.answer.propositions}
    counted: set[tuple[int, int]] = set()
    handles: list[Any] = []
    for h, handle in enumerate(exchange.body.get("handle") or ()):
        if not isinstance(handle, Mapping) or handle.get("type") != "personalization:decisions":
            handles.append(handle)
            continue
        kept: list[Any] = []
        for p, raw in enumerate(handle.get("payload") or ()):
            proposition = known.get((h, p))
            if proposition is None:
                continue  # malformed: skipped by the server, not alloy's either
            if proposition.view:
                kept.append(raw)
                continue
            if proposition.scope != PAGE_WIDE_SCOPE:
                continue
            items = [
                item
                for i, item in enumerate(raw["items"])
                if (h, p, i) not in done
                and isinstance(item, Mapping)
                and item.get("schema") != REDIRECT_ITEM
                and not (server_clicks and _is_click(item))
            ]
            if items:
                kept.append({**raw, "items": items})
                if any(_alloy_renders(item) for item in items):
                    counted.add((h, p))
        handles.append({**handle, "payload": kept})
    return {**exchange.body, "handle": handles}, counted


def alloy_script(options: Mapping[str, Any], *, nonce: str | None = None, instance: str = ALLOY_INSTANCE) -> str:
    """The ``<script>`` that queues ``alloy("applyResponse", options)`` right after the page's ``configure``.

    It installs alloy's base-code contract when the page has not yet (``window.__alloyNS`` names the instance,
    ``window.<instance>.q`` queues ``[resolve, reject, args]`` until the library loads and replaces ``q.push``),
    then wraps the instance function: the first ``configure`` through it is followed by ``applyResponse``.
    """
    if not _INSTANCE.fullmatch(instance):
        raise ValueError("the alloy instance name must be a JavaScript identifier")
    attribute = f' nonce="{nonce}"' if nonce else ""
    return (
        f"<script{attribute}>(function(w,n,o){{var f=w[n];if(!f){{(w.__alloyNS=w.__alloyNS||[]).push(n);"
        "f=function(){var a=arguments;return new Promise(function(s,j){f.q.push([s,j,a])})};f.q=[]}"
        'var d=0,g=function(){var p=f.apply(this,arguments);if(arguments[0]==="configure"&&!d){d=1;'
        'f("applyResponse",o)}return p};g.q=f.q;w[n]=g})'
        f"(window,{json.dumps(instance)},{script_json(options)});</script>"
    )


def _send_display(exchange: EdgeExchange, propositions: Sequence[Proposition]) -> None:
    if exchange.display is not None and propositions:
        exchange.display(propositions)


def display_rest(result: OffersResult) -> None:
    """The server's display event for every non-view proposition, when the client deferred it and alloy takes
    none (a redirect, or a hand-off that did not go out)."""
    exchange = result.edge
    if exchange is not None:
        _send_display(exchange, [p for p in exchange.answer.propositions if p.displayable])


def check_websdk_client(client: object, handoff: str | None, rules: Iterable[Any]) -> None:
    """``ValueError`` when the Web SDK hand-off is asked of a client that does not answer from the Edge Network."""
    from .client import EdgeNetworkClient

    wanted = handoff == "websdk" or any(getattr(rule, "handoff", None) == "websdk" for rule in rules)
    if wanted and not isinstance(client, EdgeNetworkClient):
        raise ValueError("handoff 'websdk' needs an EdgeNetworkClient: alloy continues from an Edge Network answer")


def websdk_script(
    result: OffersResult,
    *,
    applied: Collection[Origin],
    server_clicks: bool,
    nonce: str | None,
    max_size: int,
    path: str,
) -> str | None:
    """The hand-off script for a page decided by an ``EdgeNetworkClient``, and the server's display event for
    what alloy will not count. None (and every display the server's) when there is no Edge answer or the script
    would be over ``max_size``."""
    exchange = result.edge
    if exchange is None:
        logger.warning("Web SDK hand-off for %s skipped: the page was not decided by an EdgeNetworkClient", path)
        return None
    body, counted = response_body(exchange, applied, server_clicks=server_clicks)
    script = alloy_script({"renderDecisions": True, "responseHeaders": {}, "responseBody": body}, nonce=nonce)
    if len(script) > max_size:
        logger.warning(
            "Web SDK hand-off for %s skipped: applyResponse is %d bytes, over handoff_max_size (%d)",
            path,
            len(script),
            max_size,
        )
        display_rest(result)
        return None
    _send_display(exchange, [p for p in exchange.answer.propositions if p.displayable and p.at not in counted])
    return script
