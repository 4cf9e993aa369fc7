from __future__ import annotations

import pytest

from .conformance import Case, cases, check, mismatches, run

CASES = cases()


def test_all_66_suite_tests_are_collected() -> None:
    assert len(CASES) == 66


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_suite(case: Case) -> None:
    response, notifications = run(case)
    assert check(case, response, notifications) == []


def test_matcher_can_fail() -> None:
    assert mismatches({"a": [1, 2]}, {"a": [1]})
    assert mismatches({"a": "x"}, {"a": "expect.any(Number)"})
    assert mismatches({}, {"a": None})
    assert not mismatches({"a": 1, "b": 2}, {"a": 1.0})
