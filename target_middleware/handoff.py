"""Hand-off to at.js in the page: ``window.targetGlobalSettings.serverState`` from what the server fetched.

at.js 2.2+ starts from ``targetGlobalSettings.serverState = {request, response}`` set before it loads (Adobe's
targetGlobalSettings() page, "serverState" / hybrid personalization): for the page-load VEC activities
(``execute.pageLoad``) and the prefetched views (``prefetch.views``) of that request it makes no Delivery call of its
own, renders what the response holds, and applies a view on ``triggerView(name)``. Regional mboxes are not part of
it (at.js asks for them with ``getOffer``), so they are left out of both halves.

What the page gets:

- ``request``: the Delivery request the server sent, without what is private or not at.js's business: customer
  ids and thirdPartyId (``id`` keeps tntId and marketingCloudVisitorId), every ``profileParameters``, the geo IP
  (unless the client sends it to Target: ``send_ip_address``), ``trace`` (it carries an authorization token), and
  the regional mboxes.
- ``response``: the answer, minus the page-load actions the server already applied (at.js would apply them again:
  an ``insertBefore`` doubles), plus those it could not (no match in the server's HTML, ``:shadow``), which at.js
  then applies in the browser; page-load ``metrics`` only when at.js owns the clicks; the prefetched views as
  they came.

The JSON is made safe in a script element: ``<``, ``>``, ``&``, U+2028 and U+2029 (and every non-ASCII character)
are ``\\u`` escapes, so no ``</script>`` or ``<!--`` can appear in it, and the script is ASCII in any page charset.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any

from .delivery.offers import OffersResult
from .html.document import decode
from .pagebytes import script_json

__all__ = ["ClickOwner", "Handoff", "handoff_script", "insert_handoff", "server_state"]

DEFAULT_MAX_SIZE = 256 * 1024
_WIDE = re.compile(r"utf-?(16|32)", re.IGNORECASE)


class Handoff(StrEnum):
    """Who continues in the page from what the server fetched."""

    ATJS = "atjs"
    WEBSDK = "websdk"  # alloy's applyResponse (edgenetwork.handoff), on pages an EdgeNetworkClient decided


class ClickOwner(StrEnum):
    """Who counts the clicks on a personalized page: the page's library (at.js from serverState's metrics, alloy
    from the click items of applyResponse) or our listener."""

    ATJS = "atjs"
    FIRST_PARTY = "first-party"


# One page-load action: (option index, action index in its content); -1 for an option that is one piece (html).
Origin = tuple[int, int]


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def _public_request(request: Mapping[str, Any], *, send_ip_address: bool) -> dict[str, Any]:
    out: dict[str, Any] = _without(request, "trace", "notifications", "id", "execute", "prefetch", "context")
    ids = request.get("id")
    if isinstance(ids, Mapping):
        kept = {k: ids[k] for k in ("tntId", "marketingCloudVisitorId") if isinstance(ids.get(k), str)}
        if kept:
            out["id"] = kept
    context = request.get("context")
    if isinstance(context, Mapping):
        context = dict(context)
        geo = context.get("geo")
        if isinstance(geo, Mapping) and not send_ip_address:
            geo = _without(geo, "ipAddress")
            if geo:
                context["geo"] = geo
            else:
                del context["geo"]
        out["context"] = context
    for section in ("execute", "prefetch"):
        part = request.get(section)
        if not isinstance(part, Mapping):
            continue
        kept_part: dict[str, Any] = {}
        if isinstance(part.get("pageLoad"), Mapping):
            kept_part["pageLoad"] = _without(part["pageLoad"], "profileParameters")
        if isinstance(part.get("views"), list):
            kept_part["views"] = [_without(v, "profileParameters") for v in part["views"] if isinstance(v, Mapping)]
        if kept_part:
            out[section] = kept_part
    return out


def _page_load_options(options: list[Any], applied: Collection[Origin]) -> list[Any]:
    """The page-load options with what the server applied taken out; an option left empty goes."""
    kept: list[Any] = []
    for i, option in enumerate(options):
        if not isinstance(option, Mapping):
            continue
        content = option.get("content")
        if option.get("type") == "actions" and isinstance(content, list):
            rest = [action for j, action in enumerate(content) if (i, j) not in applied]
            if rest:
                kept.append({**option, "content": rest})
        elif (i, -1) not in applied and option.get("type") != "redirect":
            kept.append(option)
    return kept


def _public_response(
    raw: Mapping[str, Any], applied: Collection[Origin] | None, *, keep_metrics: bool
) -> dict[str, Any]:
    out: dict[str, Any] = _without(raw, "execute", "prefetch", "trace", "notifications")
    execute = raw.get("execute")
    if isinstance(execute, Mapping) and isinstance(execute.get("pageLoad"), Mapping):
        page_load = _without(execute["pageLoad"], "trace")
        options = page_load.get("options")
        if isinstance(options, list) and applied is not None:
            page_load["options"] = _page_load_options(options, applied)
        if not keep_metrics:
            page_load.pop("metrics", None)
        out["execute"] = {"pageLoad": page_load}
    prefetch = raw.get("prefetch")
    if isinstance(prefetch, Mapping) and isinstance(prefetch.get("views"), list):
        views = prefetch["views"] if keep_metrics else [_without(v, "metrics") for v in prefetch["views"]]
        out["prefetch"] = {"views": views}
    return out


def server_state(
    result: OffersResult,
    *,
    applied: Collection[Origin] | None = None,
    keep_metrics: bool = True,
    send_ip_address: bool = False,
) -> dict[str, Any] | None:
    """``{request, response}`` for at.js, or None when the request had nothing at.js can take over.

    ``applied`` names the page-load actions the server already applied (None: nothing was, the page renders it
    all in the browser). ``keep_metrics`` leaves the click metrics to at.js.
    """
    request = _public_request(result.request, send_ip_address=send_ip_address)
    if "pageLoad" not in request.get("execute", {}) and "views" not in request.get("prefetch", {}):
        return None
    return {"request": request, "response": _public_response(result.raw, applied, keep_metrics=keep_metrics)}


def handoff_script(state: Mapping[str, Any], *, nonce: str | None = None) -> str:
    """The ``<script>`` that hands ``state`` to at.js (kept in an existing ``targetGlobalSettings``)."""
    attribute = f' nonce="{nonce}"' if nonce else ""
    return (
        f"<script{attribute}>window.targetGlobalSettings=window.targetGlobalSettings||{{}};"
        f"window.targetGlobalSettings.serverState={script_json(state)};</script>"
    )


# The first thing that decides where the script goes: a comment (skipped), the <head> start tag (the script goes
# right after it), or anything else that starts content or runs code before it.
_LANDMARKS = re.compile(
    rb"<!--.*?-->|<head(?=[\s/>])[^>]*>|<(?:script|body|link|style|meta|title|base|noscript|template)(?=[\s/>])"
    rb"|<html(?=[\s/>])[^>]*>|<!doctype[^>]*>",
    re.IGNORECASE | re.DOTALL,
)


_META_CHARSET = re.compile(rb"<meta(?=[\s/])[^>]*charset[^>]*>", re.IGNORECASE)
_SCRIPT = re.compile(rb"<script(?=[\s/>])", re.IGNORECASE)


def _start(body: bytes) -> int:
    position = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    for match in _LANDMARKS.finditer(body, position):
        token = match.group()
        if token.startswith(b"<!--"):
            continue
        lowered = token[:9].lower()
        if lowered.startswith((b"<!doctype", b"<html")):
            position = match.end()
            continue
        if lowered.startswith(b"<head"):
            return match.end()
        return match.start()
    return position


def insertion_point(body: bytes) -> int:
    """Where the hand-off goes: at the start of ``<head>``, before any script; else early in the document.

    A page without ``<head>`` gets it after its doctype and ``<html>`` tag (never before the doctype: that would
    put the page in quirks mode) and before the first element that is not one of those. A ``<meta charset>`` that
    comes before the first script stays ahead of it: browsers look for it in the first 1024 bytes only.
    """
    at = _start(body)
    meta = _META_CHARSET.search(body, at, 4096)
    if meta is not None:
        script = _SCRIPT.search(body, at)
        if script is None or meta.start() < script.start():
            return meta.end()
    return at


def insert_handoff(body: bytes, script: str, charset: str | None = None) -> bytes:
    """``body`` with ``script`` (ASCII) spliced in at :func:`insertion_point`.

    ASCII is the same bytes in every charset a page can declare but the wide ones: UTF-16/32 pages (a BOM, or the
    ``charset`` of their Content-Type) are decoded, spliced and encoded again.
    """
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (charset and _WIDE.search(charset)):
        text, encoding = decode(body, charset)
        encoded = text.encode("utf-8")
        at = len(encoded[: insertion_point(encoded)].decode("utf-8"))
        return (text[:at] + script + text[at:]).encode(encoding)
    at = insertion_point(body)
    return body[:at] + script.encode("ascii") + body[at:]
