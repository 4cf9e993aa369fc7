"""Every Target action, written once against the engines' node interface.

An action arrives in the Delivery API form (``{type, selector, cssSelector, content}``) or the legacy at.js form
(``{action: "setContent", ...}``); :func:`normalize` turns both into one :class:`NormalizedAction` and rejects what
at.js would drop (unknown type, missing selector, content of the wrong kind) with a :class:`SkipReason`.
:func:`perform` then changes every element the selector hit, the way at.js 2.9 changed the browser's DOM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ..jsstring import js_string
from .document import Document, Where
from .styles import edit_style

__all__ = ["ActionType", "NormalizedAction", "Skip", "SkipReason", "normalize", "perform"]

N = TypeVar("N")


class ActionType(StrEnum):
    SET_HTML = "setHtml"
    SET_TEXT = "setText"
    APPEND_HTML = "appendHtml"
    PREPEND_HTML = "prependHtml"
    REPLACE_HTML = "replaceHtml"
    INSERT_BEFORE = "insertBefore"
    INSERT_AFTER = "insertAfter"
    CUSTOM_CODE = "customCode"
    SET_ATTRIBUTE = "setAttribute"
    SET_IMAGE_SOURCE = "setImageSource"
    SET_STYLE = "setStyle"
    RESIZE = "resize"
    MOVE = "move"
    REARRANGE = "rearrange"
    REMOVE = "remove"
    REDIRECT = "redirect"
    CLICK = "click"


class SkipReason(StrEnum):
    NO_MATCH = "no-match"
    INVALID_SELECTOR = "invalid-selector"
    UNSUPPORTED = "unsupported"
    BAD_CONTENT = "bad-content"
    ALREADY_APPLIED = "already-applied"  # a view item whose marker the element already carries
    REDIRECTED = "redirected"  # a redirect in the same offer: nothing else renders
    ERROR = "error"  # the engine failed on this action; the others still apply


class Skip(Exception):
    def __init__(self, reason: SkipReason, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


HTML_ACTION_TYPES = frozenset(
    {
        ActionType.SET_HTML,
        ActionType.APPEND_HTML,
        ActionType.PREPEND_HTML,
        ActionType.REPLACE_HTML,
        ActionType.INSERT_BEFORE,
        ActionType.INSERT_AFTER,
        ActionType.CUSTOM_CODE,
    }
)
STRING_TYPES = HTML_ACTION_TYPES | {ActionType.SET_TEXT, ActionType.SET_IMAGE_SOURCE, ActionType.REDIRECT}
MAPPING_TYPES = frozenset(
    {ActionType.SET_ATTRIBUTE, ActionType.SET_STYLE, ActionType.RESIZE, ActionType.MOVE, ActionType.REARRANGE}
)
# Not idempotent: a view item (Web SDK single-page apps) marks its container so it is not applied twice.
MARKED_TYPES = frozenset(
    {
        ActionType.APPEND_HTML,
        ActionType.PREPEND_HTML,
        ActionType.INSERT_BEFORE,
        ActionType.INSERT_AFTER,
        ActionType.REARRANGE,
    }
)
LEGACY_NAMES = {
    "setContent": ActionType.SET_HTML,
    "appendContent": ActionType.APPEND_HTML,
    "prependContent": ActionType.PREPEND_HTML,
    "replaceContent": ActionType.REPLACE_HTML,
    "trackClick": ActionType.CLICK,
    "signalClick": ActionType.CLICK,
}
_TYPES = {**{kind.value: kind for kind in ActionType}, **LEGACY_NAMES}
HEAD_KEEPS = frozenset({"script", "link", "style"})
PROPOSITION_MARKER = "data-adobe-proposition-ids"
CLICK_ATTRIBUTE = "data-target-click"

_ATTRIBUTE_NAME = re.compile(r"^[^\s\"'>/=\x00-\x1f\x7f]+$")
_VOID = "area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr"
# Zepto expands self-closing non-void tags before parsing: <div/> → <div></div>.
_SELF_CLOSING = re.compile(rf"<(?!(?:{_VOID})[\s/>])([A-Za-z][\w:-]*)((?:\s[^<>]*?)?)/>")
_RUNNING_SCRIPT_TYPES = frozenset({"", "text/javascript", "application/javascript", "module"})
# A fragment holds a <script> or <style> only if its markup names one (tag names never come from references).
_SCRIPT_OR_STYLE = re.compile(r"<(?:script|style)", re.IGNORECASE)
# Content the HTML parser would turn into exactly one text node of the same characters: no tag, no reference,
# no CR (newlines are normalized) and no NUL (dropped or replaced).
_NOT_PLAIN = re.compile(r"[<&\r\x00]")
# Elements whose innerHTML does not take text as a plain child (a document, a template's content, table and
# select insertion modes, ignored characters): their content always goes through the parser.
_PARSED_CONTEXTS = frozenset(
    {"html", "head", "template", "frameset", "colgroup", "table", "tbody", "thead", "tfoot", "tr", "select"}
)


@dataclass(frozen=True, slots=True)
class NormalizedAction:
    type: ActionType
    selector: str | None
    content: Any
    token: str | None = None
    view_item: str | None = None


def _content_of_legacy(raw: Mapping[str, Any], kind: ActionType, name: str) -> tuple[ActionType, Any]:
    if name == "setAttribute":
        attribute, value = raw.get("attribute"), raw.get("value")
        if isinstance(attribute, str):
            if attribute.lower() == "src":
                return ActionType.SET_IMAGE_SOURCE, value
            return kind, {attribute: value}
        return kind, raw.get("content")
    if name == "setStyle":
        style = raw.get("style", raw.get("content"))
        if isinstance(style, Mapping):
            if "left" in style and "top" in style:
                return ActionType.MOVE, style
            if "width" in style and "height" in style:
                return ActionType.RESIZE, style
        return kind, style
    if name == "rearrange":
        content = raw.get("content", raw.get("rearrange"))
        if content is None and "from" in raw:
            content = {"from": raw.get("from"), "to": raw.get("to")}
        return kind, content
    if name == "redirect":
        return kind, raw.get("url", raw.get("content"))
    return kind, raw.get("content")


def normalize(raw: object) -> NormalizedAction:
    """One action in either form → a :class:`NormalizedAction`, or :class:`Skip` with the reason at.js would drop it."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise Skip(SkipReason.BAD_CONTENT, "an action is a mapping")
    legacy = "type" not in raw and "action" in raw
    name = raw.get("action") if legacy else raw.get("type")
    if not isinstance(name, str):
        raise Skip(SkipReason.UNSUPPORTED, "no action type")
    if name in {"setJson", "json"}:
        raise Skip(SkipReason.UNSUPPORTED, "json content is data for the app, not rendered")
    kind = _TYPES.get(name)
    if kind is None:
        raise Skip(SkipReason.UNSUPPORTED, f"unknown action type {name!r}")
    if legacy:
        kind, content = _content_of_legacy(raw, kind, name)
    else:
        content = raw.get("content")
    selector = raw.get("selector")
    if selector is None:
        selector = raw.get("cssSelector")
    if kind is ActionType.REDIRECT:
        if not isinstance(content, str) or not content.strip():
            raise Skip(SkipReason.BAD_CONTENT, "a redirect needs a URL")
        return NormalizedAction(kind, None, content.strip())
    if not isinstance(selector, str) or not selector or selector.isspace():
        raise Skip(SkipReason.INVALID_SELECTOR, "no selector")
    token = None
    if kind is ActionType.CLICK:
        token = raw.get("eventToken", raw.get("clickTrackId"))
        if not isinstance(token, str) or not token.strip():
            raise Skip(SkipReason.BAD_CONTENT, "a click metric needs an eventToken to report")
        token = token.strip()
    elif kind in STRING_TYPES and not isinstance(content, str):
        raise Skip(SkipReason.BAD_CONTENT, f"{kind.value} takes a string")
    elif kind in MAPPING_TYPES:
        content = _checked_mapping(kind, content)
    view_item = None
    if raw.get("_scopeType") == "view" and isinstance(raw.get("_itemId"), str):
        view_item = raw["_itemId"]
    return NormalizedAction(kind, selector, content, token, view_item)


def _checked_mapping(kind: ActionType, content: object) -> Any:
    if not isinstance(content, Mapping):
        raise Skip(SkipReason.BAD_CONTENT, f"{kind.value} takes a mapping")
    if kind is ActionType.REARRANGE:
        try:
            return int(content["from"]), int(content["to"])
        except (KeyError, TypeError, ValueError):
            raise Skip(SkipReason.BAD_CONTENT, "rearrange takes integer 'from' and 'to'") from None
    if kind is ActionType.SET_ATTRIBUTE:
        for key in content:
            if not isinstance(key, str) or not _ATTRIBUTE_NAME.match(key):
                raise Skip(SkipReason.BAD_CONTENT, f"invalid attribute name {key!r}")
    return dict(content)


def expand_self_closing(html: str) -> str:
    return _SELF_CLOSING.sub(r"<\1\2></\1>", html) if "/>" in html else html


@dataclass(slots=True)
class ApplyOptions:
    nonce: str | None = None
    click_id: str | None = None
    clicks: int = 0


def _prepare(doc: Document[N], action: NormalizedAction, context: N, options: ApplyOptions, *, head: bool) -> N:
    container = doc.fragment(expand_self_closing(action.content), context)
    if head:
        for node in doc.child_nodes(container):
            if not doc.is_element(node) or doc.tag(node) not in HEAD_KEEPS:
                doc.remove(node)
    for node in doc.query("script, style", container) if _SCRIPT_OR_STYLE.search(action.content) else ():
        if options.nonce is not None:
            doc.set_attr(node, "nonce", options.nonce)
        if doc.tag(node) == "script" and doc.get_attr(node, "src") is not None:
            script_type = (doc.get_attr(node, "type") or "").strip().lower()
            runs = script_type in _RUNNING_SCRIPT_TYPES and script_type != "module"
            if runs and doc.get_attr(node, "async") is None and doc.get_attr(node, "defer") is None:
                # at.js loaded remote offer scripts after rendering; defer runs them after parsing, the same.
                doc.set_attr(node, "defer", "")
    if options.click_id:
        first = doc.children(container)
        if first:
            doc.set_attr(first[0], "id", options.click_id)
    return container


def is_plain_text(content: str) -> bool:
    """True when ``content`` parses to one text node holding exactly ``content`` (or to nothing when empty).

    Whitespace alone is left to the parser: html.parser (the soup engine) collapses it.
    """
    return _NOT_PLAIN.search(content) is None and (not content or not content.isspace())


def _insert_html(doc: Document[N], action: NormalizedAction, target: N, options: ApplyOptions) -> None:
    kind = action.type
    tag = doc.tag(target)
    if tag == "head":
        # at.js: an action aimed at <head> appends only the offer's <script>, <link> and <style> nodes.
        doc.insert(_prepare(doc, action, target, options, head=True), Where.APPEND, target)
        return
    if kind is ActionType.CUSTOM_CODE:
        # at.js inserts custom code before its target; before <body> means the start of <body> in HTML text.
        where = Where.PREPEND if tag == "body" else Where.BEFORE
    else:
        where = {
            ActionType.SET_HTML: Where.APPEND,
            ActionType.APPEND_HTML: Where.APPEND,
            ActionType.PREPEND_HTML: Where.PREPEND,
            ActionType.REPLACE_HTML: Where.BEFORE,
            ActionType.INSERT_BEFORE: Where.BEFORE,
            ActionType.INSERT_AFTER: Where.AFTER,
        }[kind]
    if kind is ActionType.SET_HTML and tag not in _PARSED_CONTEXTS and is_plain_text(action.content):
        doc.set_text(target, action.content)  # what parsing it would build, without a fragment parse
        return
    context = target
    if where in {Where.BEFORE, Where.AFTER}:
        context = doc.parent(target) or target
    container = _prepare(doc, action, context, options, head=False)
    if kind is ActionType.SET_HTML:
        doc.clear(target)
    doc.insert(container, where, target)
    if kind is ActionType.REPLACE_HTML:
        doc.remove(target)


def _rearrange(doc: Document[N], target: N, content: tuple[int, int]) -> bool:
    source, destination = content
    children = doc.children(target)
    if not (0 <= source < len(children) and 0 <= destination < len(children)) or source == destination:
        return False
    where = Where.AFTER if source < destination else Where.BEFORE
    doc.move(children[source], where, children[destination])
    return True


def perform(doc: Document[N], action: NormalizedAction, target: N, options: ApplyOptions) -> bool:
    """Apply ``action`` to one element; False when it changed nothing there."""
    kind = action.type
    if action.view_item is not None and kind in MARKED_TYPES:
        marks = doc.get_attr(target, PROPOSITION_MARKER) or ""
        if action.view_item in marks.split(","):
            raise Skip(SkipReason.ALREADY_APPLIED, f"item {action.view_item} already rendered here")
        doc.set_attr(target, PROPOSITION_MARKER, f"{marks},{action.view_item}")
    if kind in HTML_ACTION_TYPES:
        _insert_html(doc, action, target, options)
    elif kind is ActionType.SET_TEXT:
        doc.set_text(target, action.content)
    elif kind is ActionType.SET_ATTRIBUTE:
        for name, value in action.content.items():
            if value is None:
                doc.del_attr(target, name)
            else:
                doc.set_attr(target, name, js_string(value))  # true, not True; 1e+21, as a browser writes them
    elif kind is ActionType.SET_IMAGE_SOURCE:  # on any element, as at.js does (an <iframe>, a <source>, ...)
        doc.set_attr(target, "src", action.content)
    elif kind in {ActionType.SET_STYLE, ActionType.RESIZE, ActionType.MOVE}:
        style = edit_style(doc.get_attr(target, "style"), action.content, dimensions=kind is not ActionType.SET_STYLE)
        if style:
            doc.set_attr(target, "style", style)
        else:
            doc.del_attr(target, "style")
    elif kind is ActionType.REARRANGE:
        return _rearrange(doc, target, action.content)
    elif kind is ActionType.REMOVE:
        doc.remove(target)
    elif kind is ActionType.CLICK:
        tokens = (doc.get_attr(target, CLICK_ATTRIBUTE) or "").split()
        if action.token not in tokens:
            doc.set_attr(target, CLICK_ATTRIBUTE, " ".join([*tokens, action.token or ""]))
        options.clicks += 1
    return True
