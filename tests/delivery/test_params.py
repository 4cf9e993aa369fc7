"""at.js parameter mapping and request building."""

from __future__ import annotations

import pytest

from target_middleware.delivery import Mbox, map_params
from target_middleware.delivery.params import build_request
from target_middleware.visitor import Visitor


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
