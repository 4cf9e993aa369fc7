"""Answers shared between requests, for callers that only read them, and how a caller gets its own copy.

Target's engine answers most pages (the global mbox alone, on-device) from a few answers worked out once, one per
set of matched rules (``decisioning/pageload``). Each request used to get its own copy of that answer's JSON and
option models, because whoever holds the result may change them. The middleware only reads them: it asks with
``OffersRequest(read_only=True)`` and gets the answer's :class:`SharedPageLoad` itself, the same object for every
visitor of that experience, so what it works out from the answer (the rewrite cache's plan key) is worked out once.

An app reaches the result through ``request.state.target.decisions()``: it gets :func:`owned`'s copy, made as the
engine makes one for a caller that did not say ``read_only``, so nothing it changes reaches another request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..frozen import builder
from .models import DeliveryResponse, Metric, Option, PageLoadResult

if TYPE_CHECKING:
    from .offers import OffersResult

__all__ = ["SharedPageLoad", "owned"]

# A fresh copy of the pageLoad JSON and of its options' models (``pageload._maker``'s function).
Maker = Callable[[], tuple[dict[str, Any], tuple[Option, ...]]]


class SharedPageLoad(PageLoadResult):
    """A page load answer shared by every request that matched the same rules: never to be changed.

    ``json`` is the pageLoad JSON its options were made over (what ``raw["execute"]["pageLoad"]`` holds), ``make``
    makes a fresh copy of both, and ``memo`` keeps what readers work out from it (``plankey``), by their own keys.
    """

    __slots__ = ("json", "make", "memo")

    json: dict[str, Any]
    make: Maker
    memo: dict[Any, Any]

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy (copy.deepcopy, pickle) is a page load of its own: a plain PageLoadResult of the same values.
        return PageLoadResult, (self.options, self.metrics, self.state)


def shared_page_load(
    json: dict[str, Any], options: tuple[Option, ...], metrics: tuple[Metric, ...], make: Maker
) -> SharedPageLoad:
    """The shared answer of ``json`` and ``options`` (made by ``make``, not to be changed from here on)."""
    shared = object.__new__(SharedPageLoad)
    for name, value in (("options", options), ("metrics", metrics), ("state", None), ("json", json), ("make", make)):
        object.__setattr__(shared, name, value)
    object.__setattr__(shared, "memo", {})
    return shared


_new_page_load = builder(PageLoadResult)


def owned_response(response: DeliveryResponse) -> DeliveryResponse:
    """``response`` with its own copy of a shared page load (JSON and models, as the engine makes one per request
    when not asked ``read_only``); ``response`` itself when nothing in it is shared."""
    shared = response.execute_page_load
    if type(shared) is not SharedPageLoad:
        return response
    json, options = shared.make()
    raw = response.raw
    execute = raw.get("execute")
    if not (type(execute) is dict and execute.get("pageLoad") is shared.json):
        raise ValueError("a shared page load whose raw answer does not hold its JSON")
    raw = {**raw, "execute": {**execute, "pageLoad": json}}  # the same keys, in the same order
    return dataclasses.replace(response, raw=raw, execute_page_load=_new_page_load(options, shared.metrics, None))


def owned(result: OffersResult) -> OffersResult:
    """``result`` for a caller that may change it: a copy of what it shares with other requests' results, if any."""
    response = owned_response(result.response)
    return result if response is result.response else dataclasses.replace(result, response=response)
