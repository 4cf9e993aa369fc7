"""Frozen values built without the frozen stores are the values their class builds."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from target_middleware.delivery import models, offers
from target_middleware.delivery.models import Action
from target_middleware.frozen import unfrozen
from target_middleware.visitor import CookieValue


def test_a_value_built_by_the_twin_is_the_value() -> None:
    twin = unfrozen(Action)
    built = twin("setHtml", "#a", "#a", {"x": 1})
    built.__class__ = Action
    expected = Action("setHtml", "#a", "#a", {"x": 1})
    assert (type(built), built, repr(built)) == (Action, expected, repr(expected))
    assert dataclasses.replace(built, content=None) == Action("setHtml", "#a", "#a", None)
    assert pickle.loads(pickle.dumps(built)) == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.selector = "#b"  # type: ignore[misc]
    cookie = unfrozen(CookieValue)("mbox", "v", 60)
    cookie.__class__ = CookieValue
    assert hash(cookie) == hash(CookieValue("mbox", "v", 60))


def test_only_frozen_slotted_dataclasses_have_a_twin() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    for cls in (NoSlots, NotFrozen, int):
        with pytest.raises(TypeError, match="not a frozen dataclass with slots"):
            unfrozen(cls)


def test_every_twin_in_use_takes_every_field_in_order() -> None:
    """A field added to a value (even one with a default) makes its twin's builders fail loudly, not drop it."""
    twins = {
        models._NewAction: models.Action,
        models._NewOption: models.Option,
        models._NewMetric: models.Metric,
        models._NewMbox: models.MboxResult,
        models._NewPageLoad: models.PageLoadResult,
        models._NewView: models.ViewResult,
        models._NewResponse: models.DeliveryResponse,
        offers._NewResult: offers.OffersResult,
    }
    for twin, cls in twins.items():
        names = [f.name for f in dataclasses.fields(cls)]
        assert twin.__slots__ == tuple(names) == cls.__slots__  # type: ignore[attr-defined]
        assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(twin)), cls
