"""TargetClient: Adobe Target's Delivery API over httpx (a connection pool per event loop), or a local decider."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import httpx

from ..identity import visitor_ids
from ..visitor import Visitor
from . import transport
from .atjs import run_get_offer
from .checks import check_client_options
from .context import PageContext, server_time_offset_minutes
from .decider import (
    DeciderFactory,
    DecisioningMethod,
    LocalDecider,
    LocalDecision,
    ManagedDecider,
    PageLoadDecider,
    artifact_decider_factory,
    merge_responses,
    remote_part,
)
from .deferred import Deferred
from .errors import LocalDecisionError
from .loops import PerLoop, run_on
from .mapping import offers_request_from_mapping, one_of
from .models import DeliveryResponse, parse_response
from .notifications import (
    NotificationOutcome,
    NotificationQueue,
    Pending,
    event_notification,
    send_batch,
    with_third_party_id,
)
from .offers import (
    OffersRequest,
    OffersResult,
    executes_page_load_only,
    offers_result,
    page_view_request,
    visitor_after_local,
)
from .params import (
    GLOBAL_MBOX,
    Mbox,
    build_request,
    experience_cloud,
    new_request_id,
    page_load_ids,
    page_load_request,
)

__all__ = ["NotificationsCallback", "TargetClient"]

logger = logging.getLogger(__name__)

# Read on every call: an Enum member read from its class costs many times a global's read.
_SERVER_SIDE, _ON_DEVICE, _HYBRID = DecisioningMethod.SERVER_SIDE, DecisioningMethod.ON_DEVICE, DecisioningMethod.HYBRID

NotificationsCallback = Callable[[Sequence[Mapping[str, Any]]], Awaitable[None] | None]


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class TargetClient:
    """Target's Delivery API, asyncio-native. Create one per app and share it, from any event loop (the
    middleware's I/O thread and the app's handlers alike: each loop gets its own connection pool);
    ``aclose()`` (or ``async with``) when done. Nothing about one visitor is stored here: the visitor
    travels with each call.

    ``timeout`` is in seconds and bounds each call in total. ``decisioning`` picks where decisions are made:
    ``server-side`` (the edge), ``on-device`` (``decider``, in process) or ``hybrid`` (``decider``, and the
    edge for the mboxes it names as remote). ``artifact`` (a rules.json URL, polled; a file path; a payload)
    makes the decider Target's on-device engine (or what ``decider_factory`` builds from it). Notifications (the
    displays a local decision owes, clicks, ``track_event`` conversions) go through one bounded queue,
    ``notifications``, sent in the background in batches (at most ``max_pending_notifications`` waiting), or
    handed to ``on_notifications`` when it is given (e.g. with no Target account at hand). ``aclose()`` sends
    what is still queued.
    """

    def __init__(
        self,
        client_code: str,
        organization_id: str,
        *,
        server_domain: str | None = None,
        secure: bool = True,
        timeout: float = 3.0,
        property_token: str | None = None,
        environment_id: int | None = None,
        http_client: httpx.AsyncClient | None = None,
        global_mbox: str = GLOBAL_MBOX,
        send_ip_address: bool = False,
        max_connections: int = 100,
        decisioning: DecisioningMethod | str = DecisioningMethod.SERVER_SIDE,
        decider: LocalDecider | None = None,
        artifact: Any = None,
        on_notifications: NotificationsCallback | None = None,
        max_pending_notifications: int = 10_000,
        decider_factory: DeciderFactory | None = None,
    ) -> None:
        decisioning = check_client_options(
            client_code=client_code,
            organization_id=organization_id,
            server_domain=server_domain,
            secure=secure,
            timeout=timeout,
            property_token=property_token,
            environment_id=environment_id,
            http_client=http_client,
            global_mbox=global_mbox,
            send_ip_address=send_ip_address,
            max_connections=max_connections,
            decisioning=decisioning,
            decider=decider,
            on_notifications=on_notifications,
            max_pending_notifications=max_pending_notifications,
        )
        self.client_code = client_code
        self.organization_id = organization_id
        self.decisioning = DecisioningMethod(decisioning)
        self._managed: ManagedDecider | None = None  # a decider built here from `artifact`: started and closed here
        self._managed_task: asyncio.Task[None] | None = None
        self._managed_loop: asyncio.AbstractEventLoop | None = None  # where it started, where it is closed
        if artifact is not None:
            if decider is not None:
                raise ValueError("give a decider or an artifact, not both")
            decider = self._decider_for(artifact, client_code, decider_factory or artifact_decider_factory())
        if self.decisioning is not DecisioningMethod.SERVER_SIDE and decider is None:
            raise ValueError(f"decisioning={self.decisioning.value!r} needs a decider")
        self.timeout = float(timeout)
        self.global_mbox = global_mbox
        self._server_domain = server_domain
        self._scheme = "https" if secure else "http"
        self._property_token = property_token
        self._environment_id = environment_id
        self._send_ip = send_ip_address
        self._max_connections = max_connections
        self._http = http_client  # the caller's, used as it is on every loop
        self._pools = PerLoop(self._new_pool)
        self._decider = decider
        # Target's engine answers most pages' request (the global mbox alone) by a fast path: on-device only
        self._page_load: PageLoadDecider | None = None
        if self.decisioning is DecisioningMethod.ON_DEVICE and isinstance(decider, PageLoadDecider):
            self._page_load = decider
        # Target's engine's typed form of it: no request dict built and read back (see _decide_page_view).
        self._page_view: Callable[..., tuple[DeliveryResponse, Any, Any] | None] | None = (
            getattr(decider, "decide_page_view", None) if self._page_load is not None else None
        )
        # Whether it can answer a read-only request with the shared answer itself (see delivery.shared).
        self._shares = (
            self._page_load is not None and "shared" in inspect.signature(decider.decide_page_load).parameters
        )
        self._on_notifications = on_notifications
        self.notifications = NotificationQueue(self._send_batch, max_pending=max_pending_notifications)
        self._query = f"?imsOrgId={quote(organization_id, safe='')}&sessionId="

    # -- plumbing ----------------------------------------------------------------------------------

    def _decider_for(self, artifact: Any, client_code: str, factory: DeciderFactory) -> LocalDecider:
        """The decider for ``artifact`` (by default Target's on-device engine: a URL, polled; a path; a payload)."""
        try:
            decider = factory(artifact, client_code=client_code)
        except Exception as exc:  # a config error: say so at startup, not on every page
            raise ValueError(f"cannot load the decisioning artifact: {exc}") from exc
        if isinstance(decider, ManagedDecider):
            self._managed = decider  # started at the first local decision, closed by aclose()
        return decider

    def _new_pool(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=self._max_connections)
        return httpx.AsyncClient(limits=limits, follow_redirects=False, timeout=self.timeout)

    def _client(self) -> httpx.AsyncClient:
        return self._http if self._http is not None else self._pools.get()

    def url_for(self, visitor: Visitor) -> str:
        """The Delivery API URL: ``server_domain``, else the visitor's edge cluster, else the client host."""
        host = self._server_domain or visitor.edge_host or f"{self.client_code}.tt.omtrdc.net"
        return f"{self._scheme}://{host}/rest/v1/delivery{self._query}{quote(visitor.session_id, safe='')}"

    async def _post(self, body: Mapping[str, Any], visitor: Visitor, deadline: float) -> Any:
        payload = transport.encode(body)
        return await transport.post_json(self._client(), self.url_for(visitor), payload, deadline=deadline)

    @property
    def send_ip_address(self) -> bool:
        """Whether the visitor's IP goes to Target (for geo targeting)."""
        return self._send_ip

    async def aclose(self) -> None:
        if self._managed_task is not None and not self._managed_task.done():
            # a start not run yet would begin polling after the close
            await run_on(self._managed_loop, _cancelled(self._managed_task))
        if self._managed is not None:
            await run_on(self._managed_loop, self._managed.aclose())
        await self.notifications.aclose()
        await self._pools.aclose(httpx.AsyncClient.aclose)

    async def __aenter__(self) -> TargetClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- deciding ----------------------------------------------------------------------------------

    async def get_offers(
        self,
        request: OffersRequest | Sequence[Mbox | str] | Mapping[str, Any],
        *,
        visitor: Visitor | None = None,
        page: PageContext | None = None,
        timeout: float | None = None,
    ) -> OffersResult:
        """One decision for every mbox of a page view. Raises a ``DeliveryError`` (see ``errors``).

        ``request`` is an ``OffersRequest``, a list of mbox names or ``Mbox`` values, or a Delivery API request
        mapping as Adobe's SDKs take it (see ``mapping``); a bad one is a ValueError or TypeError.
        """
        if type(request) is OffersRequest:  # the middleware's: no ABC check
            pass
        elif isinstance(request, Mapping):
            request, named, context = offers_request_from_mapping(request, global_mbox=self.global_mbox)
            visitor, page = one_of(visitor, named, "visitor", "id"), one_of(page, context, "page", "context")
        elif not isinstance(request, OffersRequest):
            request = OffersRequest(mboxes=request)
        visitor = visitor or Visitor.new()
        decisioning = self.decisioning
        if decisioning is _ON_DEVICE and not (visitor.tnt_id or visitor.third_party_id):
            # Target's edge gives a first-time visitor a tntId, an ECID or not; deciding on-device only, we do. It
            # goes back in the mbox cookie, and allocation hashes it (or the ECID, which comes first): the visitor
            # keeps its experience, in every worker, and its clicks stay its own for two years, not a session. Not
            # beside a thirdPartyId alone, which would stop allocating. (Hybrid leaves it to the edge, whose id
            # carries the visitor's edge cluster.)
            visitor = dataclasses.replace(visitor, tnt_id=uuid.uuid4().hex)
        page = page or request.page
        deadline = self.timeout if timeout is None else timeout
        analytics = request.analytics.to_json() if request.analytics is not None else None
        page_load_only = self._page_load is not None and executes_page_load_only(request, self.global_mbox)
        if page_load_only and not request.mboxes[0].params:  # type: ignore[union-attr]  # an Mbox: checked
            request_id = new_request_id()
            if self._page_view is not None and not (self._send_ip and page.ip_address):  # no geo: the engine's own
                result = self._decide_page_view(request_id, visitor, page, analytics, request.read_only)
                if result is not None:
                    return result
            # The request most pages make, as build_request builds it, for the engine's fast path (see ``pageload``).
            page_json = page.to_json(send_ip_address=self._send_ip)
            body = page_load_request(
                visitor, page_json, self._property_token, self._environment_id, analytics, request_id=request_id
            )
        else:
            body = build_request(
                execute=cast("tuple[Mbox, ...]", request.mboxes),  # Mbox values: OffersRequest made them so
                prefetch=cast("tuple[Mbox, ...]", request.prefetch),
                prefetch_page_load=request.prefetch_page_load,
                prefetch_views=request.prefetch_views,
                visitor=visitor,
                context=page.to_json(send_ip_address=self._send_ip),
                global_mbox=self.global_mbox,
                property_token=self._property_token,
                environment_id=self._environment_id,
                analytics=analytics,
            )
            if request.qa_mode:
                body["qaMode"] = dict(request.qa_mode)
            if request.trace:
                body["trace"] = dict(request.trace)
        if decisioning is _SERVER_SIDE:
            answer = await self._post(body, visitor, deadline)
        elif page_load_only:
            fast = self._decide_page_load(body, visitor, page, request.read_only)
            if fast is not None:
                return offers_result(fast, visitor_after_local(visitor, fast.tnt_id), decisioning, body)
            answer = await self._decide_locally(body, visitor, page, deadline)
        else:
            answer = await self._decide_locally(body, visitor, page, deadline)
        response = parse_response(answer if answer is not None else {})
        after = visitor.updated(tnt_id=response.tnt_id, edge_host=response.edge_host)
        return offers_result(response, after, decisioning, body)

    def _start_managed(self) -> None:
        if self._managed is not None and self._managed_task is None:
            # A first download runs in the background; until it lands, local decisions fail (and fail open).
            self._managed_loop = asyncio.get_running_loop()  # where it polls, and where it is closed
            self._managed_task = self._managed_loop.create_task(self._managed.start())

    def _decide_page_view(
        self,
        request_id: str,
        visitor: Visitor,
        page: PageContext,
        analytics: Mapping[str, Any] | None,
        read_only: bool,
    ) -> OffersResult | None:
        """Target's engine's typed answer to the request most pages make (``page_load_request``), its notifications
        queued as ``_decide_page_load`` queues them; None: build the request and ask that. The request itself is
        made only if the result's ``request`` is read (``offers.page_view_request``): the same JSON, ``requestId``
        included, and the same ``experienceCloud`` for the notifications."""
        assert self._page_view is not None
        if self._managed_task is None:
            self._start_managed()
        offset = server_time_offset_minutes() if page.time_offset_minutes is None else None  # the context's, now
        ids = page_load_ids(visitor)
        try:
            answer = self._page_view(page, ids, self._property_token, request_id, shared=read_only, later=True)
        except Exception as exc:  # as the general path's decider failing
            raise LocalDecisionError(f"the local decider failed: {exc.__class__.__name__}") from exc
        if answer is None:
            return None
        response, owed, telemetry = answer
        if owed or telemetry:
            cloud = experience_cloud(visitor, analytics) if visitor.marketing_cloud_visitor_id or analytics else None
            if type(telemetry) is not tuple:  # ``later``: one display, made by this function when the queue sends it
                self.notifications.owe(1, (visitor, page, cloud, telemetry, owed))
            else:
                self.notifications.put(Pending.of_decision(visitor, page, owed, telemetry, cloud))
        request = Deferred(
            page_view_request,
            visitor,
            page,
            self._send_ip,
            offset,
            self._property_token,
            self._environment_id,
            analytics,
            request_id,
        )
        return offers_result(response, visitor_after_local(visitor, response.tnt_id), _ON_DEVICE, request)

    def _decide_page_load(
        self, body: dict[str, Any], visitor: Visitor, page: PageContext, read_only: bool = False
    ) -> DeliveryResponse | None:
        """The decider's fast answer, its notifications queued as ``_decide_locally`` queues them; None: ask that."""
        assert self._page_load is not None
        if self._managed_task is None:
            self._start_managed()
        try:
            if read_only and self._shares:
                decision = self._page_load.decide_page_load(body, shared=True)  # type: ignore[call-arg]
            else:
                decision = self._page_load.decide_page_load(body)
        except Exception as exc:  # as the general path's decider failing
            raise LocalDecisionError(f"the local decider failed: {exc.__class__.__name__}") from exc
        if decision is None:
            return None
        if decision.notifications or decision.telemetry:
            owed, telemetry = tuple(decision.notifications), tuple(decision.telemetry)
            self.notifications.put(Pending.of_decision(visitor, page, owed, telemetry, body.get("experienceCloud")))
        return decision.response

    async def _decide_locally(self, body: dict[str, Any], visitor: Visitor, page: PageContext, deadline: float) -> Any:
        assert self._decider is not None
        self._start_managed()
        try:
            decision: LocalDecision = self._decider.decide(body, session_id=visitor.session_id)
            answer, owed, remote = (
                decision.response,
                tuple(decision.notifications),
                list(decision.remote_mboxes),
            )
            # The engine's telemetry (not part of the seam: a decider may have none) rides with the notifications.
            telemetry = tuple(getattr(decision, "telemetry", None) or ())
        except Exception as exc:
            if self.decisioning is _HYBRID:
                logger.warning("local decision failed (%s); asking the edge instead", exc.__class__.__name__)
                return await self._post(body, visitor, deadline)
            raise LocalDecisionError(f"the local decider failed: {exc.__class__.__name__}") from exc
        if owed or telemetry:
            self.notifications.put(Pending.of_decision(visitor, page, owed, telemetry, body.get("experienceCloud")))
        if self.decisioning is _HYBRID and remote:
            remote_body = remote_part(body, set(remote), self.global_mbox)
            if remote_body is not None:
                edge_answer = await self._post(remote_body, visitor, deadline)
                return merge_responses(answer, edge_answer or {})
        return answer

    # -- notifications -----------------------------------------------------------------------------

    async def send_notifications(
        self,
        notifications: Sequence[Mapping[str, Any]],
        *,
        visitor: Visitor | None = None,
        page: PageContext | None = None,
        timeout: float | None = None,
        telemetry: Sequence[Mapping[str, Any]] = (),
        experience_cloud: Mapping[str, Any] | None = None,
    ) -> tuple[str, ...]:
        """Tell Target what was displayed or clicked, now. Returns the acknowledged ids; raises a DeliveryError.

        The visitor's ids are those of a Delivery request (``identity.visitor_ids``); ``experience_cloud`` is the
        page view's ``experienceCloud`` (its A4T supplementalDataId, Audience Manager), when there is one.
        """
        if not notifications and not telemetry:
            raise ValueError("no notifications to send")
        for note in notifications:
            if not isinstance(note, Mapping) or not {"id", "type", "timestamp"} <= note.keys():
                raise ValueError("each notification needs id, type and timestamp")
        visitor = visitor or Visitor.new()
        body: dict[str, Any] = {
            "requestId": uuid.uuid4().hex,
            "context": (page or PageContext()).to_json(send_ip_address=self._send_ip),
        }
        if notifications:
            body["notifications"] = [dict(n) for n in notifications]
        if telemetry:
            body["telemetry"] = {"entries": [dict(t) for t in telemetry]}
        ids = visitor_ids(visitor)
        if ids:
            body["id"] = ids
        if experience_cloud:
            body["experienceCloud"] = dict(experience_cloud)
        if self._property_token:
            body["property"] = {"token": self._property_token}
        answer = await self._post(body, visitor, self.timeout if timeout is None else timeout)
        return parse_response(answer if answer is not None else {}).notification_ids

    async def notify(
        self,
        notifications: Sequence[Mapping[str, Any]],
        *,
        visitor: Visitor,
        page: PageContext | None = None,
        wait: bool = False,
    ) -> NotificationOutcome:
        """Queue notifications for one visitor, sent in the background: ``queued`` (or ``dropped`` when the
        queue is full), or with ``wait=True`` the outcome once sent (``sent``, ``failed``). Never raises for
        Target's failures."""
        done: concurrent.futures.Future[NotificationOutcome] | None = concurrent.futures.Future() if wait else None
        entry = Pending(visitor, page or PageContext(), tuple(notifications), done=done)
        if not self.notifications.put(entry):
            return NotificationOutcome.DROPPED
        return NotificationOutcome.QUEUED if done is None else await asyncio.wrap_future(done)

    async def track_event(
        self,
        mbox: str,
        *,
        visitor: Visitor | None = None,
        page: PageContext | None = None,
        params: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
        order: Mapping[str, Any] | None = None,
        wait: bool = False,
    ) -> NotificationOutcome:
        """at.js ``adobe.target.trackEvent`` on the server: a conversion (or any event) for ``mbox``.

        ``params`` and ``profile`` are at.js params; ``order`` is ``{orderId, orderTotal, productPurchasedId}``.
        Sent in the background like :meth:`notify`. Bad params are a ValueError; Target's failures never raise.
        """
        page = page or PageContext()
        note = event_notification(mbox, params=params, profile=profile, order=order, url=page.url)
        visitor = with_third_party_id(visitor or Visitor.new(), params)
        return await self.notify([note], visitor=visitor, page=page, wait=wait)

    def _send_batch(self, batch: Sequence[Pending]) -> Awaitable[None] | None:
        return send_batch(batch, send=self.send_notifications, callback=self._on_notifications)

    # -- at.js -------------------------------------------------------------------------------------

    async def get_offer(self, options: Mapping[str, Any]) -> None:
        """``adobe.target.getOffer`` parity: ``success(actions)`` or ``error(status, error)``."""
        await run_get_offer(self, options)
