"""A runner for Adobe's shared on-device decisioning suites (tests/data/conformance, INDEX.md).

Each test: hydrate the artifact, build an engine with the test's ``conf``, mock the date (``Date.UTC`` of
``mockDate``, month 0-based) and the geo lookup (``mockGeo``), decide ``input.request``, and compare the
response with ``output`` and the notifications request with ``notificationOutput`` the way Jest's
``toMatchObject`` does: objects as subsets, arrays of equal length, ``"expect.any(Type)"`` placeholders.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_middleware.decisioning import DecisioningEngine, load_artifact, notification_request
from tests.datafiles import ARTIFACTS, CONFORMANCE

MODELS = CONFORMANCE / "models"
# The Python SDK's copy of the telemetry suite: the canonical one expects a second, synthetic entry that only
# the Node runner adds.
VARIANTS = {"TEST_SUITE_TELEMETRY.json": "TEST_SUITE_TELEMETRY.python-sdk-variant.json"}


@dataclass(frozen=True, slots=True)
class Case:
    suite: str
    name: str
    artifact: str
    conf: Mapping[str, Any]
    test: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.suite.removeprefix('TEST_SUITE_')}::{self.name}"


def cases() -> list[Case]:
    if not MODELS.is_dir():
        return []
    found = []
    for path in sorted(MODELS.glob("TEST_SUITE_*.json")):
        if "variant" in path.name:
            continue
        suite = json.loads((MODELS / VARIANTS.get(path.name, path.name)).read_text())
        for name, test in suite["test"].items():
            found.append(
                Case(
                    path.stem,
                    name,
                    test.get("artifact") or suite["artifact"],
                    test.get("conf") or suite.get("conf") or {},
                    test,
                )
            )
    return found


CASES_BY_ID = {case.id: case for case in cases()}


def mock_clock(mock_date: Mapping[str, int] | None) -> float | None:
    if not mock_date:
        return None
    return float(
        calendar.timegm(
            (
                mock_date["year"],
                mock_date["month"] + 1,
                mock_date["date"],
                mock_date.get("hours", 0),
                mock_date.get("minutes", 0),
                0,
            )
        )
    )


def engine_for(case: Case) -> DecisioningEngine:
    artifact = load_artifact(ARTIFACTS / f"{case.artifact}.json")
    mocked = mock_clock(case.test.get("mockDate"))
    geo = case.test.get("mockGeo")
    kwargs: dict[str, Any] = {}
    if mocked is not None:
        kwargs["clock"] = lambda: mocked
    if geo is not None:
        kwargs["geo_lookup"] = lambda _ip: geo
    return DecisioningEngine(
        artifact, client_code=case.conf["client"], telemetry_enabled=case.conf.get("telemetryEnabled", True), **kwargs
    )


_ANY = {"expect.any(Object)": (dict, list), "expect.any(String)": (str,), "expect.any(Number)": (int, float)}


def mismatches(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """toMatchObject: where ``actual`` does not match ``expected`` (empty when it does)."""
    if isinstance(expected, str) and expected in _ANY:
        ok = isinstance(actual, _ANY[expected]) and not isinstance(actual, bool)
        return [] if ok else [f"{path}: {actual!r} is not {expected}"]
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += mismatches(actual[key], value, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            p for i, (a, e) in enumerate(zip(actual, expected, strict=True)) for p in mismatches(a, e, f"{path}[{i}]")
        ]
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if actual is expected else [f"{path}: {actual!r} != {expected!r}"]
    return [] if actual == expected else [f"{path}: {actual!r} != {expected!r}"]


def run(case: Case, engine: DecisioningEngine | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The response and the notifications request of one case, from the in-process engine."""
    engine = engine or engine_for(case)
    request = case.test["input"]["request"]
    decision = engine.decide(request, session_id=case.test["input"].get("sessionId"))
    return decision.response, notification_request(request, decision)


def check(case: Case, response: Mapping[str, Any], notifications: Mapping[str, Any] | None) -> list[str]:
    problems = mismatches(response, case.test.get("output") or {})
    if "notificationOutput" in case.test:
        expected = case.test["notificationOutput"]
        if expected is None:
            if notifications is not None:
                problems.append(f"notifications: expected none, got {notifications!r}")
        else:
            problems += mismatches({"request": notifications}, expected, "notifications")
    return problems
