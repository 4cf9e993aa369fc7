"""Target's QA links and trace, read from a page's query string the way at.js reads them.

A QA link (``?at_preview_token=…&at_preview_index=1_2``) asks Target for activities that are not live yet, and
``?mboxTrace=…&authorization=…`` for the decision's trace. Both are honoured only when the app turns them on:
anyone can put a query string on a URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

__all__ = ["qa_mode_from_query", "trace_from_query"]

_MAX_TOKEN = 4096


def _ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit():
                ids.append(int(part))
    return ids


def _indexes(values: list[str]) -> list[dict[str, int]]:
    """``1_2`` → activity 1, experience 2 (both 1-based); ``3`` → activity 3, experience chosen as usual."""
    indexes = []
    for value in values:
        for part in value.split(","):
            activity, _, experience = part.strip().partition("_")
            if not activity.isdigit() or int(activity) < 1:
                continue
            index = {"activityIndex": int(activity)}
            if experience.isdigit() and int(experience) >= 1:
                index["experienceIndex"] = int(experience)
            indexes.append(index)
    return indexes


def qa_mode_from_query(query: str) -> dict[str, Any] | None:
    """The DeliveryRequest ``qaMode`` a QA link asks for, or None when the query has no valid preview token."""
    params = parse_qs(query, keep_blank_values=False)
    token = (params.get("at_preview_token") or [""])[0].strip()
    if not token or len(token) > _MAX_TOKEN:
        return None
    qa: dict[str, Any] = {"token": token}
    listed = (params.get("at_preview_listed_activities_only") or [""])[0].lower()
    if listed in ("true", "false"):
        qa["listedActivitiesOnly"] = listed == "true"
    for key, field in (
        ("at_preview_evaluate_as_true_audience_ids", "evaluateAsTrueAudienceIds"),
        ("at_preview_evaluate_as_false_audience_ids", "evaluateAsFalseAudienceIds"),
    ):
        ids = _ids(params.get(key, []))
        if ids:
            qa[field] = ids
    indexes = _indexes(params.get("at_preview_index", []))
    if indexes:
        qa["previewIndexes"] = indexes
    return qa


def trace_from_query(query: str) -> dict[str, Any] | None:
    """The DeliveryRequest ``trace`` for ``?mboxTrace=…&authorization=<token>``, else None."""
    params = parse_qs(query)
    token = (params.get("authorization") or [""])[0].strip()
    if "mboxTrace" not in params or not token or len(token) > _MAX_TOKEN:
        return None
    return {"authorizationToken": token}
