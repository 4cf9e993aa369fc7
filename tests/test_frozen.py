"""Frozen values built without the frozen stores are the values their class builds."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from target_middleware import visitor
from target_middleware.delivery import models, offers
from target_middleware.delivery.models import Action
from target_middleware.frozen import builder, unfrozen
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


def test_a_builder_makes_the_value_itself() -> None:
    new_action = builder(Action)
    built = new_action("setHtml", "#a", "#a", {"x": 1})
    assert type(built) is Action
    assert built == Action("setHtml", "#a", "#a", {"x": 1})
    assert new_action(type="setHtml", selector=None, css_selector=None, content=None) == Action(
        "setHtml", None, None, None
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.selector = "#b"  # type: ignore[misc]


def test_every_builder_in_use_takes_every_field() -> None:
    """A field added to a value (even one with a default) makes its builder's callers fail loudly, not drop it."""
    builders = {
        models._new_action: models.Action,
        models._new_option: models.Option,
        models._new_metric: models.Metric,
        models._new_mbox: models.MboxResult,
        models._new_page_load: models.PageLoadResult,
        models._new_view: models.ViewResult,
        models._new_response: models.DeliveryResponse,
        offers._new_result: offers.OffersResult,
        visitor._new_visitor: visitor.Visitor,
        visitor._new_cookie_value: visitor.CookieValue,
    }
    for build, cls in builders.items():
        count = len(dataclasses.fields(cls))
        assert type(build(*[None] * count)) is cls
        with pytest.raises(TypeError, match="missing 1 required positional argument"):
            build(*[None] * (count - 1))


def test_a_builder_holds_its_fixed_fields_in_every_value_and_takes_the_others() -> None:
    new_cookie = builder(CookieValue, max_age=60)
    built = new_cookie("mbox", "v")
    assert (type(built), built) == (CookieValue, CookieValue("mbox", "v", 60))
    assert new_cookie(value="w", name="m") == CookieValue("m", "w", 60)
    with pytest.raises(TypeError):
        new_cookie("mbox", "v", 60)  # a fixed field is no parameter
    with pytest.raises(TypeError, match="no field"):
        builder(CookieValue, expires=0)


def test_a_pending_decision_is_the_pending_entry_without_an_outcome_to_resolve() -> None:
    from target_middleware.delivery.context import PageContext
    from target_middleware.delivery.notifications import Pending

    args = (visitor.Visitor(session_id="s1"), PageContext(url="https://a.example/"), ({"id": "n"},), (), None)
    built = Pending.of_decision(*args)
    assert (type(built), built, built.done) == (Pending, Pending(*args), None)
    assert repr(built) == repr(Pending(*args))
    with pytest.raises(TypeError):
        Pending.of_decision(*args, None)  # its five, as ever


def test_a_builder_takes_fields_by_name_and_refuses_its_own_names() -> None:
    new_cookie = builder(CookieValue)  # a field named "value"
    assert new_cookie(name="mbox", max_age=60, value="v") == CookieValue("mbox", "v", 60)
    with pytest.raises(TypeError):
        new_cookie("mbox", "v")  # every field, as the class itself wants them

    @dataclasses.dataclass(frozen=True, slots=True)
    class Clash:
        _frozen_value_: int

    with pytest.raises(TypeError, match="field named like one of the builder's own"):
        builder(Clash)


def test_a_builder_stores_each_field_by_its_name_whatever_it_is_called() -> None:
    """The generated constructor's own names never shadow a field's (``value``, ``cls``, ``new``, ``twin``)."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Named:
        value: int
        cls: int
        new: int
        twin: int
        build: int

    built = builder(Named)(1, 2, 3, twin=4, build=5)
    assert (type(built), built) == (Named, Named(1, 2, 3, 4, 5))
    assert builder(CookieValue)("mbox", "v", 60) == CookieValue("mbox", "v", 60)
