"""The seam for local (on-device) decisioning, and the hybrid split between local and edge.

The client talks to a decision engine only through ``LocalDecider``: a plain function call that takes a
DeliveryRequest JSON and answers a Delivery API response JSON of the same shape as the edge's 200 body, plus
the display notifications it owes Target and the mboxes that only the edge can decide. A ``DeciderFactory`` turns
a client's ``artifact=`` into a decider; the package wires Target's on-device engine in as the default
(``target_middleware/__init__.py``), so nothing here knows the engine. A decider that keeps something fresh in the
background (an artifact polled from a URL) also has ``start()`` and ``aclose()``, which the client calls.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from .models import DeliveryResponse

__all__ = [
    "DeciderFactory",
    "DecisioningMethod",
    "LocalDecider",
    "LocalDecision",
    "ManagedDecider",
    "PageLoadDecider",
    "PageLoadDecision",
    "artifact_decider_factory",
    "merge_responses",
    "remote_part",
    "set_artifact_decider_factory",
]


class DecisioningMethod(StrEnum):
    SERVER_SIDE = "server-side"
    ON_DEVICE = "on-device"
    HYBRID = "hybrid"


@runtime_checkable
class LocalDecision(Protocol):
    @property
    def response(self) -> dict[str, Any]: ...  # a Delivery API response JSON, as the edge's 200 body
    @property
    def notifications(self) -> Sequence[Mapping[str, Any]]: ...  # display notifications owed to Target
    @property
    def remote_mboxes(self) -> Sequence[str]: ...  # mboxes only the edge can decide (hybrid)


@runtime_checkable
class LocalDecider(Protocol):
    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> LocalDecision: ...


class PageLoadDecision(Protocol):
    @property
    def response(self) -> DeliveryResponse: ...  # the answer, parsed
    @property
    def notifications(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def telemetry(self) -> Sequence[Mapping[str, Any]]: ...


@runtime_checkable
class PageLoadDecider(Protocol):
    """A decider's optional fast path (Target's engine has one) for a request that executes the global mbox alone:
    the answer ``decide`` would give, parsed, or None to ask ``decide``. Only for ``on-device`` decisioning.

    A decider whose ``decide_page_load`` takes ``shared`` (Target's engine) is asked with ``shared=True`` when the
    caller only reads the answer: its pageLoad may then be shared with other answers (``delivery.shared``)."""

    def decide_page_load(self, request: Mapping[str, Any]) -> PageLoadDecision | None: ...


class DeciderFactory(Protocol):
    def __call__(self, artifact: Any, *, client_code: str) -> LocalDecider: ...


@runtime_checkable
class ManagedDecider(Protocol):
    async def start(self) -> None: ...  # begin what runs in the background (a first download, polling)
    async def aclose(self) -> None: ...


_artifact_factory: list[DeciderFactory] = []  # the one wired in at import, not per client or per visitor


def set_artifact_decider_factory(factory: DeciderFactory) -> None:
    """What turns ``TargetClient(artifact=...)`` into a decider, unless the client is given its own."""
    _artifact_factory[:] = [factory]


def artifact_decider_factory() -> DeciderFactory:
    if not _artifact_factory:
        raise ValueError("artifact= needs a decider_factory (importing target_middleware wires the on-device engine)")
    return _artifact_factory[0]


def remote_part(request: Mapping[str, Any], remote: Collection[str], global_mbox: str) -> dict[str, Any] | None:
    """The request cut down to the mboxes in ``remote`` (indexes kept); None when none was asked."""
    result = {k: v for k, v in request.items() if k not in ("execute", "prefetch")}
    asked = False
    for section_name in ("execute", "prefetch"):
        section = request.get(section_name)
        if not isinstance(section, Mapping):
            continue
        part: dict[str, Any] = {}
        mboxes = [m for m in section.get("mboxes", ()) if m.get("name") in remote]
        if mboxes:
            part["mboxes"] = mboxes
        if "pageLoad" in section and global_mbox in remote:
            part["pageLoad"] = section["pageLoad"]
        if part:
            result[section_name] = part
            asked = True
    return result if asked else None


def merge_responses(local: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any]:
    """The local answer with the edge's answers put in place of the mboxes (by index) the edge decided."""
    merged = copy.copy(dict(local))
    for key in ("id", "edgeHost"):
        if key in remote:
            merged[key] = remote[key]
    for section_name in ("execute", "prefetch"):
        remote_section = remote.get(section_name)
        if not isinstance(remote_section, Mapping):
            continue
        local_section = local.get(section_name)
        section = dict(local_section) if isinstance(local_section, Mapping) else {}
        if "pageLoad" in remote_section:
            section["pageLoad"] = remote_section["pageLoad"]
        remote_mboxes = [m for m in remote_section.get("mboxes", ()) if isinstance(m, Mapping)]
        if remote_mboxes:
            replaced = {m.get("index") for m in remote_mboxes}
            kept = [
                m for m in section.get("mboxes", ()) if not isinstance(m, Mapping) or m.get("index") not in replaced
            ]
            section["mboxes"] = sorted([*kept, *remote_mboxes], key=_index_key)
        merged[section_name] = section
    return merged


def _index_key(mbox: object) -> int:
    index = mbox.get("index") if isinstance(mbox, Mapping) else None
    return index if isinstance(index, int) else 1 << 31
