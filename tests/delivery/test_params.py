"""at.js parameter mapping and request building."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware.delivery import Mbox, map_params, params
from target_middleware.delivery.params import MappedParams, build_request
from target_middleware.identity import CustomerId
from target_middleware.visitor import Visitor

from . import reference


def test_maps_the_atjs_way() -> None:
    mapped = map_params(
        {
            "profile.age": 42,
            "mbox3rdPartyId": "cust",
            "at_property": "prop",
            "orderId": "o1",
            "orderTotal": "9.5",
            "productPurchasedId": "a, b,,c",
            "productId": "p",
            "categoryId": "cat",
            "color": "red",
            "vip": False,
            "skipped": None,
        }
    )
    assert mapped.details == {
        "parameters": {"color": "red", "vip": "false"},
        "profileParameters": {"age": "42"},
        "order": {"id": "o1", "total": 9.5, "purchasedProductIds": ["a", "b", "c"]},
        "product": {"id": "p", "categoryId": "cat"},
    }
    assert (mapped.third_party_id, mapped.property_token) == ("cust", "prop")


@pytest.mark.parametrize(
    "params",
    [
        {"orderTotal": "abc"},
        {"orderTotal": "-1"},
        {"orderTotal": "nan"},
        {"": "x"},
        {"x" * 129: "y"},
        {"a": "v" * 5001},
        {"a": ["list"]},
        {"a": {"nested": 1}},
        {"profile.": "x"},
        {f"p{i}": "v" for i in range(51)},
    ],
)
def test_bad_params_are_value_errors(params: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="param"):
        map_params(params)


def test_build_request_indexes_and_page_load() -> None:
    body = build_request(
        execute=[
            Mbox("a"),
            Mbox("target-global-mbox", {"x": 1}),
            Mbox("b", {"at_property": "tok"}),
            Mbox("a"),
        ],
        prefetch=[Mbox("c")],
        prefetch_page_load=True,
        visitor=Visitor(session_id="s", tnt_id="t.1_0"),
        context={"channel": "web"},
        property_token="config-token",
        environment_id=3,
    )
    assert body["execute"] == {
        "pageLoad": {"parameters": {"x": "1"}},
        "mboxes": [{"index": 0, "name": "a"}, {"index": 1, "name": "b"}, {"index": 2, "name": "a"}],
    }
    assert body["prefetch"] == {"mboxes": [{"index": 0, "name": "c"}], "pageLoad": {}}
    assert body["property"] == {"token": "tok"}  # the mbox's at_property wins over the configured token
    assert body["id"] == {"tntId": "t.1_0"}
    assert body["environmentId"] == 3
    assert len(body["requestId"]) == 32


def test_mbox_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        Mbox("  ")


# -- the fast request building is the reference one (tests/delivery/reference.py), on generated params ---------

NAMES = st.sampled_from(
    [
        "color",
        "profile.tier",
        "profile.",
        "profile.profile.x",
        "mbox3rdPartyId",
        "at_property",
        "orderId",
        "orderTotal",
        "productPurchasedId",
        "productId",
        "categoryId",
        "",
        "x" * 129,
        "profile." + "y" * 129,
    ]
) | st.text(max_size=4)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(["9.5", "-1", "a, b,,c", "v" * 5001, "nan"]),
    st.just(["list"]),
)
PARAMS = st.dictionaries(NAMES, VALUES, max_size=4) | st.dictionaries(st.text(max_size=3), st.just("v"), max_size=60)


def _mapped_or_error(params: dict[str, object], map_: Any) -> Any:
    try:
        return map_(params)
    except ValueError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(PARAMS)
def test_params_map_as_the_reference_maps_them(params: dict[str, object]) -> None:
    got, expected = _mapped_or_error(params, map_params), _mapped_or_error(params, reference.map_params)
    assert got == expected
    if isinstance(got, MappedParams):
        assert list(got.details) == list(expected.details)  # the same order, so the same JSON


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.builds(Mbox, st.sampled_from(["a", "b", "target-global-mbox"]), PARAMS), max_size=4))
def test_sections_build_as_the_reference_builds_them(mboxes: list[Mbox]) -> None:
    ids: dict[str, str | None] = {"thirdPartyId": None, "property": None}
    expected_ids = dict(ids)
    try:
        expected = orjson.dumps(reference.sections(mboxes, "target-global-mbox", expected_ids))
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            params._section(mboxes, "target-global-mbox", ids)
        return
    assert orjson.dumps(params._section(mboxes, "target-global-mbox", ids)) == expected
    assert ids == expected_ids


def test_request_ids_are_version_4_uuids() -> None:
    ids = {params._request_id() for _ in range(200)}
    assert len(ids) == 200
    for request_id in ids:
        parsed = uuid.UUID(hex=request_id)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, request_id)


def test_the_global_mbox_alone_is_built_as_the_general_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_request's short way for the global mbox alone without params: the general one's dict, key order
    included, for visitors of every kind of id, property tokens, environments and A4T."""
    monkeypatch.setattr(params, "_request_id", lambda: "r" * 32)
    visitors = [
        Visitor(session_id="s"),
        Visitor(session_id="s", tnt_id="t.35_0", third_party_id="crm"),
        Visitor(
            session_id="s",
            marketing_cloud_visitor_id="08743421337245362392147962341223",
            customer_ids=(CustomerId("c1", "crm"),),
            aam_location_hint=9,
            aam_blob="blob",
        ),
        Visitor(session_id="s", marketing_cloud_visitor_id="08743421337245362392147962341223"),
        Visitor(session_id="s", tnt_id="t.35_0"),  # the usual returning visitor
        Visitor(session_id="s", third_party_id="crm"),
        Visitor(session_id="s", tnt_id="t", aam_location_hint=9, aam_blob="blob"),  # no ECID: no audienceManager
    ]
    context = {"channel": "web", "address": {"url": "https://x.test/"}, "timeOffsetInMinutes": 0}
    built = 0
    for visitor in visitors:
        for token in (None, "", "prop"):
            for environment in (None, 0, 7):
                for analytics in (None, {}, {"supplementalDataId": "sd", "logging": "server_side"}):
                    kwargs: dict[str, Any] = {
                        "visitor": visitor,
                        "context": context,
                        "global_mbox": "target-global-mbox",
                        "property_token": token,
                        "environment_id": environment,
                        "analytics": analytics,
                    }
                    short = build_request(execute=[Mbox("target-global-mbox")], **kwargs)
                    general = params._request(
                        execute=[Mbox("target-global-mbox")],
                        prefetch=(),
                        prefetch_page_load=False,
                        prefetch_views=False,
                        **kwargs,
                    )
                    assert json.dumps(short) == json.dumps(general)
                    built += 1
    assert built == 7 * 3 * 3 * 3
