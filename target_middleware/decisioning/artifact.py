"""The on-device decisioning artifact (Target's ``rules.json``), parsed and compiled once.

Format (NOTES.md §4): ``version`` (major 1), ``meta``, ``globalMbox``, ``geoTargetingEnabled``,
``responseTokens``, ``remoteMboxes``/``localMboxes``/``remoteViews``/``localViews`` and
``rules: {mboxes: {name: [Rule]}, views: {name: [Rule]}}``. Each rule's json-logic condition is compiled here
(:mod:`.rules`), so a decision only calls closures.
"""

from __future__ import annotations

import json
import logging
import marshal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import Condition, RuleError, compile_condition
from .template import ExecuteTemplate, execute_template

__all__ = ["SUPPORTED_MAJOR_VERSION", "Artifact", "ArtifactError", "Rule", "load_artifact", "parse_artifact"]

logger = logging.getLogger(__name__)

SUPPORTED_MAJOR_VERSION = 1
DEFAULT_GLOBAL_MBOX = "target-global-mbox"


class ArtifactError(ValueError):
    """The artifact cannot be used: malformed, or of a major version this engine does not know."""


def _never(_ctx: Mapping[str, Any]) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Rule:
    """One artifact rule: when ``condition`` holds, ``consequence`` (a MboxResponse template) applies."""

    key: str
    activity_id: Any
    property_tokens: frozenset[str]
    condition: Condition
    raw_condition: Any
    consequence: Mapping[str, Any]
    meta: Mapping[str, Any]
    response_tokens: Mapping[str, Any] = field(default_factory=dict)
    """The rule's meta values that the artifact whitelists as response tokens."""
    options_template: bytes = field(default=b"", repr=False, compare=False)
    """The consequence's options, marshalled once: each decision loads its own copy (b"": copied by hand)."""
    execute: ExecuteTemplate | None = field(default=None, repr=False, compare=False)
    """The consequence as an execute answer carries it (None: made step by step, per request)."""

    def allows_property(self, token: str | None) -> bool:
        """Rules without property tokens apply everywhere; the others only for one of their tokens."""
        return not self.property_tokens or (token is not None and token in self.property_tokens)


@dataclass(frozen=True, slots=True)
class Artifact:
    version: str
    meta: Mapping[str, Any]
    global_mbox: str
    geo_targeting_enabled: bool
    response_tokens: frozenset[str]
    remote_mboxes: frozenset[str]
    local_mboxes: frozenset[str]
    remote_views: frozenset[str]
    local_views: frozenset[str]
    mbox_rules: Mapping[str, tuple[Rule, ...]]
    view_rules: Mapping[str, tuple[Rule, ...]]
    payload: Mapping[str, Any] = field(repr=False, compare=False)


def _names(payload: Mapping[str, Any], key: str) -> frozenset[str]:
    value = payload.get(key) or []
    if not isinstance(value, list):
        raise ArtifactError(f"artifact field {key!r} must be a list")
    return frozenset(str(v) for v in value)


META_TOKEN_KEYS = (
    "activity.id",
    "activity.name",
    "activity.type",
    "experience.id",
    "experience.name",
    "location.id",
    "location.name",
    "location.type",
    "offer.id",
    "offer.name",
    "option.id",
    "option.name",
)


def _rule(raw: Any, where: str, whitelist: frozenset[str]) -> Rule:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("consequence"), Mapping):
        raise ArtifactError(f"malformed rule in {where}")
    raw_meta = raw.get("meta")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    try:
        condition = compile_condition(raw.get("condition", True))
    except (RuleError, IndexError, TypeError) as exc:
        logger.warning("rule %s in %s never matches: %s", raw.get("ruleKey"), where, exc)
        condition = _never
    activity_id = raw.get("activityId", meta.get("activity.id"))
    return Rule(
        key=str(raw.get("ruleKey", activity_id)),
        activity_id=meta.get("activity.id", activity_id),
        property_tokens=frozenset(str(t) for t in raw.get("propertyTokens") or ()),
        condition=condition,
        raw_condition=raw.get("condition", True),
        consequence=raw["consequence"],
        meta=meta,
        response_tokens={key: meta[key] for key in META_TOKEN_KEYS if key in whitelist and key in meta},
        options_template=_template(raw["consequence"].get("options")),
        execute=execute_template(raw["consequence"]),
    )


def _template(options: Any) -> bytes:
    """``options`` marshalled (version 2: no shared references, so each load is a tree of fresh objects), or b""
    when they hold something marshal cannot write."""
    if not isinstance(options, list):
        return b""
    try:
        return marshal.dumps(options, 2)
    except ValueError:
        return b""


def _rule_table(rules: Any, kind: str, whitelist: frozenset[str]) -> dict[str, tuple[Rule, ...]]:
    table = (rules or {}).get(kind) or {}
    if not isinstance(table, Mapping):
        raise ArtifactError(f"artifact rules.{kind} must be an object")
    result: dict[str, tuple[Rule, ...]] = {}
    for name, items in table.items():
        if not isinstance(items, list):
            raise ArtifactError(f"artifact rules.{kind}.{name} must be a list")
        result[str(name)] = tuple(_rule(item, f"{kind}.{name}", whitelist) for item in items)
    return result


def parse_artifact(payload: Mapping[str, Any]) -> Artifact:
    """Validate and compile an artifact payload; raise :class:`ArtifactError` when it cannot be used."""
    if not isinstance(payload, Mapping):
        raise ArtifactError("the artifact must be a JSON object")
    version = str(payload.get("version", ""))
    major = version.split(".", 1)[0]
    if not major.isdigit():
        raise ArtifactError(f"artifact has no valid version: {version!r}")
    if int(major) != SUPPORTED_MAJOR_VERSION:
        raise ArtifactError(
            f"unsupported artifact version {version}: this engine reads major version {SUPPORTED_MAJOR_VERSION}"
        )
    rules = payload.get("rules")
    if rules is not None and not isinstance(rules, Mapping):
        raise ArtifactError("artifact field 'rules' must be an object")
    meta = payload.get("meta")
    whitelist = _names(payload, "responseTokens")
    return Artifact(
        version=version,
        meta=meta if isinstance(meta, Mapping) else {},
        global_mbox=str(payload.get("globalMbox") or DEFAULT_GLOBAL_MBOX),
        geo_targeting_enabled=bool(payload.get("geoTargetingEnabled")),
        response_tokens=whitelist,
        remote_mboxes=_names(payload, "remoteMboxes"),
        local_mboxes=_names(payload, "localMboxes"),
        remote_views=_names(payload, "remoteViews"),
        local_views=_names(payload, "localViews"),
        mbox_rules=_rule_table(rules, "mboxes", whitelist),
        view_rules=_rule_table(rules, "views", whitelist),
        payload=payload,
    )


def load_artifact(source: str | Path | bytes | Mapping[str, Any]) -> Artifact:
    """An artifact from a file path, raw JSON bytes, or an already decoded payload."""
    if isinstance(source, Mapping):
        return parse_artifact(source)
    try:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
        payload = json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep to decode
        raise ArtifactError(f"cannot read the artifact: {exc}") from exc
    return parse_artifact(payload)
