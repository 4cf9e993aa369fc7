"""An Edge Network ``interact`` answer read into what the middleware already knows: a Delivery-shaped answer.

The answer is a list of ``handle`` entries by ``type`` (Adobe's Edge Network Server API reference, "Interactive
data collection"; the Web SDK's own response fixtures have the same shape):

- ``personalization:decisions``: propositions ``{id, scope, scopeDetails, items[]}``; each item has a ``schema``
  and ``data``. ``__view__`` is the page load (Target's global mbox), a scope whose ``characteristics.scopeType`` is
  ``view`` is an SPA view, any other scope is an mbox.
- ``state:store``: ``{key, value, maxAge}`` cookies for the browser (the ``kndctr_<org>_AdobeOrg_*`` state).
- ``locationHint:result``: ``{scope, hint, ttlSeconds}``; the ``EdgeNetwork`` hint is the region of the next call.
- ``identity:result``: the visitor's ECID.

Items map onto Delivery API options: ``dom-action`` → one action of an ``actions`` option (``data.type`` is at.js's
action name; ``click`` becomes a click metric), ``html-content-item`` → an ``html`` option, ``json-content-item`` →
``json``, ``redirect-item`` → ``redirect``, ``default-content-item`` → nothing. A malformed handle, proposition or
item is skipped with its reason; the rest is kept.

A click metric's event token is its proposition's ``characteristics.eventToken``; ``EdgeAnswer.clicks`` maps it back
to that proposition, which a click's ``decisioning.propositionInteract`` event names.

Each proposition keeps where it sits in the answer (``Proposition.at``: handle and payload index) and each
page-load action where it came from (``EdgeAnswer.sources``: the page-load option and action index the middleware's
``PagePlan.origins`` use → handle, payload and item index), so the Web SDK hand-off can take out of the answer
exactly the items the server applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EdgeAnswer", "Proposition", "read_answer"]

SCHEMA = "https://ns.adobe.com/personalization/"
DOM_ACTION = SCHEMA + "dom-action"
HTML_ITEM = SCHEMA + "html-content-item"
JSON_ITEM = SCHEMA + "json-content-item"
REDIRECT_ITEM = SCHEMA + "redirect-item"
DEFAULT_ITEM = SCHEMA + "default-content-item"
SCHEMAS = (DOM_ACTION, HTML_ITEM, JSON_ITEM, REDIRECT_ITEM, DEFAULT_ITEM)
PAGE_WIDE_SCOPE = "__view__"

# Cookie names and values the browser gets back: the edge's own state cookies, nothing that could break a header.
_STATE_KEY = re.compile(r"kndctr_[0-9A-Za-z]+_AdobeOrg_[0-9A-Za-z_]{1,64}")
_STATE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,4096}")
_REGION = re.compile(r"[0-9A-Za-z]{1,16}")
MAX_STATE_AGE = 34_128_000  # 395 days: longer asks are clamped


@dataclass(frozen=True, slots=True)
class Proposition:
    """One proposition as the edge sent it: what a display event names when it was rendered."""

    id: str
    scope: str
    scope_details: Mapping[str, Any]
    view: bool = False
    at: tuple[int, int] = (-1, -1)  # (handle index, payload index) in the answer
    click_only: bool = False  # only click metrics: nothing shown, so no display to count (its clicks count)

    @property
    def displayable(self) -> bool:
        """A non-view proposition with something to show: what a server-side display event names."""
        return not self.view and not self.click_only


@dataclass(frozen=True, slots=True)
class EdgeAnswer:
    """What one ``interact`` answer says, in the shapes the rest of the package uses."""

    delivery: dict[str, Any]  # a Delivery API answer (execute.pageLoad, execute.mboxes, prefetch.views)
    propositions: tuple[Proposition, ...] = ()
    state: tuple[tuple[str, str, int], ...] = ()  # cookies to write: (key, value, max-age)
    region: str | None = None  # the EdgeNetwork location hint
    ecid: str | None = None
    skipped: tuple[str, ...] = field(default_factory=tuple)  # what was dropped, and why
    # page-load (option index, action index or -1 for a one-piece option) -> (handle, payload, item) index
    sources: Mapping[tuple[int, int], tuple[int, int, int]] = field(default_factory=dict)
    clicks: Mapping[str, Proposition] = field(default_factory=dict)  # a click metric's event token -> its proposition


def _tokens(meta: object) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if isinstance(k, str)} if isinstance(meta, Mapping) else {}


class _Reader:
    def __init__(self) -> None:
        self.page_load: dict[str, Any] = {"options": [], "metrics": []}
        self.mboxes: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.propositions: list[Proposition] = []
        self.skipped: list[str] = []
        self.sources: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.clicks: dict[str, Proposition] = {}

    def section(self, scope: str, view: bool) -> dict[str, Any]:
        if scope == PAGE_WIDE_SCOPE:
            return self.page_load
        table = self.views if view else self.mboxes
        return table.setdefault(scope, {"name": scope, "options": [], "metrics": []})

    def proposition(self, where: str, raw: object, at: tuple[int, int] = (-1, -1)) -> None:
        if not isinstance(raw, Mapping):
            self.skipped.append(f"{where}: not an object")
            return
        scope, pid, details = raw.get("scope"), raw.get("id"), raw.get("scopeDetails") or {}
        if not isinstance(scope, str) or not scope or not isinstance(pid, str) or not isinstance(details, Mapping):
            self.skipped.append(f"{where}: no scope, id or scopeDetails")
            return
        items = raw.get("items")
        if not isinstance(items, list):
            self.skipped.append(f"{where}: items is not a list")
            return
        characteristics = details.get("characteristics") or {}
        view = isinstance(characteristics, Mapping) and characteristics.get("scopeType") == "view"
        token = characteristics.get("eventToken") if isinstance(characteristics, Mapping) else None
        section = self.section(scope, view)
        page_load = section is self.page_load
        actions: list[dict[str, Any]] = []
        action_items: list[int] = []
        tokens: dict[str, Any] = {}
        clicked = False
        options_before = len(section["options"])
        for i, item in enumerate(items):
            read = self.item(f"{where}.items[{i}]", item)
            if read is None:
                continue
            kind, value, meta = read
            tokens.update(meta)
            if kind == "action":
                actions.append(value)
                action_items.append(i)
            elif kind == "click":
                clicked = True
                section["metrics"].append({"type": "click", **value, **({"eventToken": token} if token else {})})
            else:
                if page_load:
                    self.sources[(len(section["options"]), -1)] = (*at, i)
                section["options"].append({"type": kind, "content": value, "responseTokens": meta})
        if actions:
            option: dict[str, Any] = {"type": "actions", "content": actions, "responseTokens": tokens}
            if token and view:
                option["eventToken"] = token
            if page_load:
                for j, i in enumerate(action_items):
                    self.sources[(len(section["options"]), j)] = (*at, i)
            section["options"].append(option)
        click_only = clicked and not actions and len(section["options"]) == options_before
        proposition = Proposition(pid, scope, dict(details), view, at, click_only)
        self.propositions.append(proposition)
        if clicked and isinstance(token, str) and token:
            self.clicks.setdefault(token, proposition)

    def item(self, where: str, raw: object) -> tuple[str, Any, dict[str, Any]] | None:
        if isinstance(raw, Mapping) and raw.get("schema") == DEFAULT_ITEM:
            return None  # the default content: nothing to change
        if not isinstance(raw, Mapping) or not isinstance(raw.get("data"), Mapping):
            self.skipped.append(f"{where}: no data")
            return None
        schema, data, meta = raw.get("schema"), raw["data"], _tokens(raw.get("meta"))
        if schema == DOM_ACTION:
            kind, selector = data.get("type"), data.get("selector")
            if not isinstance(kind, str) or not kind or (selector is not None and not isinstance(selector, str)):
                self.skipped.append(f"{where}: a dom-action needs a type and a string selector")
                return None
            if kind == "click":
                return ("click", {"selector": selector}, meta) if selector else None
            action = {"type": kind, "selector": selector, "content": data.get("content")}
            if isinstance(data.get("prehidingSelector"), str):
                action["cssSelector"] = data["prehidingSelector"]
            return "action", action, meta
        content = data.get("content")
        if schema == HTML_ITEM and isinstance(content, str):
            return "html", content, meta
        if schema == JSON_ITEM and content is not None:
            return "json", content, meta
        if schema == REDIRECT_ITEM and isinstance(content, str):
            return "redirect", content, meta
        self.skipped.append(f"{where}: unsupported schema or content")
        return None


def _state(payload: list[Any], skipped: list[str]) -> list[tuple[str, str, int]]:
    found = []
    for i, entry in enumerate(payload):
        key = entry.get("key") if isinstance(entry, Mapping) else None
        value = entry.get("value") if isinstance(entry, Mapping) else None
        age = entry.get("maxAge") if isinstance(entry, Mapping) else None
        if (
            isinstance(key, str)
            and _STATE_KEY.fullmatch(key)
            and isinstance(value, str)
            and _STATE_VALUE.fullmatch(value)
            and type(age) is int
            and age >= 0
        ):
            found.append((key, value, min(age, MAX_STATE_AGE)))
        else:
            skipped.append(f"state:store[{i}]: not a kndctr cookie with a value and a maxAge")
    return found


def read_answer(body: object) -> EdgeAnswer:
    """Read an ``interact`` answer; ``ValueError`` when it is not an object with a ``handle`` list."""
    if not isinstance(body, Mapping) or not isinstance(body.get("handle"), list):
        raise ValueError("an Edge Network answer is an object with a 'handle' list")
    reader = _Reader()
    state: list[tuple[str, str, int]] = []
    region = ecid = None
    for h, handle in enumerate(body["handle"]):
        kind = handle.get("type") if isinstance(handle, Mapping) else None
        payload = handle.get("payload") if isinstance(handle, Mapping) else None
        if not isinstance(payload, list):
            reader.skipped.append(f"handle[{h}]: no payload list")
            continue
        if kind == "personalization:decisions":
            for p, proposition in enumerate(payload):
                reader.proposition(f"handle[{h}].payload[{p}]", proposition, (h, p))
        elif kind == "state:store":
            state.extend(_state(payload, reader.skipped))
        elif kind == "locationHint:result":
            for hint in payload:
                if isinstance(hint, Mapping) and hint.get("scope") == "EdgeNetwork":
                    value = hint.get("hint")
                    region = value if isinstance(value, str) and _REGION.fullmatch(value) else region
        elif kind == "identity:result":
            for identity in payload:
                if isinstance(identity, Mapping) and (identity.get("namespace") or {}).get("code") == "ECID":
                    value = identity.get("id")
                    ecid = value if isinstance(value, str) and value.isdigit() and len(value) <= 64 else ecid
    execute: dict[str, Any] = {}
    if reader.page_load["options"] or reader.page_load["metrics"]:
        execute["pageLoad"] = reader.page_load
    if reader.mboxes:
        execute["mboxes"] = [{"index": i, **m} for i, m in enumerate(reader.mboxes.values())]
    delivery: dict[str, Any] = {"status": 200, "execute": execute}
    if reader.views:
        delivery["prefetch"] = {"views": list(reader.views.values())}
    return EdgeAnswer(
        delivery,
        tuple(reader.propositions),
        tuple(state),
        region,
        ecid,
        skipped=tuple(reader.skipped),
        sources=reader.sources,
        clicks=reader.clicks,
    )
