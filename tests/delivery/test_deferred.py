"""A deferred field reads as the value it would hold had it been made eagerly, made once, by any reader."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from typing import Any

import pytest

from target_middleware.delivery.deferred import Deferred, deferrable
from target_middleware.frozen import builder


@dataclasses.dataclass(frozen=True, slots=True)
class Held:
    name: str
    body: Any
    tail: int = 0


deferrable(Held, "body")
new_held = builder(Held)


def test_a_deferred_field_is_made_at_its_first_read_and_kept() -> None:
    made: list[int] = []

    def make(a: int, b: int) -> dict[str, int]:
        made.append(1)
        return {"sum": a + b}

    held = new_held("x", Deferred(make, 2, 3), 0)
    assert made == []  # not made by building the value
    first = held.body
    assert first == {"sum": 5}
    assert held.body is first  # kept: every read after the first gets the one value
    assert made == [1]


def test_a_value_with_a_deferred_field_is_the_value_made_eagerly() -> None:
    eager = Held("x", {"sum": 5}, 1)
    for read in (
        lambda h: h == eager,
        lambda h: repr(h) == repr(eager),
        lambda h: dataclasses.replace(h, tail=2) == Held("x", {"sum": 5}, 2),
        lambda h: dataclasses.asdict(h) == dataclasses.asdict(eager),
        lambda h: copy.copy(h) == eager,
        lambda h: copy.deepcopy(h) == eager,
        lambda h: pickle.loads(pickle.dumps(h)) == eager,
        lambda h: dataclasses.astuple(h) == ("x", {"sum": 5}, 1),
    ):
        assert read(new_held("x", Deferred(dict, sum=5), 1))
    by_init = Held("x", Deferred(dict, sum=5), 1)  # through the dataclass's own __init__ (object.__setattr__)
    assert by_init == eager


def test_a_deferred_field_stays_frozen_and_plain_fields_are_untouched() -> None:
    held = new_held("x", Deferred(dict), 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.body = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del held.body  # type: ignore[misc]
    assert held.body == {}
    assert Held("y", [1], 3).body == [1]  # a value given as it is reads as it is
    assert Held.body is Held.__dict__["body"]  # type: ignore[attr-defined]


def test_threads_reading_at_once_get_one_value() -> None:
    started = threading.Barrier(8)
    made: list[int] = []

    def make() -> list[int]:
        made.append(1)
        return [len(made)]

    held = new_held("x", Deferred(make), 0)
    seen: list[Any] = []

    def read() -> None:
        started.wait()
        seen.append(held.body)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1]
    assert all(value is seen[0] for value in seen)


def test_a_failure_to_make_is_raised_at_each_read_until_made() -> None:
    calls: list[int] = []

    def make() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not yet")
        return 7

    held = new_held("x", Deferred(make), 0)
    with pytest.raises(RuntimeError):
        _ = held.body
    assert held.body == 7
    assert calls == [1, 1]


def test_only_a_slotted_dataclass_field_can_be_deferred() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    with pytest.raises(TypeError, match="not a slotted dataclass field"):
        deferrable(NoSlots, "a")
    with pytest.raises(TypeError, match="not a slotted dataclass field"):
        deferrable(Held, "missing")
