"""Strict response parsing: anything that does not fit the schema is a parseerror saying where."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware.delivery import (
    DeliveryResponse,
    ErrorStatus,
    OptionType,
    ResponseParseError,
    models,
    parse_response,
)

from . import reference


def test_parses_execute_and_prefetch() -> None:
    response = parse_response(
        {
            "status": 200,
            "requestId": "r",
            "client": "acme",
            "id": {"tntId": "t.1_0"},
            "edgeHost": "mboxedge1.tt.omtrdc.net",
            "execute": {
                "pageLoad": {"options": [{"type": "actions", "content": [{"type": "remove", "selector": "#x"}]}]},
                "mboxes": [
                    {
                        "index": 0,
                        "name": "m",
                        "options": [{"type": "json", "content": {"a": 1}, "responseTokens": {"k": "v"}}],
                    }
                ],
            },
            "prefetch": {
                "mboxes": [
                    {
                        "index": 0,
                        "name": "p",
                        "state": "st",
                        "options": [{"type": "html", "content": "<b>", "eventToken": "e"}],
                    }
                ]
            },
            "notifications": [{"id": "n1"}],
            "somethingNew": True,
        }
    )
    assert response.execute_page_load is not None
    assert response.execute_page_load.options[0].content[0].content is None
    assert response.execute_mboxes[0].options[0].type is OptionType.JSON
    assert response.response_tokens == ({"k": "v"},)
    assert response.prefetch_mboxes[0].state == "st"
    assert response.notification_ids == ("n1",)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([], "$"),
        ({"status": "200"}, "status"),
        ({"execute": []}, "execute"),
        ({"execute": {"mboxes": {}}}, "execute.mboxes"),
        ({"execute": {"mboxes": [{"index": "0"}]}}, "execute.mboxes[0].index"),
        ({"execute": {"mboxes": [{"options": [{"type": "video"}]}]}}, "execute.mboxes[0].options[0].type"),
        ({"execute": {"mboxes": [{"options": [{"type": "html", "content": 5}]}]}}, "options[0].content"),
        (
            {"execute": {"pageLoad": {"options": [{"type": "actions", "content": [{"selector": "x"}]}]}}},
            "content[0].type",
        ),
        ({"execute": {"pageLoad": {"metrics": [{"type": "hover"}]}}}, "metrics[0].type"),
        ({"id": {"tntId": 5}}, "id.tntId"),
        ({"prefetch": {"views": [{"name": 1}]}}, "prefetch.views[0].name"),
    ],
)
def test_misfits_are_parseerrors(body: Any, where: str) -> None:
    with pytest.raises(ResponseParseError, match=r"at [^ ]*" + re.escape(where)) as info:
        parse_response(body)
    assert info.value.status is ErrorStatus.PARSEERROR


# -- the fast parse is the reference parse (tests/delivery/reference.py), on generated answers ----------------

ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=4,
)


JUNK = st.sampled_from([None, 0, True, "x", [], {}, ["x"], {"x": 1}])


def _shaped(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right shape, sometimes anything (a misfit somewhere, or an unhashable type name)."""
    return st.one_of(good, good, good, good, JUNK, ANY)


def _obj(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _shaped(st.fixed_dictionaries(required, optional=optional))


_TEXT = st.text(max_size=3)
_ACTION = _obj(
    {"type": _shaped(st.sampled_from(["setHtml", "remove", ""]))},
    {"selector": _shaped(_TEXT), "cssSelector": _shaped(_TEXT), "content": _shaped(_TEXT | st.just({"a": 1}))},
)
_OPTION = _obj(
    {"type": _shaped(st.sampled_from([*(t.value for t in OptionType), "video"]))},
    {
        "content": _shaped(st.lists(_ACTION, max_size=2) | _TEXT | st.just({"k": [1]})),
        "responseTokens": _shaped(st.just({"activity.id": "1"})),
        "eventToken": _shaped(_TEXT),
    },
)
_METRIC = _obj(
    {"type": _shaped(st.sampled_from(["click", "display", "hover"]))},
    {"selector": _shaped(_TEXT), "eventToken": _shaped(_TEXT)},
)
_PARTS = {
    "options": _shaped(st.lists(_OPTION, max_size=2)),
    "metrics": _shaped(st.lists(_METRIC, max_size=2)),
    "state": _shaped(_TEXT),
}
_MBOX = _obj({}, {"name": _shaped(_TEXT), "index": _shaped(st.integers(0, 3)), **_PARTS})
_VIEW = _obj({}, {"name": _shaped(_TEXT), "key": _shaped(_TEXT), **_PARTS})
_SECTION = {"mboxes": _shaped(st.lists(_MBOX, max_size=3)), "pageLoad": _obj({}, _PARTS)}
ANSWERS = _obj(
    {},
    {
        "status": _shaped(st.just(200)),
        "requestId": _shaped(_TEXT),
        "client": _shaped(_TEXT),
        "edgeHost": _shaped(_TEXT),
        "id": _obj({}, {"tntId": _shaped(_TEXT)}),
        "execute": _obj({}, _SECTION),
        "prefetch": _obj(
            {},
            {**_SECTION, "views": _shaped(st.lists(_VIEW, max_size=2)), "metrics": _shaped(st.lists(_METRIC))},
        ),
        "notifications": _shaped(st.lists(_obj({}, {"id": _shaped(_TEXT)}), max_size=2)),
    },
)


def _outcome(parse: Any, body: Any) -> Any:
    try:
        return parse(body)
    except ResponseParseError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(ANSWERS)
def test_the_parse_is_the_reference_parse(body: Any) -> None:
    try:
        expected = _outcome(reference.parse_response, body)
    except TypeError:  # the reference looked up an unhashable option or metric type: a parseerror now
        assert re.search(r"unknown (option|metric) type", _outcome(parse_response, body))
        return
    got = _outcome(parse_response, body)
    assert got == expected
    if isinstance(got, DeliveryResponse):  # built without the frozen stores, still frozen values of their class
        values = [got, *got.execute_mboxes, *got.prefetch_views, *(o for m in got.execute_mboxes for o in m.options)]
        assert all(type(v).__dataclass_params__.frozen for v in values)  # type: ignore[attr-defined]
        with pytest.raises(dataclasses.FrozenInstanceError):
            got.status = 0  # type: ignore[misc]
        try:  # an option's response tokens are a dict: such a value is unhashable, as the reference's is
            expected_hash = hash(reference.parse_response(body).execute_mboxes)
        except TypeError:
            with pytest.raises(TypeError, match="unhashable"):
                hash(got.execute_mboxes)
        else:
            assert hash(got.execute_mboxes) == expected_hash


def test_a_type_name_that_cannot_be_looked_up_is_a_parseerror() -> None:
    with pytest.raises(ResponseParseError, match=r"execute\.mboxes\[0\]\.options\[0\]\.type: unknown option type"):
        parse_response({"execute": {"mboxes": [{"options": [{"type": ["html"]}]}]}})


def _misfit_or_value(parse: Any, data: Any) -> Any:
    try:
        return parse(data)
    except (models._Misfit, reference._Misfit) as misfit:
        return misfit.what, misfit.path
    except TypeError:  # the reference, an unhashable type name
        return "unhashable"


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["_action", "_option", "_metric", "_mbox", "_view"]), st.data())
def test_each_value_parses_as_the_reference_does(name: str, data: st.DataObject) -> None:
    value = data.draw(
        {"_action": _ACTION, "_option": _OPTION, "_metric": _METRIC, "_mbox": _MBOX, "_view": _VIEW}[name]
    )
    expected = _misfit_or_value(getattr(reference, name), value)
    got = _misfit_or_value(getattr(models, name), value)
    if expected == "unhashable":
        assert got[0] in ("unknown option type", "unknown metric type")
    else:
        assert got == expected
