"""Execute answers from a rule's template (template.py) are the step-by-step answers, byte for byte: over every
conformance suite request, and over random requests against every conformance artifact."""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from target_middleware.decisioning import Artifact, DecisioningEngine, load_artifact, notification_request, procedure
from target_middleware.decisioning import engine as engine_module
from target_middleware.decisioning.template import execute_template
from tests.datafiles import ARTIFACTS

from .conformance import CASES_BY_ID, engine_for

NAMES = sorted(path.stem for path in ARTIFACTS.glob("*.json") if path.stem != "TEST_ARTIFACT_UNSUPPORTED")
LOADED = {name: load_artifact(ARTIFACTS / f"{name}.json") for name in NAMES}


def step_by_step(artifact: Artifact) -> Artifact:
    """The same artifact with no rule's template: every answer made per request."""

    def plain(table: Any) -> dict[str, tuple[Any, ...]]:
        return {name: tuple(dataclasses.replace(r, execute=None) for r in rules) for name, rules in table.items()}

    return dataclasses.replace(artifact, mbox_rules=plain(artifact.mbox_rules), view_rules=plain(artifact.view_rules))


def exactly(engine: DecisioningEngine, request: dict[str, Any], session_id: str | None) -> str:
    """The answer and its notifications request as JSON, key order kept; the random ids (a request's, the
    notifications') drawn from one counter, the same for both engines."""
    counter = itertools.count()

    def new_id() -> str:
        return f"{next(counter):032x}"

    with mock.patch.object(procedure, "new_id", new_id), mock.patch.object(engine_module, "new_id", new_id):
        decision = engine.decide(request, session_id=session_id)
    return json.dumps([decision.response, notification_request(request, decision)], default=str)


def test_the_templates_are_used_for_plain_rules_and_not_for_rules_with_macros() -> None:
    tables = [table for artifact in LOADED.values() for table in (artifact.mbox_rules, artifact.view_rules)]
    rules_flat = [rule for table in tables for rules in table.values() for rule in rules]
    assert sum(r.execute is not None for r in rules_flat) > 50
    macros = [r for r in rules_flat if "${" in json.dumps(r.consequence.get("options"))]
    assert macros, "the campaign macros artifact has some"
    assert all(r.execute is None for r in macros)
    assert execute_template({"options": [{"type": "html", "content": "${mbox.name}"}]}) is None
    assert execute_template({"options": ["not an object"]}) is None


def test_every_conformance_request_gets_the_same_answer_from_the_template() -> None:
    compared = 0
    for case in CASES_BY_ID.values():
        engine = engine_for(case)
        now = engine._clock()  # the case's mocked date, or now: the same for both engines
        plain = DecisioningEngine(
            step_by_step(engine.artifact),
            client_code=engine.client_code,
            telemetry_enabled=False,
            clock=lambda now=now: now,
            geo_lookup=engine._geo_lookup,
        )
        fast = DecisioningEngine(
            engine.artifact,
            client_code=engine.client_code,
            telemetry_enabled=False,
            clock=lambda now=now: now,
            geo_lookup=engine._geo_lookup,
        )
        request, session = case.test["input"]["request"], case.test["input"].get("sessionId")
        assert exactly(fast, request, session) == exactly(plain, request, session), case.id
        compared += 1
    assert compared == 66


URLS = ["http://local-target-test/", "https://local-target-test/some/path?a=1", "http://other.example/x#y"]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(NAMES))
    artifact = LOADED[name]
    mbox_names = sorted(artifact.mbox_rules) or ["nothing"]
    execute: dict[str, Any] = {}
    chosen = draw(st.lists(st.sampled_from(mbox_names), max_size=4))
    if chosen:
        params = draw(st.dictionaries(st.sampled_from(["greg", "foo", "bar", "jason"]), st.text(max_size=6)))
        execute["mboxes"] = [{"name": n, "index": i, "parameters": params} for i, n in enumerate(chosen)]
    if draw(st.booleans()):
        execute["pageLoad"] = {}
    if draw(st.booleans()) and artifact.view_rules:
        execute["views"] = [{"name": draw(st.sampled_from(sorted(artifact.view_rules)))}]
    request = {
        "requestId": "fixed",
        "id": {"tntId": draw(st.text("0123456789abcdef", min_size=1, max_size=32)) + ".28_0"},
        "context": {
            "channel": "web",
            "address": {"url": draw(st.sampled_from(URLS))},
            "userAgent": draw(st.sampled_from(AGENTS)),
            "geo": {"countryCode": "US", "stateCode": "CA", "city": "SAN FRANCISCO"},
        },
        "execute": execute or {"pageLoad": {}},
    }
    return name, request


@settings(max_examples=300, deadline=None)
@given(requests())
def test_random_requests_against_every_artifact_get_the_same_answer_from_the_template(
    drawn: tuple[str, dict[str, Any]],
) -> None:
    name, request = drawn
    artifact = LOADED[name]
    clock = 1_700_000_000.0
    fast = DecisioningEngine(artifact, client_code="targettesting", telemetry_enabled=False, clock=lambda: clock)
    plain = DecisioningEngine(
        step_by_step(artifact), client_code="targettesting", telemetry_enabled=False, clock=lambda: clock
    )
    assert exactly(fast, request, "s1") == exactly(plain, request, "s1")
