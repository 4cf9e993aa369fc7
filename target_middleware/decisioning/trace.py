"""The ``trace`` object a request gets when it asks for one (``request.trace``).

Mirrors what Target's edge and the SDKs report: the request, the visitor profile ids, the campaigns that
matched (with the notifications owed for them) and, per activity, the context it was evaluated against and
which rule conditions matched. One tracer per mode (execute, prefetch), shared by all its mboxes and views,
as Adobe's engines do; every response gets a snapshot.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .artifact import Rule

__all__ = ["RequestTracer", "profile_trace"]


def profile_trace(visitor: Mapping[str, Any] | None) -> dict[str, Any]:
    visitor_id = dict(visitor or {})
    tnt_id = visitor_id.get("tntId")
    if isinstance(tnt_id, str):
        tnt, _, location = tnt_id.partition(".")
        visitor_id["tntId"] = tnt
        visitor_id["profileLocation"] = location or None
    return {"visitorId": visitor_id}


class RequestTracer:
    def __init__(self, base: Mapping[str, Any], environment: Any) -> None:
        self._base = base  # clientCode, artifact, profile, sessionId
        self._environment = environment
        self._request: dict[str, Any] = {}
        self._campaigns: dict[Any, dict[str, Any]] = {}
        self._targets: dict[Any, dict[str, Any]] = {}

    def trace_request(self, mode: str, kind: str, details: Mapping[str, Any], page: Mapping[str, Any]) -> None:
        item = copy.deepcopy(dict(details))
        item["type"] = mode
        self._request = {"pageURL": page.get("url"), "host": page.get("domain"), kind: item}

    def rule_evaluated(self, rule: Rule, context: Mapping[str, Any], satisfied: bool) -> None:
        meta = rule.meta
        activity_id = meta.get("activity.id")
        if satisfied and activity_id not in self._campaigns:
            offer = meta.get("offer.id")
            self._campaigns[activity_id] = {
                "id": activity_id,
                "campaignType": meta.get("activity.type"),
                "branchId": meta.get("experience.id"),
                "offers": [offer] if offer else [],
                "environment": self._environment,
            }
        target = self._targets.get(activity_id)
        if target is None:
            target = self._targets[activity_id] = {
                "context": copy.deepcopy(_plain(context)),
                "campaignId": activity_id,
                "campaignType": meta.get("activity.type"),
                "matchedSegmentIds": set(),
                "unmatchedSegmentIds": set(),
                "matchedRuleConditions": [],
                "unmatchedRuleConditions": [],
            }
        prefix = "matched" if satisfied else "unmatched"
        target[f"{prefix}SegmentIds"].update(meta.get("audience.ids") or ())
        target[f"{prefix}RuleConditions"].append(rule.raw_condition)

    def notification_added(self, rule: Rule, notification: Mapping[str, Any]) -> None:
        campaign = self._campaigns.get(rule.meta.get("activity.id"))
        if campaign is not None:
            campaign.setdefault("notifications", []).append(dict(notification))

    def snapshot(self) -> dict[str, Any]:
        targets = []
        for target in self._targets.values():
            item = dict(target)
            item["matchedSegmentIds"] = sorted(target["matchedSegmentIds"])
            item["unmatchedSegmentIds"] = sorted(target["unmatchedSegmentIds"])
            targets.append(item)
        request = {"sessionId": self._base.get("sessionId"), **copy.deepcopy(self._request)}
        return {
            "clientCode": self._base.get("clientCode"),
            "artifact": self._base.get("artifact"),
            "profile": self._base.get("profile"),
            "request": request,
            "campaigns": copy.deepcopy(list(self._campaigns.values())),
            "evaluatedCampaignTargets": copy.deepcopy(targets),
        }


def _plain(value: Any) -> Any:
    """Read-only mappings (cached context parts) as plain dicts, so the trace serializes."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
