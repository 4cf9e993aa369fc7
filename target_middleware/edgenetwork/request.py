"""The body of one Edge Network ``interact`` call for a page view (Adobe's Edge Network Server API).

``POST /ee/v2/interact?datastreamId=…`` takes one ``event`` (the Web SDK's own ``/ee/v1/interact`` sends an
``events`` list; the Server API reference and its hybrid-personalization guide use ``event``):

- ``event.xdm``: ``eventType`` ``decisioning.propositionFetch``, ``timestamp``, ``web.webPageDetails.URL``,
  ``web.webReferrer.URL``, ``identityMap`` (the ECID when the visitor has one, primary; the edge otherwise reads the
  identity from the state entries; each customer id under its integration code as the namespace, its state as XDM
  names it: ``authenticated``, ``loggedOut``, ``ambiguous``; the ``mbox3rdPartyId`` under the namespace the
  datastream's Target settings name for it), and the user agent in ``environment.browserDetails``.
- ``event.data.__adobe.target``: the mbox parameters, and ``profile.*`` for profile parameters (Adobe's
  "Personalization via Adobe Target" page of the Server API).
- ``query.personalization``: the schemas we can render and the ``decisionScopes``: ``__view__`` for the global
  mbox (the page load), the other mboxes by name.
- ``meta.state``: the visitor's ``kndctr_<org>_AdobeOrg_*`` cookies as ``entries``, and the cookie domain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..delivery.context import PageContext
from ..delivery.params import Mbox
from ..identity import AuthenticatedState, CustomerId
from .answer import PAGE_WIDE_SCOPE, SCHEMAS

__all__ = ["identity_map", "interact_body"]

_XDM_STATES = {
    AuthenticatedState.AUTHENTICATED: "authenticated",
    AuthenticatedState.LOGGED_OUT: "loggedOut",
    AuthenticatedState.UNKNOWN: "ambiguous",
}


def _timestamp(now: float) -> str:
    whole = int(now)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((now - whole) * 1000):03d}Z"


def identity_map(
    ecid: str | None, customer_ids: Sequence[CustomerId] = (), third_party_id: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The XDM ``identityMap``: the ECID (primary), the customer ids (each under its integration code), and the
    ``mbox3rdPartyId`` under the namespace the datastream maps to it (``third_party_id``: namespace, id)."""
    found: dict[str, list[dict[str, Any]]] = {}
    if ecid:
        found["ECID"] = [{"id": ecid, "authenticatedState": "ambiguous", "primary": True}]
    for customer in customer_ids:
        entry = {"id": customer.id, "authenticatedState": _XDM_STATES[AuthenticatedState(customer.authenticated_state)]}
        found.setdefault(customer.integration_code, []).append(entry)
    if third_party_id is not None:
        namespace, value = third_party_id
        entries = found.setdefault(namespace, [])
        if all(entry["id"] != value for entry in entries):
            entries.append({"id": value, "authenticatedState": "authenticated"})
    return found


def interact_body(
    mboxes: Sequence[Mbox],
    *,
    page: PageContext,
    state: Sequence[tuple[str, str]],
    global_mbox: str,
    ecid: str | None = None,
    customer_ids: Sequence[CustomerId] = (),
    third_party_id: tuple[str, str] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The ``interact`` request for one page view and the given mboxes."""
    scopes: list[str] = []
    target: dict[str, Any] = {}
    for mbox in mboxes:
        scope = PAGE_WIDE_SCOPE if mbox.name == global_mbox else mbox.name
        if scope not in scopes:
            scopes.append(scope)
        for key, value in mbox.params.items():
            if isinstance(value, bool):
                target[key] = "true" if value else "false"  # as JavaScript's String() writes them
            elif isinstance(value, str | int | float):
                target[key] = str(value)
    context = page.to_json(send_ip_address=False)
    address: Mapping[str, Any] = context.get("address") or {}
    web: dict[str, Any] = {"webPageDetails": {"URL": address.get("url", "")}}
    if address.get("referringUrl"):
        web["webReferrer"] = {"URL": address["referringUrl"]}
    xdm: dict[str, Any] = {
        "eventType": "decisioning.propositionFetch",
        "timestamp": _timestamp(time.time() if now is None else now),
        "web": web,
    }
    if context.get("userAgent"):
        xdm["environment"] = {"type": "browser", "browserDetails": {"userAgent": context["userAgent"]}}
    identities = identity_map(ecid, customer_ids, third_party_id)
    if identities:
        xdm["identityMap"] = identities
    event: dict[str, Any] = {"xdm": xdm}
    if target:
        event["data"] = {"__adobe": {"target": target}}
    host = urlsplit(str(address.get("url", ""))).hostname or ""
    return {
        "event": event,
        "query": {"personalization": {"schemas": list(SCHEMAS), "decisionScopes": scopes}},
        "meta": {
            "state": {
                "domain": host,
                "cookiesEnabled": True,
                "entries": [{"key": key, "value": value} for key, value in state],
            }
        },
    }
