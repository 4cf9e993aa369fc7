"""The mbox cookie's clock: the second a reading is in, its forms made once and kept for the next reading in it."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from target_middleware import cookieclock
from target_middleware.cookieclock import PC_MAX_AGE, SESSION_MAX_AGE, second_of


def _expected(now: float) -> tuple[float, float, str, str, str]:
    second = math.ceil(now)
    text = str(second) if 10**9 <= second < 10**10 else "~"
    return (second - 1, second, text, f"%23{second + SESSION_MAX_AGE}", f"%23{second + PC_MAX_AGE}")


@given(st.floats(min_value=0, max_value=2**40, allow_nan=False) | st.integers(0, 2**40))
def test_the_second_of_a_reading_is_its_ceiling_in_every_form(now: float) -> None:
    made = second_of(now)
    assert made == _expected(now)
    assert cookieclock.last[0] is made  # kept for the next reading
    before, second, *_ = made
    assert before < now <= second  # ... which takes it when it is within it


def test_a_reading_on_a_second_s_edge_is_in_that_second() -> None:
    assert second_of(1_700_000_000.0)[:3] == (1_699_999_999.0, 1_700_000_000.0, "1700000000")
    assert second_of(1_700_000_000.000001)[:3] == (1_700_000_000.0, 1_700_000_001.0, "1700000001")
    assert second_of(999_999_999.5)[2] == "1000000000"
    assert second_of(999_999_998.5)[2] == "~"  # nine digits: no expiry as written compares to it
    earliest, latest = "1000000000", "9999999999"
    assert earliest < "~"
    assert latest < "~"  # ... after every one
