"""What the local edge's event tokens and visitor ids stand for, read from the rules artifact and requests.

An option's ``eventToken`` is a display token of one experience; a metric's is a click token, and Target gives
a click metric one token for every experience of its activity (the experience is the one the visitor saw).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .decisioning import Artifact

__all__ = ["Experience", "Meaning", "Metric", "event_tokens", "token_index", "visitor_ids", "visitor_keys"]


class Metric(StrEnum):
    DISPLAY = "display"
    CLICK = "click"


@dataclass(frozen=True, slots=True)
class Experience:
    activity_id: Any
    activity_name: str
    experience_id: Any
    experience_name: str


Meaning = tuple[Metric, frozenset[Experience]]
"""What an event token stands for: a metric, and the experiences that carry it."""


def token_index(artifact: Artifact) -> dict[str, Meaning]:
    """Every event token of the artifact's rules, with the experience and metric it stands for."""
    found: dict[str, tuple[Metric, set[Experience]]] = {}
    for rules in (*artifact.mbox_rules.values(), *artifact.view_rules.values()):
        for rule in rules:
            meta = rule.meta
            experience = Experience(
                meta.get("activity.id", rule.activity_id),
                str(meta.get("activity.name") or ""),
                meta.get("experience.id"),
                str(meta.get("experience.name") or ""),
            )
            for option in rule.consequence.get("options") or ():
                if isinstance(option, Mapping) and isinstance(option.get("eventToken"), str):
                    found.setdefault(option["eventToken"], (Metric.DISPLAY, set()))[1].add(experience)
            for metric in rule.consequence.get("metrics") or ():
                if isinstance(metric, Mapping) and isinstance(metric.get("eventToken"), str):
                    kind = Metric.CLICK if metric.get("type") == "click" else Metric.DISPLAY
                    found.setdefault(metric["eventToken"], (kind, set()))[1].add(experience)
    return {token: (kind, frozenset(experiences)) for token, (kind, experiences) in found.items()}


def visitor_ids(value: Any) -> dict[str, Any]:
    """The ids of a Delivery request's ``id`` object that name a visitor, as sent."""
    if not isinstance(value, Mapping):
        return {}
    names = ("tntId", "marketingCloudVisitorId", "thirdPartyId", "customerIds")
    return {name: value[name] for name in names if value.get(name)}


def visitor_keys(ids: Mapping[str, Any]) -> tuple[str, ...]:
    keys = []
    if isinstance(ids.get("marketingCloudVisitorId"), str):
        keys.append("ecid:" + ids["marketingCloudVisitorId"])
    if isinstance(ids.get("tntId"), str):
        keys.append("tnt:" + ids["tntId"].split(".", 1)[0])
    if isinstance(ids.get("thirdPartyId"), str):
        keys.append("3p:" + ids["thirdPartyId"])
    for customer in ids.get("customerIds") or ():
        if isinstance(customer, Mapping) and customer.get("id"):
            keys.append(f"customer:{customer.get('integrationCode')}:{customer['id']}")
    return tuple(keys)


def event_tokens(part: Any) -> Iterator[str]:
    """Event tokens in a response's execute or prefetch part (options and metrics of pageLoad, mboxes, views)."""
    if not isinstance(part, Mapping):
        return
    items = [part.get("pageLoad"), *(part.get("mboxes") or ()), *(part.get("views") or ())]
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for entry in (*(item.get("options") or ()), *(item.get("metrics") or ())):
            if isinstance(entry, Mapping) and isinstance(entry.get("eventToken"), str):
                yield entry["eventToken"]
