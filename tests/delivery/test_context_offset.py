"""The server's UTC offset in a page's context, read once a minute: what time.localtime says, at every minute."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_middleware.delivery import context
from target_middleware.delivery.context import PageContext, server_time_offset_minutes

ZONES = ["America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "Europe/London"]
# 2026's transitions: New York 8 Mar 07:00 UTC and 1 Nov 06:00 UTC, London 29 Mar and 25 Oct 01:00 UTC, Lord Howe
# (by half an hour) 4 Apr 15:00 UTC and 3 Oct 15:30 UTC.
TRANSITIONS = [1772953200, 1793512800, 1774746000, 1792890000, 1775314800, 1791041400]


@contextlib.contextmanager
def in_zone(name: str) -> Iterator[None]:
    """This process in time zone ``name`` (TZ), then back in its own."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.lists(st.sampled_from(TRANSITIONS), min_size=1, max_size=4),
    st.lists(st.integers(-90, 90), min_size=1, max_size=4),
)
@example("America/New_York", [1772953200], [-1, 0, 59, 60])
@example("Australia/Lord_Howe", [1791041400], [-1, 0, 1])
def test_the_offset_is_what_localtime_says_at_every_second(name: str, transitions: list[int], steps: list[int]) -> None:
    with in_zone(name):
        for at in transitions:
            for step in steps:  # the seconds around a transition, in any order: each read again or remembered
                now = at + step + 0.5
                assert server_time_offset_minutes(now) == time.localtime(now).tm_gmtoff / 60, (name, now)


def test_a_new_zone_is_read_at_once() -> None:
    now = 1780000000.0
    with in_zone("UTC"):
        assert server_time_offset_minutes(now) == 0
    with in_zone("Asia/Kathmandu"):
        assert server_time_offset_minutes(now) == 345  # +05:45, within the same minute


def test_a_page_context_carries_it() -> None:
    with in_zone("Asia/Kathmandu"):
        page = PageContext(url="https://shop.example/").to_json(send_ip_address=False)
        assert (page["timeOffsetInMinutes"], context._offset[0][2]) == (345, 345)
