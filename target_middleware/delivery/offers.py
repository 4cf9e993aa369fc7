"""What ``TargetClient.get_offers`` takes and gives back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..visitor import CookieValue, Visitor
from .context import PageContext
from .decider import DecisioningMethod
from .models import DeliveryResponse, MboxResult, PageLoadResult
from .params import Mbox

__all__ = ["OffersRequest", "OffersResult"]


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
    mbox_cookie: CookieValue
    edge_cluster_cookie: CookieValue | None
    decisioning: DecisioningMethod
    request: Mapping[str, Any]

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
        return (self.mbox_cookie,) if self.edge_cluster_cookie is None else (self.mbox_cookie, self.edge_cluster_cookie)
