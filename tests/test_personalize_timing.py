"""Server-Timing's text from the table of tenths equals the formatting it replaces, ties and their neighbours too."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_middleware.personalize import _timing


def formatted(elapsed: float) -> bytes:
    return f"target;dur={elapsed * 1000:.1f}".encode()


@settings(max_examples=2000)
@given(elapsed=st.floats(min_value=0.0, max_value=0.2) | st.floats(min_value=0.0, max_value=1e-4))
@example(elapsed=0.00025)  # 0.25 ms: an exact tie, to the even tenth
@example(elapsed=0.00035)  # 0.35 ms: not a tie in binary, but 3.5 once multiplied
@example(elapsed=0.09995)
@example(elapsed=0.1)
@example(elapsed=5e-324)
def test_the_table_writes_what_the_formatting_writes(elapsed: float) -> None:
    assert _timing(elapsed) == formatted(elapsed)


def test_every_tie_and_its_neighbours_are_written_as_the_formatting_writes_them() -> None:
    """Each x.x5 ms below 100 ms (as seconds), and the floats a few steps either side of it."""
    for tenth in range(1001):
        elapsed = (tenth + 0.5) / 10_000
        below = above = elapsed
        for _ in range(4):
            below, above = math.nextafter(below, 0.0), math.nextafter(above, 1.0)
            for value in (below, elapsed, above):
                assert _timing(value) == formatted(value)


def test_a_negative_or_long_time_is_formatted() -> None:
    for elapsed in (-0.00001, -0.0, 0.1, 0.09999, 12.5, math.inf):
        assert _timing(elapsed) == formatted(elapsed)
