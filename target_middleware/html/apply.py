"""apply_actions and apply_offer: Target offers applied to a page, as at.js would have applied them."""

from __future__ import annotations

import html as html_escape
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .actions import ActionType, ApplyOptions, NormalizedAction, Skip, SkipReason, normalize, perform
from .document import Document, Where, decode
from .lexbor import LexborDocument
from .precheck import cannot_match, engine_accepts
from .selectors import InvalidSelector, TargetSelector, compile_selector, select
from .soup import SoupDocument

__all__ = ["ENGINES", "ActionReport", "ApplyResult", "Engine", "apply_actions", "apply_offer"]

logger = logging.getLogger(__name__)

N = TypeVar("N")

Engine = Literal["lexbor", "soup"]
ENGINES: dict[str, Callable[[str], Document[Any]]] = {"lexbor": LexborDocument, "soup": SoupDocument}
DEFAULT_ENGINE: Engine = "lexbor"
_NOTHING = "selector hit nothing"

# A delegated listener, added once, that reports clicks on elements the click metrics marked: it dispatches a
# "target:click" event the page can hook, and beacons the event tokens to data-endpoint when one is set. When the
# page carries signatures (a JSON element the middleware adds per visitor after the rewrite), the beacon is the
# signed clicks as application/json, to the middleware's own click path (an Edge Network click with the proposition
# the page carries for it); else the bare tokens as text.
CLICK_SCRIPT = (
    "(function(){var s=document.currentScript,u=s&&s.getAttribute('data-endpoint');"
    "document.addEventListener('click',function(e){var t=e.target,el=t&&t.closest&&t.closest('[data-target-click]');"
    "if(!el)return;var k=el.getAttribute('data-target-click').split(' ');"
    "el.dispatchEvent(new CustomEvent('target:click',{bubbles:true,detail:{tokens:k}}));"
    "if(!u||!navigator.sendBeacon)return;"
    "var d=document.querySelector('script[data-target-middleware=\"click-signatures\"]');"
    "if(!d){navigator.sendBeacon(u,JSON.stringify({tokens:k}));return;}"
    "try{var j=JSON.parse(d.textContent),c=[];k.forEach(function(x){"
    "var v=Object.prototype.hasOwnProperty.call(j.clicks,x)&&j.clicks[x];"
    "if(v)c.push(v[2]?{token:x,mbox:v[0],signature:v[1],proposition:v[2]}:{token:x,mbox:v[0],signature:v[1]});});"
    "if(!c.length)return;"
    "navigator.sendBeacon(u,new Blob([JSON.stringify({expires:j.expires,url:location.href,clicks:c})],"
    "{type:'application/json'}));}catch(_){}},true);})();"
)


@dataclass(frozen=True, slots=True)
class ActionReport:
    """What became of one action: applied to ``matched`` elements, or skipped for ``reason``."""

    index: int
    type: str
    selector: str | None
    matched: int = 0
    reason: SkipReason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    html: str
    applied: tuple[ActionReport, ...] = ()
    skipped: tuple[ActionReport, ...] = ()
    redirect: str | None = None
    changed: bool = False
    encoding: str = "utf-8"

    def encode(self) -> bytes:
        """The page as bytes in its own charset; characters it cannot hold become character references."""
        return self.html.encode(self.encoding, "xmlcharrefreplace")


def _describe(index: int, raw: object) -> tuple[str, str | None]:
    if isinstance(raw, Mapping):
        kind = raw.get("type", raw.get("action"))
        selector = raw.get("selector", raw.get("cssSelector"))
        return (str(kind) if kind is not None else "?"), (selector if isinstance(selector, str) else None)
    return "?", None


def _run(doc: Document[N], action: NormalizedAction, selector: TargetSelector, options: ApplyOptions) -> int:
    targets = select(doc, selector)
    if not targets:
        return 0
    options.click_id = selector.click_id
    changed = 0
    for target in targets:
        if perform(doc, action, target, options):
            changed += 1
    if not changed:
        raise Skip(SkipReason.NO_MATCH, "no element the action applies to")
    return changed


def _add_click_listener(doc: Document[N], nonce: str | None, endpoint: str | None) -> None:
    body = doc.body()
    if body is None:
        return
    attributes = ' data-target-middleware="clicks"'
    if nonce is not None:
        attributes += f' nonce="{html_escape.escape(nonce)}"'
    if endpoint:
        attributes += f' data-endpoint="{html_escape.escape(endpoint)}"'
    container = doc.fragment(f"<script{attributes}>{CLICK_SCRIPT}</script>", body)
    doc.insert(container, Where.APPEND, body)


Pending = list[tuple[int, NormalizedAction, TargetSelector]]


def _compile(actions: list[Any], reports: dict[int, ActionReport]) -> tuple[Pending, tuple[int, str] | None]:
    """Normalize and compile every action; the first redirect, if any, wins over everything."""
    pending: Pending = []
    for index, raw in enumerate(actions):
        try:
            action = normalize(raw)
            if action.type is ActionType.REDIRECT:
                return pending, (index, action.content)
            pending.append((index, action, compile_selector(action.selector or "")))
        except (Skip, InvalidSelector) as exc:
            kind, selector = _describe(index, raw)
            reason = exc.reason if isinstance(exc, Skip) else SkipReason.INVALID_SELECTOR
            reports[index] = ActionReport(index, kind, selector, reason=reason, detail=str(exc))
    return pending, None


def _perform_all(doc: Document[N], pending: Pending, options: ApplyOptions, reports: dict[int, ActionReport]) -> bool:
    """Run the actions in order, then once more those that hit nothing; True when the tree changed."""
    changed = False
    for attempt in (1, 2):
        retry: Pending = []
        for index, action, selector in pending:
            reason: SkipReason | None = None
            try:
                matched = _run(doc, action, selector, options)
            except (Skip, InvalidSelector) as exc:
                reason = exc.reason if isinstance(exc, Skip) else SkipReason.INVALID_SELECTOR
                detail = str(exc)
            except Exception as exc:  # an engine failure on one action must not lose the others
                logger.debug("action %d (%s) failed", index, action.type, exc_info=True)
                reason, detail = SkipReason.ERROR, type(exc).__name__
                changed = True  # it may have changed part of the tree before failing
            else:
                if matched:
                    reports[index] = ActionReport(index, action.type, action.selector, matched=matched)
                    changed = True
                    continue
                if attempt == 1 and len(pending) > 1:
                    retry.append((index, action, selector))  # its target may come from a later action
                    continue
                reason, detail = SkipReason.NO_MATCH, _NOTHING
            reports[index] = ActionReport(index, action.type, action.selector, reason=reason, detail=detail)
        if not retry:
            break
        if not changed:  # nothing was created that a second look could find
            for index, action, _ in retry:
                reports[index] = ActionReport(
                    index, action.type, action.selector, reason=SkipReason.NO_MATCH, detail=_NOTHING
                )
            break
        pending = retry
    return changed


def apply_actions(
    html: str | bytes,
    actions: Iterable[Mapping[str, Any]],
    *,
    engine: Engine | None = None,
    nonce: str | None = None,
    charset: str | None = None,
    click_endpoint: str | None = None,
    precheck: bool = True,
) -> ApplyResult:
    """Apply Target actions to a page, in order, each selector evaluated when its action runs.

    ``html`` is the page as text, or as bytes in ``charset`` (else its BOM, its ``<meta charset>``, or UTF-8);
    undecodable bytes raise ValueError. An action that fails (invalid selector, content of the wrong kind, an
    unknown type) is skipped with its reason and the others still apply. Actions whose targets appear only
    through a later action get a second pass. A redirect short-circuits everything else. When nothing applies,
    ``html`` is the input itself, unchanged. A page that provably none of the selectors can hit (an id or class
    they need occurs nowhere in it) is not parsed at all; ``precheck=False`` parses it anyway.
    """
    name = engine or DEFAULT_ENGINE
    factory = ENGINES.get(name)
    if factory is None:
        raise ValueError(f"unknown engine {name!r}: pass engine='lexbor' (the default) or engine='soup'")
    actions = list(actions)
    encoding = "utf-8"
    if isinstance(html, bytes | bytearray | memoryview):
        text, encoding = decode(bytes(html), charset)
    elif isinstance(html, str):
        text = html
    else:
        raise TypeError(f"html must be str or bytes, not {type(html).__name__}")

    reports: dict[int, ActionReport] = {}
    pending, redirect = _compile(actions, reports)
    if redirect is not None:
        return _redirected(text, encoding, actions, *redirect)
    if not pending:
        return _result(text, text, encoding, reports, changed=False)
    if precheck and cannot_match(text, [selector for _, _, selector in pending], engine_accepts(factory)):
        # No selector can hit an element of this page: what a full run would report, without parsing it.
        for index, action, _ in pending:
            reports[index] = ActionReport(
                index, action.type, action.selector, reason=SkipReason.NO_MATCH, detail=_NOTHING
            )
        return _result(text, text, encoding, reports, changed=False)
    doc = factory(text)
    options = ApplyOptions(nonce=nonce)
    if not _perform_all(doc, pending, options, reports):
        return _result(text, text, encoding, reports, changed=False)
    if options.clicks:
        _add_click_listener(doc, nonce, click_endpoint)
    output = doc.serialize()
    if text.startswith("\ufeff") and not output.startswith("\ufeff"):
        output = "\ufeff" + output
    return _result(text, output, encoding, reports, changed=True)


def _result(source: str, output: str, encoding: str, reports: dict[int, ActionReport], *, changed: bool) -> ApplyResult:
    ordered = tuple(reports[i] for i in sorted(reports))
    return ApplyResult(
        html=output if changed else source,
        applied=tuple(r for r in ordered if r.reason is None),
        skipped=tuple(r for r in ordered if r.reason is not None),
        changed=changed,
        encoding=encoding,
    )


def _redirected(
    text: str, encoding: str, actions: Iterable[Mapping[str, Any]], redirect_index: int, url: str
) -> ApplyResult:
    skipped = []
    applied = []
    for index, raw in enumerate(actions):
        kind, selector = _describe(index, raw)
        if index == redirect_index:
            applied.append(ActionReport(index, ActionType.REDIRECT.value, None, matched=1))
        else:
            skipped.append(ActionReport(index, kind, selector, reason=SkipReason.REDIRECTED))
    return ApplyResult(html=text, applied=tuple(applied), skipped=tuple(skipped), redirect=url, encoding=encoding)


def apply_offer(html: str | bytes, options: Mapping[str, Any], **kwargs: Any) -> ApplyResult:
    """at.js ``adobe.target.applyOffer({mbox, offer, selector})`` on a page.

    ``offer`` is what ``get_offer`` hands to its success callback: a list of actions, where HTML content with no
    selector (a form-based ``html`` option) goes into ``selector``, which defaults to ``head`` as in at.js (and so
    keeps only the offer's ``<script>``, ``<link>`` and ``<style>``). ``setJson`` items are data, not rendered.
    """
    if not isinstance(options, Mapping):
        raise ValueError("applyOffer options must be a mapping with an 'offer'")
    offer = options.get("offer")
    if offer is None or isinstance(offer, str | bytes) or not isinstance(offer, Iterable):
        raise ValueError("applyOffer needs 'offer': the list of actions get_offer delivered")
    selector = options.get("selector") or "head"
    if not isinstance(selector, str):
        raise ValueError("applyOffer 'selector' must be a string")
    actions: list[Mapping[str, Any]] = []
    for item in offer:
        if (
            isinstance(item, Mapping)
            and not item.get("selector")
            and item.get("action", item.get("type")) in {"setContent", "setHtml", "html"}
        ):
            actions.append({"action": "setContent", "selector": selector, "content": item.get("content")})
        else:
            actions.append(item)
    return apply_actions(html, actions, **kwargs)
