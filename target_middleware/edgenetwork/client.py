"""Adobe's Edge Network Server API as a second transport: the same seam as ``TargetClient.get_offers``.

One ``interact`` call per page view on a datastream (Target enabled on it) instead of a Delivery API call; the
answer comes back as an ``OffersResult`` of the same shape, so the middleware, the rules and the actions engine do
not know which transport decided. What differs:

- the visitor is the Edge Network's: its ``kndctr_<org>_AdobeOrg_*`` cookies go up as ``meta.state.entries`` and the
  ``state:store`` answer comes back as cookies (``OffersResult.state_cookies``); no ``mbox`` cookie;
- the region: the ``EdgeNetwork`` location hint of an answer (kept by the browser in the ``..._cluster`` state
  cookie) routes the next call to ``/ee/<region>/v2/interact``;
- impressions: a fetch is not a display for the Edge Network. For every non-view proposition of an answer a
  ``decisioning.propositionDisplay`` event is sent in the background, batched per page view, as the Delivery API's
  ``execute`` counts an impression when it decides. Views are left to the page (the Web SDK sends their display when
  it renders them). With the Web SDK hand-off (``OffersRequest.deferred_display``) the event waits for the page:
  the hand-off sends it for what alloy will not count (``edgenetwork.handoff``);
- clicks and conversions: the middleware's click endpoint and ``track()`` queue into ``notifications`` (the same
  bounded background queue as the Delivery API client's) and each goes as an experience event of its own
  (``edgenetwork.events``: ``decisioning.propositionInteract``, ``commerce.purchases``).

On-device decisioning exists only on the Delivery API path; this client is always remote.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx

from ..delivery import transport
from ..delivery.context import PageContext
from ..delivery.decider import DecisioningMethod
from ..delivery.errors import ResponseParseError
from ..delivery.loops import PerLoop, wait_on_their_loops
from ..delivery.models import parse_response
from ..delivery.notifications import NotificationQueue, Pending
from ..delivery.offers import OffersRequest, OffersResult, as_mboxes
from ..delivery.params import GLOBAL_MBOX, Mbox
from ..visitor import CookieValue, Visitor
from .answer import EdgeAnswer, Proposition, read_answer
from .events import experience_event
from .handoff import EdgeExchange
from .request import identity_map, interact_body

__all__ = ["EdgeNetworkClient"]

logger = logging.getLogger(__name__)

_DATASTREAM = re.compile(r"[0-9A-Za-z:_-]{1,128}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?")
_REGION = re.compile(r"[0-9A-Za-z]{1,16}")
_NAMESPACE = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAX_PENDING_DISPLAYS = 1000  # display events in flight; past this they are dropped and counted


class EdgeNetworkClient:
    """The Edge Network Server API for one datastream. Share one per app; ``aclose()`` when done.

    ``edge_domain`` is ``edge.adobedc.net`` (first-party domains and a local edge: ``host[:port]``, with
    ``secure=False`` for plain http). ``timeout`` bounds each call in total, in seconds. ``max_pending_notifications``
    bounds the clicks and conversions waiting to be sent (past it the newest are dropped and counted).
    ``third_party_id_namespace``: the identity namespace the datastream's Target settings map to ``mbox3rdPartyId``
    (its "Target third party ID namespace"); the visitor's thirdPartyId goes in the ``identityMap`` under it.
    """

    decisioning = DecisioningMethod.SERVER_SIDE

    def __init__(
        self,
        datastream_id: str,
        organization_id: str,
        *,
        edge_domain: str = "edge.adobedc.net",
        secure: bool = True,
        timeout: float = 3.0,
        global_mbox: str = GLOBAL_MBOX,
        http_client: httpx.AsyncClient | None = None,
        max_connections: int = 100,
        display_events: bool = True,
        max_pending_notifications: int = 10_000,
        third_party_id_namespace: str | None = None,
    ) -> None:
        if not isinstance(datastream_id, str) or not _DATASTREAM.fullmatch(datastream_id):
            raise ValueError("datastream_id must be the datastream's id (letters, digits, '-', '_', ':')")
        if not isinstance(organization_id, str) or not organization_id.endswith("@AdobeOrg"):
            raise ValueError("organization_id must be the IMS org id, '…@AdobeOrg'")
        if not isinstance(edge_domain, str) or not _HOST.fullmatch(edge_domain):
            raise ValueError("edge_domain must be a host name, optionally with a port")
        if not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if third_party_id_namespace is not None and not (
            isinstance(third_party_id_namespace, str) and _NAMESPACE.fullmatch(third_party_id_namespace)
        ):
            raise ValueError("third_party_id_namespace must be an identity namespace's code (letters, digits, _ -)")
        self.third_party_id_namespace = third_party_id_namespace
        self.datastream_id = datastream_id
        self.organization_id = organization_id
        self.global_mbox = global_mbox
        self.timeout = float(timeout)
        self.display_events = display_events
        self._base = f"{'https' if secure else 'http'}://{edge_domain}/ee"
        self._query = f"/v2/interact?datastreamId={quote(datastream_id, safe='')}"
        # The org id as it appears in the state cookies' names: kndctr_<org with '@' as '_'>_...
        self._cluster_cookie = f"kndctr_{organization_id.replace('@', '_')}_cluster"
        self._http = http_client  # the caller's, used as it is on every loop
        self._max_connections = max_connections
        self._pools = PerLoop(self._new_pool)  # one per event loop: the I/O thread's and the app's alike
        self._background: set[asyncio.Task[None]] = set()
        self.dropped_displays = 0
        # Clicks and track() conversions: queued and sent in the background, one experience event each.
        self.notifications = NotificationQueue(self._send_events, max_pending=max_pending_notifications)

    def _new_pool(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=self._max_connections)
        return httpx.AsyncClient(limits=limits, follow_redirects=False, timeout=self.timeout)

    def _client(self) -> httpx.AsyncClient:
        return self._http if self._http is not None else self._pools.get()

    def _third_party_id(self, visitor: Visitor) -> tuple[str, str] | None:
        namespace = self.third_party_id_namespace
        return (namespace, visitor.third_party_id) if namespace and visitor.third_party_id else None

    def url_for(self, visitor: Visitor) -> str:
        """``/ee/<region>/v2/interact`` when the visitor's cluster cookie names a region, else ``/ee/v2/…``."""
        region = dict(visitor.edge_state).get(self._cluster_cookie)
        prefix = f"{self._base}/{region}" if region and _REGION.fullmatch(region) else self._base
        return prefix + self._query + f"&requestId={uuid.uuid4()}"

    async def _post(self, url: str, body: dict[str, Any], deadline: float) -> Any:
        return await transport.post_json(self._client(), url, transport.encode(body), deadline=deadline)

    async def get_offers(
        self,
        request: OffersRequest | Sequence[Mbox | str],
        *,
        visitor: Visitor | None = None,
        page: PageContext | None = None,
        timeout: float | None = None,
    ) -> OffersResult:
        """One ``interact`` call for a page view's mboxes. Raises a ``DeliveryError`` as the Delivery API client."""
        if not isinstance(request, OffersRequest):
            request = OffersRequest(mboxes=request)
        visitor = visitor or Visitor.new()
        page = page or request.page
        deadline = self.timeout if timeout is None else timeout
        body = interact_body(
            as_mboxes(request.mboxes),
            page=page,
            state=visitor.edge_state,
            global_mbox=self.global_mbox,
            ecid=visitor.marketing_cloud_visitor_id,
            customer_ids=visitor.customer_ids,
            third_party_id=self._third_party_id(visitor),
        )
        url = self.url_for(visitor)
        answer_body = await self._post(url, body, deadline)
        try:
            answer = read_answer(answer_body if answer_body is not None else {"handle": []})
        except ValueError as exc:
            raise ResponseParseError(f"the Edge Network's answer does not fit: {exc}") from None
        for reason in answer.skipped:
            logger.debug("Edge Network answer: skipped %s", reason)
        response = parse_response(answer.delivery)
        display = None
        if self.display_events and request.deferred_display:
            display = partial(self._display_later, asyncio.get_running_loop(), answer, body, url)
        elif self.display_events:
            self._display(answer, body, url, [p for p in answer.propositions if p.displayable])
        return OffersResult(
            response=response,
            visitor=visitor,
            mbox_cookie=None,
            edge_cluster_cookie=None,
            decisioning=DecisioningMethod.SERVER_SIDE,
            request=body,
            state_cookies=tuple(CookieValue(key, value, age) for key, value, age in answer.state),
            edge=EdgeExchange(answer, answer_body or {"handle": []}, display),
        )

    # -- display events --------------------------------------------------------------------------

    def _display(self, answer: EdgeAnswer, fetch: dict[str, Any], url: str, shown: Sequence[Proposition]) -> None:
        if not shown:
            return
        if len(self._background) >= MAX_PENDING_DISPLAYS:
            self.dropped_displays += 1
            logger.warning("Edge Network display events: %d in flight, one dropped", len(self._background))
            return
        event = display_event(shown, fetch, answer)
        task = asyncio.get_running_loop().create_task(self._send_display(url, event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _display_later(
        self,
        loop: asyncio.AbstractEventLoop,
        answer: EdgeAnswer,
        fetch: dict[str, Any],
        url: str,
        shown: Sequence[Proposition],
    ) -> None:
        """The deferred display event, from any thread: sent on the loop the client's connections live on."""
        try:
            loop.call_soon_threadsafe(self._display, answer, fetch, url, tuple(shown))
        except RuntimeError:
            logger.warning("Edge Network display event dropped: the client's event loop is closed")

    async def _send_display(self, url: str, event: dict[str, Any]) -> None:
        try:
            await self._post(url, event, self.timeout)
        except Exception as exc:
            logger.warning("Edge Network display event failed (%s)", type(exc).__name__)

    # -- clicks and conversions ------------------------------------------------------------------

    async def _send_events(self, batch: Sequence[Pending]) -> None:
        """One visitor's queued clicks and conversions, one ``interact`` call each (a failure fails the batch)."""
        for entry in batch:
            url = self.url_for(entry.visitor)
            for note in entry.notifications:
                body = experience_event(
                    note,
                    visitor=entry.visitor,
                    page=entry.page,
                    global_mbox=self.global_mbox,
                    third_party_id_namespace=self.third_party_id_namespace,
                )
                if body is None:
                    logger.debug("Edge Network: a %s notification with nothing to send", note.get("type"))
                    continue
                await self._post(url, body, self.timeout)

    async def aclose(self) -> None:
        """Send the queued clicks and conversions, wait for display events in flight (within the timeout), then
        close the connections."""
        await self.notifications.aclose()
        if self._background:
            await wait_on_their_loops(set(self._background), self.timeout)
        await self._pools.aclose(httpx.AsyncClient.aclose)

    async def __aenter__(self) -> EdgeNetworkClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def display_event(propositions: Sequence[Proposition], fetch: dict[str, Any], answer: EdgeAnswer) -> dict[str, Any]:
    """A ``decisioning.propositionDisplay`` event for ``propositions``: the fetch's page, and the visitor as the
    answer left it (a first visit's new identity and state, so the display counts for the same visitor)."""
    xdm = fetch["event"]["xdm"]
    now = time.time()
    whole = int(now)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((now - whole) * 1000):03d}Z"
    display: dict[str, Any] = {
        "eventType": "decisioning.propositionDisplay",
        "timestamp": stamp,
        "web": xdm["web"],
        "_experience": {
            "decisioning": {
                "propositions": [
                    {"id": p.id, "scope": p.scope, "scopeDetails": dict(p.scope_details)} for p in propositions
                ],
                "propositionEventType": {"display": 1},
            }
        },
    }
    identities = dict(xdm.get("identityMap") or {})
    if answer.ecid:  # a first visit's new ECID; the customer ids as the fetch sent them
        identities.update(identity_map(answer.ecid))
    if identities:
        display["identityMap"] = identities
    state = fetch["meta"]["state"]
    entries = {e["key"]: e["value"] for e in state["entries"]}
    entries.update({key: value for key, value, _age in answer.state})
    meta = {"state": {**state, "entries": [{"key": k, "value": v} for k, v in entries.items()]}}
    return {"event": {"xdm": display}, "meta": meta}
