"""What ``TargetClient.get_offers`` takes and gives back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..analytics import PageViewAnalytics
from ..frozen import builder
from ..visitor import CookieValue, Visitor
from .context import PageContext
from .decider import DecisioningMethod
from .deferred import Deferred, deferrable
from .models import DeliveryResponse, MboxResult, PageLoadResult
from .params import Mbox, page_load_request

if TYPE_CHECKING:
    from ..edgenetwork.handoff import EdgeExchange

__all__ = ["OffersClient", "OffersRequest", "OffersResult", "executes_page_load_only", "offers_result"]


def as_mboxes(items: Sequence[Mbox | str]) -> tuple[Mbox, ...]:
    if isinstance(items, str):
        raise ValueError("mboxes must be a sequence of names or Mbox values, not one string")
    result = []
    for item in items:
        if isinstance(item, str):
            result.append(Mbox(item))
        elif isinstance(item, Mbox):
            result.append(item)
        else:
            raise ValueError(f"expected an mbox name or an Mbox, got {type(item).__name__}")
    return tuple(result)


@dataclass(frozen=True, slots=True)
class OffersRequest:
    """One page view's decisions: executed mboxes (the global mbox among them becomes ``pageLoad``),
    prefetched mboxes, and the page context."""

    mboxes: Sequence[Mbox | str] = ()
    prefetch: Sequence[Mbox | str] = ()
    prefetch_page_load: bool = False
    prefetch_views: bool = False  # prefetch.views: every view of the page's activities, for at.js's triggerView
    qa_mode: Mapping[str, Any] | None = None  # DeliveryRequest.qaMode: QA links, only when the app allows them
    trace: Mapping[str, Any] | None = None  # DeliveryRequest.trace: {"authorizationToken": ...}
    page: PageContext = field(default_factory=PageContext)
    analytics: PageViewAnalytics | None = None  # experienceCloud.analytics (A4T): AnalyticsSettings.for_page_view()
    # Edge Network: the display event waits for the page (the Web SDK hand-off counts what alloy renders)
    deferred_display: bool = False
    # The caller only reads the result (the middleware does): an on-device answer's pageLoad JSON and models may be
    # the ones other results hold (``delivery.shared``), not a copy of its own. Never change such a result's parts.
    read_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "mboxes", as_mboxes(self.mboxes))
        object.__setattr__(self, "prefetch", as_mboxes(self.prefetch))
        if not (self.mboxes or self.prefetch or self.prefetch_page_load or self.prefetch_views):
            raise ValueError("nothing to decide: no mbox to execute or prefetch")


@dataclass(frozen=True, slots=True)
class OffersResult:
    """One Delivery API answer, typed, with the visitor's cookies to write back."""

    response: DeliveryResponse
    visitor: Visitor  # after the answer: the tntId and edge cluster it named
    mbox_cookie: CookieValue | None  # None from the Edge Network, which keeps its own state cookies
    edge_cluster_cookie: CookieValue | None
    decisioning: DecisioningMethod
    request: Mapping[str, Any]
    state_cookies: tuple[CookieValue, ...] = ()  # the Edge Network's kndctr_* cookies to write back
    edge: EdgeExchange | None = None  # the Edge Network's answer as it came, for the Web SDK hand-off

    @property
    def mboxes(self) -> tuple[MboxResult, ...]:
        return self.response.execute_mboxes

    @property
    def page_load(self) -> PageLoadResult | None:
        return self.response.execute_page_load

    @property
    def response_tokens(self) -> tuple[Mapping[str, Any], ...]:
        return self.response.response_tokens

    @property
    def raw(self) -> Mapping[str, Any]:
        return self.response.raw

    def mbox(self, name: str) -> MboxResult | None:
        """The first executed (else prefetched) answer for ``name``."""
        for result in (*self.response.execute_mboxes, *self.response.prefetch_mboxes):
            if result.name == name:
                return result
        return None

    @property
    def cookies(self) -> tuple[CookieValue, ...]:
        """The cookies to write back, in order: mbox, mboxEdgeCluster, the Edge Network's state cookies."""
        mbox, cluster, state = self.mbox_cookie, self.edge_cluster_cookie, self.state_cookies
        if cluster is None:  # the usual cases written out (once a request): no list to filter
            return state if mbox is None else (mbox, *state) if state else (mbox,)
        return (cluster, *state) if mbox is None else (mbox, cluster, *state)


# The Delivery request of an on-device answer to the usual page view, which few read, is made when first read (see
# ``deferred`` and ``page_view_request``).
deferrable(OffersResult, "request")


def page_view_request(  # noqa: PLR0917 (a Deferred's arguments: positional)
    visitor: Visitor,
    page: PageContext,
    send_ip_address: bool,
    time_offset: float | None,
    property_token: str | None,
    environment_id: int | None,
    analytics: Mapping[str, Any] | None,
    request_id: str,
) -> dict[str, Any]:
    """The request ``get_offers`` builds for the global mbox alone (``params.page_load_request`` of ``page``'s
    context), made later from what it is made of: ``time_offset`` is the server's UTC offset when the page was
    decided (``server_time_offset_minutes()``), for a page that says none; ``request_id`` the one its answer carries."""
    if page.time_offset_minutes is None:
        page = dataclasses.replace(page, time_offset_minutes=time_offset)
    context = page.to_json(send_ip_address=send_ip_address)
    return page_load_request(visitor, context, property_token, environment_id, analytics, request_id=request_id)


def executes_page_load_only(request: OffersRequest, global_mbox: str) -> bool:
    """Whether ``request`` executes the global mbox alone: no other mbox, prefetch, view, QA mode or trace."""
    mboxes: Sequence[Mbox] = request.mboxes  # type: ignore[assignment]  # Mbox values: __post_init__ made them so
    return (
        len(mboxes) == 1
        and mboxes[0].name == global_mbox
        and not (request.prefetch or request.prefetch_page_load or request.prefetch_views)
        and not (request.qa_mode or request.trace)
    )


_new_result = builder(OffersResult)


def offers_result(
    response: DeliveryResponse, visitor: Visitor, decisioning: DecisioningMethod, request: Mapping[str, Any] | Deferred
) -> OffersResult:
    """A Delivery API answer's result, with the visitor's cookies (built without the frozen stores: see ``frozen``);
    ``request`` the request it answers, or what makes it when first read (see ``deferred``)."""
    return _new_result(
        response, visitor, visitor.mbox_cookie(), visitor.edge_cluster_cookie(), decisioning, request, (), None
    )


def visitor_after_local(visitor: Visitor, tnt_id: str | None) -> Visitor:
    """``visitor.updated(tnt_id=tnt_id, edge_host=None)`` after a local decision, whose answer names the tntId the
    request sent, ``visitor.tnt_id`` itself: the same visitor, unless that id's location hint names another cluster
    than the visitor's (then ``updated`` says which), without checking again the id the visitor was made with."""
    if tnt_id is visitor.tnt_id and (
        # A Visitor's tntId is valid: with a dot, it is "<id>.<cluster>_<node>", its cluster between the two.
        tnt_id is None or "." not in tnt_id or tnt_id.partition(".")[2].partition("_")[0] == visitor.edge_cluster
    ):
        return visitor
    return visitor.updated(tnt_id=tnt_id, edge_host=None)


class OffersClient(Protocol):
    """The seam the middleware decides through: Target's Delivery API (``TargetClient``, server-side, on-device or
    hybrid) and Adobe's Edge Network (``EdgeNetworkClient``) answer in this one shape."""

    @property
    def global_mbox(self) -> str: ...

    @property
    def decisioning(self) -> DecisioningMethod: ...

    async def get_offers(
        self,
        request: OffersRequest | Sequence[Mbox | str],
        *,
        visitor: Visitor | None = None,
        page: PageContext | None = None,
        timeout: float | None = None,
    ) -> OffersResult: ...

    async def aclose(self) -> None: ...
