"""Edge Network answers read into Delivery-shaped answers: the Web SDK's own fixtures, and malformed handles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware.delivery import Mbox, OptionType, PageContext, parse_response
from target_middleware.edgenetwork import read_answer
from target_middleware.edgenetwork.request import interact_body
from tests.datafiles import DATA

ALLOY = DATA / "alloy"
DOM_ACTION = "https://ns.adobe.com/personalization/dom-action"


def fixture(name: str) -> Any:
    return json.loads((ALLOY / f"{name}.json").read_text())


def test_a_dom_action_on_the_page_wide_scope_is_a_page_load_action() -> None:
    answer = read_answer(fixture("personalizationSetHtmlResponse"))
    response = parse_response(answer.delivery)
    assert response.execute_page_load is not None
    (option,) = response.execute_page_load.options
    assert option.type is OptionType.ACTIONS
    (action,) = option.content
    assert (action.type, action.selector, action.css_selector) == ("setHtml", "#target-container", "#target-container")
    assert "Personalized Content" in action.content
    assert option.response_tokens["activity.name"] == "Integration Test: setHtml"
    assert answer.ecid == "56475161841051406291527557158775615545"
    assert answer.region == "or2"
    assert answer.state == (("kndctr_5BFE274A5F6980A50A495C08_AdobeOrg_cluster", "or2", 1800),)
    assert [p.scope for p in answer.propositions] == ["__view__"]
    assert answer.skipped == ()


def test_views_are_prefetched_views_and_the_page_wide_scope_the_page_load() -> None:
    answer = read_answer(fixture("personalizationSpaResponse"))
    response = parse_response(answer.delivery)
    assert response.execute_page_load is not None
    assert [v.name for v in response.prefetch_views] == ["products", "cart"]
    assert response.prefetch_views[0].options[0].event_token == "products-view-event-token"
    assert [p.view for p in answer.propositions] == [False, True, True]


def test_form_based_items_are_mbox_options_and_default_content_is_nothing() -> None:
    answer = read_answer(fixture("personalizationFormBasedResponse"))
    response = parse_response(answer.delivery)
    assert response.execute_page_load is None  # __view__ had only the default content
    (mbox,) = response.execute_mboxes
    assert mbox.name == "alloy-test-scope-1"
    assert mbox.options[0].type is OptionType.HTML
    assert "TARGET AWESOME WORLD" in mbox.options[0].content
    assert answer.skipped == ()


def test_json_redirect_and_click_items() -> None:
    def proposition(scope: str, *items: dict[str, Any]) -> dict[str, Any]:
        details = {"activity": {"id": "1"}, "characteristics": {"eventToken": f"tok-{scope}"}}
        return {"id": f"p-{scope}", "scope": scope, "scopeDetails": details, "items": list(items)}

    schema = "https://ns.adobe.com/personalization/"
    body = {
        "handle": [
            {
                "type": "personalization:decisions",
                "payload": [
                    proposition("deals", {"schema": schema + "json-content-item", "data": {"content": {"a": 1}}}),
                    proposition(
                        "sale", {"schema": schema + "redirect-item", "data": {"content": "https://s.example/"}}
                    ),
                    proposition(
                        "__view__",
                        {"schema": schema + "dom-action", "data": {"type": "click", "selector": "#buy"}},
                        {
                            "schema": schema + "dom-action",
                            "data": {"type": "setText", "selector": "h1", "content": "Hi"},
                        },
                    ),
                ],
            }
        ]
    }
    response = parse_response(read_answer(body).delivery)
    by_name = {m.name: m for m in response.execute_mboxes}
    assert by_name["deals"].options[0].type is OptionType.JSON
    assert by_name["deals"].options[0].content == {"a": 1}
    assert by_name["sale"].options[0].type is OptionType.REDIRECT
    assert response.execute_page_load is not None
    (metric,) = response.execute_page_load.metrics
    assert (metric.selector, metric.event_token) == ("#buy", "tok-__view__")
    assert response.execute_page_load.options[0].content[0].type == "setText"


def test_a_click_token_maps_back_to_its_proposition_and_a_click_only_one_is_no_display() -> None:
    def proposition(pid: str, token: str | None, *types: str) -> dict[str, Any]:
        characteristics = {"eventToken": token} if token else {}
        items = [{"schema": DOM_ACTION, "data": {"type": t, "selector": "#buy", "content": "x"}} for t in types]
        details = {"decisionProvider": "TGT", "characteristics": characteristics}
        return {"id": pid, "scope": "__view__", "scopeDetails": details, "items": items}

    answer = read_answer(
        {
            "handle": [
                {
                    "type": "personalization:decisions",
                    "payload": [
                        proposition("shown", "display-token", "setHtml"),
                        proposition("metric", "click-token", "click"),
                        proposition("both", "both-token", "click", "setText"),
                        proposition("tokenless", None, "click"),
                    ],
                }
            ]
        }
    )
    assert {token: p.id for token, p in answer.clicks.items()} == {"click-token": "metric", "both-token": "both"}
    assert [p.id for p in answer.propositions if p.displayable] == ["shown", "both"]
    assert answer.clicks["click-token"].scope_details["characteristics"] == {"eventToken": "click-token"}


@pytest.mark.parametrize(
    ("handle", "reason"),
    [
        ({"type": "personalization:decisions", "payload": "x"}, "no payload list"),
        ({"type": "personalization:decisions", "payload": [7]}, "not an object"),
        ({"type": "personalization:decisions", "payload": [{"scope": "", "id": "p", "items": []}]}, "no scope"),
        ({"type": "personalization:decisions", "payload": [{"scope": "s", "id": "p", "items": {}}]}, "not a list"),
        (
            {"type": "personalization:decisions", "payload": [{"scope": "s", "id": "p", "items": [{"schema": "x"}]}]},
            "no data",
        ),
        (
            {
                "type": "personalization:decisions",
                "payload": [
                    {
                        "scope": "s",
                        "id": "p",
                        "items": [
                            {"schema": "https://ns.adobe.com/personalization/dom-action", "data": {"selector": 3}}
                        ],
                    }
                ],
            },
            "dom-action needs",
        ),
        ({"type": "state:store", "payload": [{"key": "sessionid", "value": "x", "maxAge": 1}]}, "kndctr"),
        (
            {"type": "state:store", "payload": [{"key": "kndctr_A_AdobeOrg_identity", "value": "a\r\nb", "maxAge": 1}]},
            "kndctr",
        ),
    ],
)
def test_a_malformed_handle_is_skipped_with_its_reason_and_the_rest_kept(handle: dict[str, Any], reason: str) -> None:
    good = fixture("personalizationSetHtmlResponse")
    answer = read_answer({"handle": [handle, *good["handle"]]})
    assert any(reason in skipped for skipped in answer.skipped), answer.skipped
    assert parse_response(answer.delivery).execute_page_load is not None  # the good proposition still applies


@pytest.mark.parametrize("body", [None, [], {"handle": "x"}, {"nohandle": []}, "text"])
def test_an_answer_that_is_not_an_object_with_handles_is_refused(body: Any) -> None:
    with pytest.raises(ValueError, match="handle"):
        read_answer(body)


HANDLE_TYPES = ["personalization:decisions", "state:store", "locationHint:result", "identity:result", "x"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(
                    ["personalization:decisions", "state:store", "locationHint:result", "identity:result", "x"]
                ),
                "payload": json_values,
            }
        ),
        max_size=5,
    )
)
def test_any_handles_give_a_valid_delivery_answer_or_nothing(handles: list[dict[str, Any]]) -> None:
    answer = read_answer({"handle": handles})
    parse_response(answer.delivery)  # never a shape the rest of the package cannot read
    for key, value, age in answer.state:
        assert key.startswith("kndctr_")
        assert "\r" not in value
        assert ";" not in value
        assert age >= 0


def test_the_request_asks_for_the_page_wide_scope_and_the_mboxes_with_the_state() -> None:
    page = PageContext.from_headers(
        "https://shop.example/p?x=1", {"user-agent": "UA/1", "referer": "https://ref.example/"}
    )
    body = interact_body(
        [Mbox("target-global-mbox", {"a": 1, "profile.age": "44", "flag": True}), Mbox("hero")],
        page=page,
        state=[("kndctr_O_AdobeOrg_identity", "123")],
        global_mbox="target-global-mbox",
        ecid="123",
        now=0.5,
    )
    assert body["query"]["personalization"]["decisionScopes"] == ["__view__", "hero"]
    assert len(body["query"]["personalization"]["schemas"]) == 5
    xdm = body["event"]["xdm"]
    assert xdm["timestamp"] == "1970-01-01T00:00:00.500Z"
    assert xdm["web"] == {
        "webPageDetails": {"URL": "https://shop.example/p?x=1"},
        "webReferrer": {"URL": "https://ref.example/"},
    }
    assert xdm["identityMap"]["ECID"][0]["id"] == "123"
    assert xdm["environment"]["browserDetails"]["userAgent"] == "UA/1"
    assert body["event"]["data"]["__adobe"]["target"] == {"a": "1", "profile.age": "44", "flag": "true"}
    assert body["meta"]["state"] == {
        "domain": "shop.example",
        "cookiesEnabled": True,
        "entries": [{"key": "kndctr_O_AdobeOrg_identity", "value": "123"}],
    }
