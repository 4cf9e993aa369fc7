"""The local edge's Edge Network endpoint: ``POST /ee[/<region>]/v2/interact`` from the same rules artifact.

The Web SDK's own calls (``/ee[/<region>]/v1/interact?configId=…``, an ``events`` list, ``text/plain`` bodies from
the page; CORS from ``create_edge_app``) are answered alike, so alloy in a browser runs against it.

A fetch (``decisioning.propositionFetch``, or any event with ``query.personalization``) is decided by the on-device
engine as a Delivery API *prefetch* (a fetch is not a display: options carry event tokens and owe nothing yet) and
answered with the handles the real edge sends: ``personalization:decisions`` (one proposition per option, items of
the five schemas), ``identity:result`` (the ECID), ``state:store`` (the identity and cluster cookies) and
``locationHint:result`` (region ``local``). A ``decisioning.propositionDisplay`` or ``propositionInteract`` event
is recorded, as is the display alloy folds into an event it sends for a view
(``_experience.decisioning.propositionEventType.display``): its event tokens go to ``on_notifications`` as
Delivery API display / click notifications, so the local edge's report counts both transports alike. A conversion
is recorded as the Delivery API's would be: an event with ``commerce.order`` (``purchaseID``, ``priceTotal``,
``productListItems[].SKU`` as the order's id, total and products) for its decision scopes, and a
``decisioning.propositionDisplay`` that names decision scopes instead of propositions (``track()`` without an
order) as a display notification for each mbox.

The identity cookie's value here is the ECID itself (the real edge's is an opaque encoded blob: alloy warns that
it cannot decode the ECID from it, and carries on); allocation uses it as ``marketingCloudVisitorId``, as Target
does.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..decisioning import DecisioningEngine, DecisioningNotReady
from ..decisioning.engine import OnDeviceDecision
from ..visitor import is_valid_edge_state
from .answer import DOM_ACTION, HTML_ITEM, JSON_ITEM, PAGE_WIDE_SCOPE, REDIRECT_ITEM
from .localevents import conversions_of, dig, page_clicks

__all__ = ["interact_routes"]

logger = logging.getLogger(__name__)

REGION = "local"
STATE_MAX_AGE = 34_128_000
_MAX_BODY = 1 << 20
_ITEMS = {
    "html": (HTML_ITEM, "text/html"),
    "json": (JSON_ITEM, "application/json"),
    "redirect": (REDIRECT_ITEM, "text/uri-list"),
}


def _error(status: int, title: str) -> JSONResponse:
    return JSONResponse(
        {"type": "https://ns.adobe.com/aep/errors/EXEG-0003-400", "status": status, "title": title}, status_code=status
    )


def _proposition(scope: str, option: Mapping[str, Any], index: int, *, view: bool) -> dict[str, Any]:
    tokens = option.get("responseTokens") or {}
    activity, experience = str(tokens.get("activity.id", "")), str(tokens.get("experience.id", ""))
    characteristics: dict[str, Any] = {}
    if option.get("eventToken"):
        characteristics["eventToken"] = option["eventToken"]
    if view:
        characteristics["scopeType"] = "view"
    items: list[dict[str, Any]] = []
    kind, content = option.get("type"), option.get("content")
    if kind == "actions" and isinstance(content, list):
        for i, action in enumerate(content):
            data = {"type": action.get("type"), "format": "application/vnd.adobe.target.dom-action"}
            data.update({k: action[k] for k in ("selector", "content") if k in action})
            if action.get("cssSelector"):
                data["prehidingSelector"] = action["cssSelector"]
            items.append({"id": f"{activity}-{index}-{i}", "schema": DOM_ACTION, "meta": tokens, "data": data})
    elif kind in _ITEMS:
        schema, mime = _ITEMS[str(kind)]
        items.append(
            {
                "id": f"{activity}-{index}",
                "schema": schema,
                "meta": tokens,
                "data": {"format": mime, "content": content},
            }
        )
    return {
        "id": f"AT:{activity}:{experience}:{scope}:{index}",
        "scope": scope,
        "scopeDetails": {
            "decisionProvider": "TGT",
            "activity": {"id": activity},
            "experience": {"id": experience},
            "characteristics": characteristics,
            "correlationID": f"{activity}:{experience}:0",
        },
        "items": items,
    }


def _propositions(prefetch: Mapping[str, Any], clicks: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page_load = prefetch.get("pageLoad") or {}
    for i, option in enumerate(page_load.get("options") or ()):
        found.append(_proposition(PAGE_WIDE_SCOPE, option, i, view=False))
    for metric in clicks:
        if metric.get("type") == "click" and metric.get("selector"):
            click = {
                "type": "click",
                "format": "application/vnd.adobe.target.dom-action",
                "selector": metric["selector"],
            }
            ids = {"eventToken": metric.get("eventToken"), "responseTokens": metric.get("responseTokens") or {}}
            proposition = _proposition(PAGE_WIDE_SCOPE, ids, len(found), view=False)
            proposition["items"] = [{"id": "click", "schema": DOM_ACTION, "data": click}]
            found.append(proposition)
    for mbox in prefetch.get("mboxes") or ():
        for i, option in enumerate(mbox.get("options") or ()):
            found.append(_proposition(str(mbox.get("name")), option, i, view=False))
    for view in prefetch.get("views") or ():
        for i, option in enumerate(view.get("options") or ()):
            found.append(_proposition(str(view.get("name")), option, i, view=True))
    return found


def _event(body: Any) -> Mapping[str, Any] | None:
    if not isinstance(body, Mapping):
        return None
    event = body.get("event")
    if event is None and isinstance(body.get("events"), list) and body["events"]:
        event = body["events"][0]  # the Web SDK's own /v1 shape
    return event if isinstance(event, Mapping) else None


def _delivery_request(event: Mapping[str, Any], scopes: list[str], ecid: str) -> dict[str, Any]:
    url = dig(event, "xdm", "web", "webPageDetails", "URL")
    referrer = dig(event, "xdm", "web", "webReferrer", "URL")
    agent = dig(event, "xdm", "environment", "browserDetails", "userAgent")
    target = dig(event, "data", "__adobe", "target")
    target = target if isinstance(target, Mapping) else {}
    params = {k: str(v) for k, v in target.items() if isinstance(k, str) and not k.startswith("profile.")}
    profile = {k[8:]: str(v) for k, v in target.items() if isinstance(k, str) and k.startswith("profile.")}
    details: dict[str, Any] = {}
    if params:
        details["parameters"] = params
    if profile:
        details["profileParameters"] = profile
    context: dict[str, Any] = {"channel": "web", "address": {"url": url if isinstance(url, str) else ""}}
    if isinstance(referrer, str) and referrer:
        context["address"]["referringUrl"] = referrer
    if isinstance(agent, str) and agent:
        context["userAgent"] = agent
    prefetch: dict[str, Any] = {}
    mboxes = [{"index": i, "name": s, **details} for i, s in enumerate(x for x in scopes if x != PAGE_WIDE_SCOPE)]
    if mboxes:
        prefetch["mboxes"] = mboxes
    if PAGE_WIDE_SCOPE in scopes:
        prefetch["pageLoad"] = dict(details)
        prefetch["views"] = [dict(details)]
    return {"id": {"marketingCloudVisitorId": ecid}, "context": context, "prefetch": prefetch}


def _state(body: Any) -> dict[str, str]:
    """The request's ``meta.state.entries``: only well-formed kndctr cookies."""
    entries = dig(body, "meta", "state", "entries")
    return {
        e["key"]: e["value"]
        for e in (entries if isinstance(entries, list) else ())
        if isinstance(e, Mapping)
        and isinstance(e.get("key"), str)
        and isinstance(e.get("value"), str)
        and is_valid_edge_state(e["key"], e["value"])
    }


def _event_tokens(event: Mapping[str, Any]) -> list[str]:
    """The event tokens of the propositions a display or interact event names."""
    propositions = dig(event, "xdm", "_experience", "decisioning", "propositions")
    tokens = [
        dig(p, "scopeDetails", "characteristics", "eventToken")
        for p in (propositions if isinstance(propositions, list) else ())
    ]
    return [t for t in tokens if isinstance(t, str)]


def _counted(event: Mapping[str, Any], scopes: list[str]) -> list[dict[str, Any]] | None:
    """What a display, interact or conversion event notifies (None: the event counts nothing, e.g. a fetch)."""
    kind = dig(event, "xdm", "eventType")
    counted = dig(event, "xdm", "_experience", "decisioning", "propositionEventType")
    conversions = conversions_of(event, scopes)
    if not (
        kind in ("decisioning.propositionDisplay", "decisioning.propositionInteract")
        or (isinstance(counted, Mapping) and counted.get("display") == 1)
        or conversions
    ):
        return None
    tokens = _event_tokens(event)
    note = "click" if kind == "decisioning.propositionInteract" else "display"
    notes = [{"id": str(uuid.uuid4()), "type": note, "timestamp": 0, "tokens": tokens}] if tokens else []
    return notes + conversions


def _handles(prefix: str, ecid: str, propositions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A fetch's answer: the identity, the decisions (when scopes were asked), the region, the state cookies."""
    handles: list[dict[str, Any]] = [
        {"type": "identity:result", "payload": [{"id": ecid, "namespace": {"code": "ECID"}}]}
    ]
    if propositions is not None:
        handles.append({"type": "personalization:decisions", "payload": propositions, "eventIndex": 0})
    handles.append(
        {"type": "locationHint:result", "payload": [{"scope": "EdgeNetwork", "hint": REGION, "ttlSeconds": 1800}]}
    )
    state = [
        {"key": prefix + "identity", "value": ecid, "maxAge": STATE_MAX_AGE},
        {"key": prefix + "cluster", "value": REGION, "maxAge": 1800},
    ]
    handles.append({"type": "state:store", "payload": state})
    return handles


def interact_routes(
    engine: DecisioningEngine,
    *,
    organization_id: str,
    on_notifications: Callable[[dict[str, Any]], None] | None = None,
    on_exchange: Callable[[dict[str, Any], OnDeviceDecision], None] | None = None,
) -> list[Route]:
    """The ``interact`` routes for a local edge deciding with ``engine``.

    ``on_exchange`` sees each exchange as the Delivery API would have had it (the request, and the engine's decision;
    an empty decision for an event that only notifies): the local edge's recorder counts both transports alike.
    """
    prefix = f"kndctr_{organization_id.replace('@', '_')}_"

    def exchanged(request: dict[str, Any], decision: OnDeviceDecision) -> None:
        if on_exchange is not None:
            try:
                on_exchange(request, decision)
            except Exception:
                logger.warning("recording an interact exchange failed", exc_info=True)

    def record(notifications: list[dict[str, Any]], ecid: str | None) -> None:
        if not notifications:
            return
        request = {"id": {"marketingCloudVisitorId": ecid} if ecid else {}, "notifications": notifications}
        exchanged(request, OnDeviceDecision({}, (), ()))
        if on_notifications is not None:
            try:
                on_notifications(request)
            except Exception:
                logger.warning("on_notifications callback failed", exc_info=True)

    async def interact(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > _MAX_BODY:
            return _error(413, "request body too large")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return _error(400, "request body is not valid JSON")
        event = _event(body)
        if event is None:
            return _error(400, "the request needs an event")
        ecid = _state(body).get(prefix + "identity")
        ecid = ecid if ecid and ecid.isdigit() else None
        request_id = request.query_params.get("requestId") or str(uuid.uuid4())
        scopes = dig(body, "query", "personalization", "decisionScopes")
        scopes = [s for s in scopes if isinstance(s, str) and s] if isinstance(scopes, list) else []
        notes = _counted(event, scopes)
        if notes is not None:
            record(notes, ecid)
            if not scopes:
                return JSONResponse({"requestId": request_id, "handle": []})
        ecid = ecid or str(random.randrange(10**37, 10**38))
        propositions: list[dict[str, Any]] | None = None
        if scopes:
            try:
                fetch = _delivery_request(event, scopes, ecid)
                decision = engine.decide(fetch)
            except DecisioningNotReady:
                return _error(503, "the decisioning artifact has not loaded yet")
            except Exception:
                logger.exception("on-device decision for interact failed")
                return _error(500, "internal error")
            exchanged(fetch, decision)
            prefetch = decision.response.get("prefetch") or {}
            propositions = _propositions(prefetch, page_clicks(engine.artifact, prefetch.get("pageLoad")))
        return JSONResponse({"requestId": request_id, "handle": _handles(prefix, ecid, propositions)})

    return [
        Route(path, interact, methods=["POST"])
        for path in ("/ee/v2/interact", "/ee/{region}/v2/interact", "/ee/v1/interact", "/ee/{region}/v1/interact")
    ]
