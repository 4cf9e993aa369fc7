"""DecisioningEngine: a Delivery API request in, the response Target's edge would give out, in-process.

The procedure is Adobe's (NOTES.md §4): rules filtered by property token; the first matching rule wins for a
regional mbox (a blank ``{name, index}`` when none does); every matching rule, once per rule key, for the
global mbox (``pageLoad``); rules merged per view name; then execute or prefetch post-processing, response
tokens, campaign macros and, when asked for, a trace. Execute decisions owe Target display notifications: they
come back in :class:`OnDeviceDecision`, for the caller to send (batched, in the background) or hand to a callback.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..delivery.context import PageContext
from .artifact import Artifact
from .context import JSON_OBJECT, geo_context, warm_up
from .pageload import PageLoadDecision, PageLoadPath, PageViewAnswer
from .procedure import DecisionRun, new_id
from .source import ArtifactSource, source_of
from .trace import profile_trace

__all__ = [
    "DecisioningEngine",
    "DecisioningNotReady",
    "GeoLookup",
    "OnDeviceDecision",
    "engine_for_artifact",
    "notification_request",
]

logger = logging.getLogger(__name__)

GeoLookup = Callable[[str], Mapping[str, Any] | None]
"""Maps an IP address to geo values: Target's ``/v1/geo`` body (``x-geo-*`` keys) or a Delivery ``geo``."""

_GEO_HEADERS = (
    ("x-geo-country-code", "countryCode"),
    ("x-geo-region-code", "stateCode"),
    ("x-geo-city", "city"),
    ("x-geo-latitude", "latitude"),
    ("x-geo-longitude", "longitude"),
)


def _ip_address(value: Any) -> str | None:
    """An IPv4 or IPv6 address worth looking up (as Adobe's SDKs check it), else None (``"testclient"``)."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class DecisioningNotReady(RuntimeError):
    """No artifact has loaded yet, so nothing can be decided on-device."""


@dataclass(frozen=True, slots=True)
class OnDeviceDecision:
    response: dict[str, Any]
    notifications: tuple[dict[str, Any], ...]
    remote_mboxes: tuple[str, ...]
    remote_views: tuple[str, ...] = ()
    telemetry: tuple[dict[str, Any], ...] = ()


def notification_request(request: Mapping[str, Any], decision: OnDeviceDecision) -> dict[str, Any] | None:
    """The Delivery API request that reports a decision's notifications and telemetry, or None."""
    if not decision.notifications and not decision.telemetry:
        return None
    body: dict[str, Any] = {"id": request.get("id"), "context": request.get("context")}
    if request.get("experienceCloud") is not None:
        body["experienceCloud"] = request["experienceCloud"]
    if decision.notifications:
        body["notifications"] = list(decision.notifications)
    if decision.telemetry:
        body["telemetry"] = {"entries": list(decision.telemetry)}
    return body


class DecisioningEngine:
    def __init__(
        self,
        artifact: Artifact | ArtifactSource,
        *,
        client_code: str,
        telemetry_enabled: bool = True,
        geo_lookup: GeoLookup | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_code:
            raise ValueError("client_code is required")
        self._source = artifact
        self.client_code = client_code
        self.telemetry_enabled = telemetry_enabled
        self._geo_lookup = geo_lookup
        self._clock = clock
        self._page_load = PageLoadPath(client_code)
        warm_up()

    async def start(self) -> None:
        """Start fetching the artifact when it comes from a URL (the first download, then polling)."""
        if isinstance(self._source, ArtifactSource):
            await self._source.start()

    async def aclose(self) -> None:
        if isinstance(self._source, ArtifactSource):
            await self._source.aclose()

    @property
    def clock(self) -> Callable[[], float]:
        """The engine's time (seconds since the epoch), which decisions are stamped and scheduled by."""
        return self._clock

    @property
    def source(self) -> Artifact | ArtifactSource:
        """What the engine decides from: a fixed artifact, or a source that may refresh it."""
        return self._source

    @property
    def artifact(self) -> Artifact:
        current = self._source if isinstance(self._source, Artifact) else self._source.artifact
        if current is None:
            raise DecisioningNotReady("the decisioning artifact has not loaded yet")
        return current

    def _artifact_trace(self, artifact: Artifact) -> dict[str, Any]:
        if isinstance(self._source, ArtifactSource):
            return self._source.trace_info()
        return {
            "artifactLocation": "NOT APPLICABLE",
            "pollingInterval": 0,
            "pollingHalted": True,
            "artifactVersion": artifact.version,
            "artifactRetrievalCount": 1,
            **artifact.meta,
        }

    def remote_names(self, request: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Mboxes and views of the request that only the edge can decide (hybrid mode sends exactly those).

        A ``pageLoad`` asks for the global mbox: when the artifact lists it as remote, or not as local, the
        global mbox is remote too (and hybrid mode sends the ``pageLoad`` to the edge), as in Adobe's Node SDK.
        """
        artifact = self.artifact
        mboxes: set[str] = set()
        views: set[str] = set()
        views_without_names = False
        for mode in ("execute", "prefetch"):
            part = request.get(mode)
            if not isinstance(part, JSON_OBJECT):
                continue
            names = [item.get("name") if isinstance(item, JSON_OBJECT) else None for item in part.get("mboxes") or ()]
            if isinstance(part.get("pageLoad"), JSON_OBJECT):
                names.append(artifact.global_mbox)
            for name in names:
                if name and (name in artifact.remote_mboxes or name not in artifact.local_mboxes):
                    mboxes.add(name)
            for item in part.get("views") or ():
                name = item.get("name") if isinstance(item, JSON_OBJECT) else None
                if not name:
                    views_without_names = True
                elif name in artifact.remote_views or name not in artifact.local_views:
                    views.add(name)
        if views_without_names and not views:
            views = set(artifact.remote_views)
        return tuple(sorted(mboxes)), tuple(sorted(views))

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> OnDeviceDecision:
        """Decide a Delivery API request (a dict) on-device. Raises DecisioningNotReady before an artifact."""
        if not isinstance(request, JSON_OBJECT):
            raise TypeError("the request must be a Delivery API request object (a dict)")
        started = time.perf_counter_ns()
        artifact = self.artifact
        remote_mboxes, remote_views = self.remote_names(request)
        request_id = request.get("requestId") or new_id()
        context = request.get("context")
        visitor = request.get("id")
        trace_base = None
        if request.get("trace") is not None:
            trace_base = {
                "clientCode": self.client_code,
                "sessionId": session_id,
                "artifact": self._artifact_trace(artifact),
                "profile": profile_trace(visitor if isinstance(visitor, JSON_OBJECT) else None),
            }
        run = DecisionRun(
            client_code=self.client_code,
            artifact=artifact,
            request=request,
            now_ms=int(self._clock() * 1000),
            geo=self._geo(artifact, context if isinstance(context, JSON_OBJECT) else {}),
            trace_base=trace_base,
        )
        response: dict[str, Any] = {
            "status": 206 if remote_mboxes or remote_views else 200,
            "requestId": request_id,
            "id": dict(visitor) if isinstance(visitor, JSON_OBJECT) else {},
            "client": self.client_code,
        }
        for mode in ("execute", "prefetch"):
            part = request.get(mode)
            if isinstance(part, JSON_OBJECT):
                response[mode] = run.mode(mode, part)
        telemetry: tuple[dict[str, Any], ...] = ()
        if self.telemetry_enabled:
            telemetry = (
                {
                    "requestId": request_id,
                    "timestamp": run.now_ms,
                    "mode": "local",
                    "execution": (time.perf_counter_ns() - started) // 1000 / 1000,  # ms, to the microsecond
                    "features": {"decisioningMethod": "on-device"},
                },
            )
        return OnDeviceDecision(response, tuple(run.notifications), remote_mboxes, remote_views, telemetry)

    def decide_page_load(self, request: Mapping[str, Any], *, shared: bool = False) -> PageLoadDecision | None:
        """:meth:`decide` for the request most pages make, typed: the global mbox alone, executed (``pageLoad``).

        The answer ``decide`` would give, already parsed as ``parse_response`` parses it, with the same
        notifications and telemetry, from parts worked out once per set of matched rules (see ``pageload``).
        None when the request or the artifact is not of that kind (or not loaded), or for a subclass (whose
        ``decide`` may differ): ask ``decide``. ``request`` is a Delivery request as ``build_request`` makes it.
        ``shared``: the answer's pageLoad is the one every request that matched the same rules gets (a
        ``SharedPageLoad``), not a copy: for a caller that only reads it.
        """
        started = time.perf_counter_ns()
        artifact = self._page_load_artifact()
        if artifact is None:
            return None
        now_ms = int(self._clock() * 1000)
        return self._page_load.decide(
            request, artifact, now_ms, started, with_telemetry=self.telemetry_enabled, shared=shared
        )

    def decide_page_view(
        self,
        page: PageContext,
        ids: dict[str, Any] | None,
        property_token: str | None,
        request_id: str,
        *,
        shared: bool = False,
        later: bool = False,
    ) -> PageViewAnswer | None:
        """:meth:`decide_page_load` of the request ``params.page_load_request`` makes for a page view, given typed
        rather than built and read back: ``page`` (whose context is sent without its IP address), the request's
        ``id`` (``params.page_load_ids``: the answer keeps it, not a copy), its property token and its
        ``requestId``. The same answer, notifications and telemetry, as a ``(response, notifications, telemetry)``
        tuple (tests/decisioning/test_pageview.py proves them equal); None where ``decide_page_load`` would say
        None, and for a page whose fields are not of a page view's types (``decide_page_load`` of its request then
        answers it). ``later``: one display notification is owed rather than made (see ``pageload.PageViewAnswer``),
        for a queue that makes it when it sends it."""
        started = time.perf_counter_ns()
        artifact = self._page_load_artifact()
        if artifact is None:
            return None
        now_ms = int(self._clock() * 1000)
        return self._page_load.decide_view(
            page, ids, property_token, request_id, artifact, now_ms, started, self.telemetry_enabled, shared, later
        )

    def _page_load_artifact(self) -> Artifact | None:
        """The artifact the page-load fast paths decide on; None when none is loaded yet, or for a subclass (whose
        ``decide`` may differ): then the caller asks ``decide``."""
        if type(self) is not DecisioningEngine:
            return None
        return self._source if isinstance(self._source, Artifact) else self._source.artifact

    def _geo(self, artifact: Artifact, request_context: Mapping[str, Any]) -> dict[str, Any]:
        geo = request_context.get("geo")
        geo = dict(geo) if isinstance(geo, JSON_OBJECT) else {}
        known = geo_context(geo)
        # Like Target's SDKs: look an IP address up only when it is the request's only geo value.
        lookup = self._geo_lookup
        address = _ip_address(geo.get("ipAddress"))
        if known or address is None or not artifact.geo_targeting_enabled or lookup is None:
            return known
        try:
            found = lookup(address) or {}
        except Exception:
            logger.warning("geo lookup failed; deciding without geo", exc_info=True)
            found = {}
        for header, key in _GEO_HEADERS:
            value = found.get(header, found.get(key))
            if value not in (None, ""):
                geo[key] = value
        return geo_context(geo)


def engine_for_artifact(artifact: Any, *, client_code: str) -> DecisioningEngine:
    """The engine for ``artifact`` (a rules.json URL, polled; a file path; a payload; an Artifact or source).

    The ``DeciderFactory`` that ``TargetClient(artifact=...)`` uses.
    """
    return DecisioningEngine(source_of(artifact), client_code=client_code)


Decision = OnDeviceDecision  # its name until 0.1: kept for one release
