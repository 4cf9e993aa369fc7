from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from target_middleware.decisioning import ArtifactError, load_artifact, parse_artifact

from .conformance import ARTIFACTS


def test_every_shipped_artifact_of_version_1_loads() -> None:
    for path in ARTIFACTS.glob("*.json"):
        if path.stem == "TEST_ARTIFACT_UNSUPPORTED":
            continue
        artifact = load_artifact(path)
        assert artifact.version.startswith("1.")


def test_unknown_major_version_is_a_clear_error() -> None:
    with pytest.raises(ArtifactError, match=r"unsupported artifact version 99\.0\.0.*major version 1"):
        load_artifact(ARTIFACTS / "TEST_ARTIFACT_UNSUPPORTED.json")


def test_large_artifact_compiles_every_rule() -> None:
    artifact = load_artifact(ARTIFACTS / "LARGE_PRODUCTION_LIKE_ARTIFACT.json")
    tables = (artifact.mbox_rules, artifact.view_rules)
    rules = [rule for table in tables for rs in table.values() for rule in rs]
    assert len(rules) > 100
    assert artifact.meta["clientCode"] == "targettesting"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"version": "x"},
        {},
        {"version": "1.0.0", "rules": []},
        {"version": "1.0.0", "rules": {"mboxes": {"m": [{"condition": True}]}}},
        {"version": "1.0.0", "localMboxes": "m"},
    ],
)
def test_malformed_artifacts_are_rejected(payload: object) -> None:
    with pytest.raises(ArtifactError):
        parse_artifact(payload)  # type: ignore[arg-type]


def test_unreadable_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot read"):
        load_artifact(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ArtifactError):
        load_artifact(tmp_path / "bad.json")


def test_a_rule_with_an_unknown_operator_never_matches(caplog: pytest.LogCaptureFixture) -> None:
    payload = {
        "version": "1.2.0",
        "rules": {
            "mboxes": {
                "m": [
                    {"ruleKey": "1", "activityId": 1, "condition": {"regex": ["a", "b"]}, "consequence": {"name": "m"}},
                ]
            }
        },
    }
    with caplog.at_level(logging.WARNING):
        artifact = parse_artifact(json.loads(json.dumps(payload)))
    (rule,) = artifact.mbox_rules["m"]
    assert rule.condition({}) is False
    assert "never matches" in caplog.text


def test_property_tokens() -> None:
    payload = {
        "version": "1.0.0",
        "rules": {
            "mboxes": {
                "m": [
                    {"ruleKey": "1", "activityId": 1, "condition": True, "consequence": {}, "propertyTokens": ["p"]},
                    {"ruleKey": "2", "activityId": 2, "condition": True, "consequence": {}},
                ]
            }
        },
    }
    scoped, everywhere = parse_artifact(payload).mbox_rules["m"]
    assert scoped.allows_property("p")
    assert not scoped.allows_property("q")
    assert not scoped.allows_property(None)
    assert everywhere.allows_property(None)
    assert everywhere.allows_property("q")
