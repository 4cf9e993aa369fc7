"""Analytics for Target (A4T): the settings, a page view's supplementalDataId, and the client-side payloads.

``server_side`` logging: every Delivery request of a page view carries ``experienceCloud.analytics`` with one fresh
supplementalDataId (SDID) and the tracking servers; Target forwards its part to Analytics, which stitches it to the
page's own Analytics hit carrying the same SDID. ``client_side``: Target answers each mbox (and click metric) of an
Analytics-reported activity with ``analytics.payload`` (``pe``, ``tnta``) for the site to send to Analytics itself.

Nothing here depends on a page's experience being shared: the SDID is per page view, so it is made before the
decision and spliced into the page after the rewrite (:func:`splice_before_body_end`), never inside the actions.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .pagebytes import script_json

__all__ = [
    "AnalyticsLogging",
    "AnalyticsPayload",
    "AnalyticsSettings",
    "PageViewAnalytics",
    "analytics_payloads",
    "data_island",
    "is_supplemental_data_id",
    "new_supplemental_data_id",
    "supplemental_data_id_of",
]

# The Visitor API's SDID: two 16-digit upper-case hex halves, each a positive signed 64-bit number (first digit
# 0-7), joined by '-': 33 characters, as DeliveryRequest.experienceCloud.analytics.supplementalDataId requires.
_SDID = re.compile(r"[0-7][0-9A-F]{15}-[0-7][0-9A-F]{15}")
_HOST = re.compile(r"(?=.{1,253}(?::\d{1,5})?$)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")
_ELEMENT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_:.-]{0,63}")
_MAX_PAYLOAD = 4096
# JSON inside <script> must not be able to end the element or open a comment: escape what could.


class AnalyticsLogging(StrEnum):
    SERVER_SIDE = "server_side"
    CLIENT_SIDE = "client_side"


def new_supplemental_data_id() -> str:
    """A fresh SDID in the Visitor API's format, e.g. ``5C81D4F5A3B12E07-1E62B4F0C9D83A55``."""
    return f"{secrets.randbits(63):016X}-{secrets.randbits(63):016X}"


def is_supplemental_data_id(value: object) -> bool:
    return isinstance(value, str) and _SDID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class PageViewAnalytics:
    """``experienceCloud.analytics`` of one page view's Delivery requests (and of the notifications they owe)."""

    logging: AnalyticsLogging
    supplemental_data_id: str | None = None
    tracking_server: str | None = None
    tracking_server_secure: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "logging", AnalyticsLogging(self.logging))
        if self.supplemental_data_id is not None and not is_supplemental_data_id(self.supplemental_data_id):
            raise ValueError("supplemental_data_id must be two 16-digit upper-case hex halves joined by '-'")

    def to_json(self) -> dict[str, str]:
        body = {"logging": self.logging.value}
        if self.supplemental_data_id:
            body["supplementalDataId"] = self.supplemental_data_id
        if self.tracking_server:
            body["trackingServer"] = self.tracking_server
        if self.tracking_server_secure:
            body["trackingServerSecure"] = self.tracking_server_secure
        return body


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    """A4T for the middleware: ``logging`` (``server_side`` or ``client_side``), the Analytics tracking servers
    (host names, as AppMeasurement's ``s.trackingServer``), and ``data_island_id``: when set, each personalized
    page gets ``<script type="application/json" id="...">`` with the SDID (server_side) or the payloads
    (client_side) before ``</body>``, for the page's own analytics code."""

    logging: AnalyticsLogging | str = AnalyticsLogging.SERVER_SIDE
    tracking_server: str | None = None
    tracking_server_secure: str | None = None
    data_island_id: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "logging", AnalyticsLogging(self.logging))
        except ValueError:
            raise ValueError("analytics logging must be 'server_side' or 'client_side'") from None
        for name in ("tracking_server", "tracking_server_secure"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _HOST.fullmatch(value)):
                raise ValueError(f"{name} must be a host name without a scheme, like 'metrics.example.com'")
        if self.data_island_id is not None and (
            not isinstance(self.data_island_id, str) or not _ELEMENT_ID.fullmatch(self.data_island_id)
        ):
            raise ValueError("data_island_id must be an HTML id: a letter, then up to 63 letters, digits, '_-:.'")

    def island(
        self, request: Mapping[str, Any], response: Mapping[str, Any], *, nonce: str | None = None
    ) -> bytes | None:
        """The data island for the page of this Delivery request and response, or None when none is asked for."""
        if self.data_island_id is None:
            return None
        experience_cloud = request.get("experienceCloud")
        sent = experience_cloud.get("analytics") if isinstance(experience_cloud, Mapping) else None
        if not isinstance(sent, Mapping):
            return None
        page_view = PageViewAnalytics(
            AnalyticsLogging(self.logging),
            supplemental_data_id=supplemental_data_id_of(request),
            tracking_server=self.tracking_server,
            tracking_server_secure=self.tracking_server_secure,
        )
        return data_island(self.data_island_id, page_view, analytics_payloads(response), nonce=nonce)

    def for_page_view(self) -> PageViewAnalytics:
        """This page view's ``experienceCloud.analytics``: a fresh SDID for server-side logging."""
        server_side = self.logging is AnalyticsLogging.SERVER_SIDE
        return PageViewAnalytics(
            AnalyticsLogging(self.logging),
            supplemental_data_id=new_supplemental_data_id() if server_side else None,
            tracking_server=self.tracking_server,
            tracking_server_secure=self.tracking_server_secure,
        )


@dataclass(frozen=True, slots=True)
class AnalyticsPayload:
    """One ``analytics.payload`` of an answer: send it to Analytics when the content is shown (``metric`` None)
    or when the click metric's ``selector`` is clicked (``metric == "click"``)."""

    pe: str
    tnta: str
    mbox: str | None = None  # None: the page load (global mbox) or a view
    view: str | None = None
    metric: str | None = None
    selector: str | None = None

    def to_json(self) -> dict[str, str]:
        body = {"pe": self.pe, "tnta": self.tnta}
        for key, value in (
            ("mbox", self.mbox),
            ("view", self.view),
            ("metric", self.metric),
            ("selector", self.selector),
        ):
            if value:
                body[key] = value
        return body


def _payload(holder: object, **where: str | None) -> AnalyticsPayload | None:
    analytics = holder.get("analytics") if isinstance(holder, Mapping) else None
    payload = analytics.get("payload") if isinstance(analytics, Mapping) else None
    if not isinstance(payload, Mapping):
        return None
    pe, tnta = payload.get("pe"), payload.get("tnta")
    if not isinstance(pe, str) or not isinstance(tnta, str) or not pe or not tnta:
        return None
    if len(pe) > 64 or len(tnta) > _MAX_PAYLOAD:
        return None
    return AnalyticsPayload(pe, tnta, **where)


def _holders(raw: Mapping[str, Any]) -> Iterator[tuple[object, dict[str, str | None]]]:
    for section_name in ("execute", "prefetch"):
        section = raw.get(section_name)
        if not isinstance(section, Mapping):
            continue
        page_load = section.get("pageLoad")
        if isinstance(page_load, Mapping):
            yield page_load, {}
        for key, what in (("mboxes", "mbox"), ("views", "view")):
            items = section.get(key)
            for item in items if isinstance(items, list) else ():
                if isinstance(item, Mapping):
                    name = item.get("name")
                    yield item, {what: name if isinstance(name, str) else None}
        metrics = section.get("metrics")
        if isinstance(metrics, list):
            yield {"metrics": metrics}, {}


def analytics_payloads(raw: Mapping[str, Any]) -> tuple[AnalyticsPayload, ...]:
    """Every ``analytics.payload`` of a Delivery response: of each page load, mbox and view, then of its metrics."""
    found: list[AnalyticsPayload] = []
    for holder, where in _holders(raw):
        payload = _payload(holder, **where)
        if payload is not None:
            found.append(payload)
        metrics = holder.get("metrics") if isinstance(holder, Mapping) else None
        for metric in metrics if isinstance(metrics, list) else ():
            if isinstance(metric, Mapping):
                kind, selector = metric.get("type"), metric.get("selector")
                payload = _payload(
                    metric,
                    **where,
                    metric=kind if isinstance(kind, str) else None,
                    selector=selector if isinstance(selector, str) else None,
                )
                if payload is not None:
                    found.append(payload)
    return tuple(found)


def supplemental_data_id_of(request: Mapping[str, Any]) -> str | None:
    """The SDID a Delivery request carried, or None."""
    experience_cloud = request.get("experienceCloud")
    analytics = experience_cloud.get("analytics") if isinstance(experience_cloud, Mapping) else None
    sdid = analytics.get("supplementalDataId") if isinstance(analytics, Mapping) else None
    return sdid if isinstance(sdid, str) else None


def data_island(
    element_id: str,
    analytics: PageViewAnalytics,
    payloads: Sequence[AnalyticsPayload] = (),
    *,
    nonce: str | None = None,
) -> bytes:
    """``<script type="application/json" id=...>`` holding this page view's A4T data, ASCII, safe in any HTML."""
    data: dict[str, Any] = analytics.to_json()
    if analytics.logging is AnalyticsLogging.CLIENT_SIDE:
        data["payloads"] = [p.to_json() for p in payloads]
    text = script_json(data)
    nonce_attribute = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
    return f'<script type="application/json" id="{element_id}"{nonce_attribute}>{text}</script>'.encode("ascii")
