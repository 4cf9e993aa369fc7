"""The global mbox's rules split into allocation buckets and the rest of the condition (``matching``), against the
whole condition evaluated as the general path evaluates it, for every bucket there is."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
from typing import Any

import pytest

from target_middleware.decisioning.allocation import BUCKETS, allocation, bucket
from target_middleware.decisioning.artifact import parse_artifact
from target_middleware.decisioning.matching import _split, candidates, matched
from target_middleware.decisioning.rules import truthy

GLOBAL = "target-global-mbox"
CTX: dict[str, Any] = {"page": {"path": "/products"}, "user": {"browserType": "chrome"}, "mbox": {}, "geo": {}}
ALLOCATION = {"var": "allocation"}


def _bound(rng: random.Random) -> dict[str, Any]:
    op = rng.choice(["<", "<=", ">", ">="])
    literal = rng.choice([0, 50, 100, 33.33, 66.67, 12.345, -1, 100.5, 99.99, 0.005, rng.randrange(10_000) / 100])
    return {op: [literal, ALLOCATION] if rng.random() < 0.5 else [ALLOCATION, literal]}


def _other(rng: random.Random) -> Any:
    return rng.choice(
        [
            {"==": ["/products", {"var": "page.path"}]},
            {"==": ["/cart", {"var": "page.path"}]},
            {"==": [{"var": "user.browserType"}, "chrome"]},
            {"<=": [True, ALLOCATION]},  # a boolean is no number: not a split
            {"<=": ["10", ALLOCATION]},  # nor a string
            {"<": [10, ALLOCATION, 60]},  # between: three operands
            {"!": [{"var": "page.missing"}]},
            {"var": "page.path"},
            "",
            0,
            {"unknown-operator": [1]},
        ]
    )


def _conditions(rng: random.Random) -> list[Any]:
    found: list[Any] = [
        {"and": [_bound(rng), _bound(rng)]},
        {"and": [_bound(rng), _bound(rng), _other(rng)]},
        {"and": [_bound(rng), _other(rng), _bound(rng)]},
        {"and": [_other(rng), _bound(rng)]},
        {"and": [_bound(rng)]},
        {"and": [_bound(rng), _bound(rng), _bound(rng), _other(rng), _other(rng)]},
        {"and": []},
        {"or": [_bound(rng), _bound(rng)]},
        _bound(rng),
        True,
    ]
    return found


def _rule(condition: Any) -> Any:
    payload = {
        "version": "1.0.0",
        "meta": {"clientCode": "acme"},
        "globalMbox": GLOBAL,
        "responseTokens": [],
        "localMboxes": [GLOBAL],
        "rules": {
            "mboxes": {
                GLOBAL: [
                    {
                        "ruleKey": "1-0",
                        "activityId": 1,
                        "condition": condition,
                        "consequence": {"name": GLOBAL, "options": []},
                    }
                ]
            }
        },
    }
    return parse_artifact(payload).mbox_rules[GLOBAL][0]


def _buckets_to_try(condition: Any, rng: random.Random) -> set[int]:
    """Both ends, a few buckets either side of every number in the condition (where a split turns), some others."""
    found = {0, 1, 2, BUCKETS - 3, BUCKETS - 2, BUCKETS - 1, *(rng.randrange(BUCKETS) for _ in range(40))}
    for number in re.findall(r"-?[0-9]+(?:\.[0-9]+)?", json.dumps(condition)):
        middle = round(float(number) * 100)
        found.update(k for k in range(middle - 3, middle + 4) if 0 <= k < BUCKETS)
    return found


def test_the_split_answers_as_the_whole_condition(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    rng = random.Random(5)
    split_some = 0
    for _ in range(300):
        for condition in _conditions(rng):
            rule = _rule(condition)
            buckets, rest = _split(rule)
            split_some += buckets is not None
            for k in sorted(_buckets_to_try(condition, rng)):
                ctx = {**CTX, "allocation": k / 100}
                whole = truthy(rule.condition(ctx))
                fast = (buckets is None or k in buckets) and (rest is None or truthy(rest(ctx)))
                assert whole == fast, (condition, k)
    assert split_some > 1000  # splits were made: the comparison compared the fast form


def test_every_bucket_of_an_ab_split() -> None:
    for low, high in [(0, 50), (50, 100), (33.33, 66.67), (0, 12.5), (99.99, 100)]:
        rule = _rule({"and": [{"<=": [low, ALLOCATION]}, {">=": [high, ALLOCATION]}]})
        buckets, rest = _split(rule)
        assert rest is None
        assert buckets is not None
        assert [k for k in range(BUCKETS) if k in buckets] == [
            k for k in range(BUCKETS) if truthy(rule.condition({"allocation": k / 100}))
        ]


def test_matched_draws_the_bucket_of_the_allocation_once_per_rule_key_and_by_property_token() -> None:
    assert allocation("c", 7, "v1") == bucket("c.7.v1.0") / 100
    splits = [("7-0", 0, 50, ()), ("7-1", 50, 100, ()), ("7-1", 0, 100, ()), ("8-0", 0, 100, ("p",))]
    rules = []
    for key, low, high, tokens in splits:
        rule = _rule({"and": [{"<=": [low, ALLOCATION]}, {">=": [high, ALLOCATION]}]})
        rules.append(dataclasses.replace(rule, key=key, activity_id=7, property_tokens=frozenset(tokens)))
    prepared = candidates(tuple(rules), "c")
    seen = set()
    for visitor in (f"v{i}" for i in range(300)):
        value = allocation("c", 7, visitor)
        # below 50: 7-0, and the second 7-1 (the first did not match); above: the first 7-1 only, its key taken
        expected = (0, 2) if value < 50 else (1,) if value > 50 else (0, 1)
        seen.add(expected)
        assert matched(prepared, dict(CTX), None, visitor) == expected
        assert matched(prepared, dict(CTX), "p", visitor) == (*expected, 3)
        assert matched(prepared, dict(CTX), "q", visitor) == expected
    assert {(0, 2), (1,)} <= seen
