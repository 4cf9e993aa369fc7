"""get_offers takes a Delivery API request mapping, as Adobe's SDKs do: what goes to the edge is that request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from target_middleware.delivery import PageContext, TargetClient
from target_middleware.visitor import Visitor

from .edge import ScriptedEdge

SESSION = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
REQUEST: dict[str, Any] = {
    "requestId": "from-the-sdk",
    "context": {
        "channel": "web",
        "address": {"url": "https://shop.example/p/tent", "referringUrl": "https://search.example/"},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
        "timeOffsetInMinutes": 60,
    },
    "id": {"tntId": "338e3c1e51f7416a8e1ccba4f81acea0.35_0", "thirdPartyId": "customer-7"},
    "property": {"token": "08b62abd-c3e7-dfb3-8b9b-5b5e34ee2dd3"},
    "execute": {
        "pageLoad": {"parameters": {"pageType": "pdp"}},
        "mboxes": [
            {
                "index": 0,
                "name": "hero",
                "parameters": {"color": "red", "size": "2"},
                "profileParameters": {"favorite": "tents"},
                "order": {"id": "o-1", "total": 99.5, "purchasedProductIds": ["p1", "p2"]},
                "product": {"id": "tent-2p", "categoryId": "tents"},
            },
            {"index": 1, "name": "promo"},
        ],
    },
    "prefetch": {"mboxes": [{"index": 0, "name": "later", "parameters": {"k": "v"}}]},
}


async def test_the_mapping_is_what_the_edge_gets(client: TargetClient, edge: ScriptedEdge) -> None:
    result = await client.get_offers({"request": REQUEST, "sessionId": SESSION})
    sent = edge.requests[-1].body
    assert edge.requests[-1].url.endswith(f"sessionId={SESSION}")
    assert sent["execute"] == {
        "pageLoad": {"parameters": {"pageType": "pdp"}},
        "mboxes": [
            {
                "index": 0,
                "name": "hero",
                "parameters": {"color": "red", "size": "2"},
                "profileParameters": {"favorite": "tents"},
                "order": {"id": "o-1", "total": 99.5, "purchasedProductIds": ["p1", "p2"]},
                "product": {"id": "tent-2p", "categoryId": "tents"},
            },
            {"index": 1, "name": "promo"},
        ],
    }
    assert sent["prefetch"] == {"mboxes": [{"index": 0, "name": "later", "parameters": {"k": "v"}}]}
    assert sent["id"] == REQUEST["id"]
    assert sent["property"] == REQUEST["property"]
    assert sent["context"] == REQUEST["context"]
    assert result.visitor.tnt_id == REQUEST["id"]["tntId"]
    assert [m.name for m in result.mboxes] == ["hero", "promo"]


async def test_the_bare_request_form_and_a_prefetched_page_load(client: TargetClient, edge: ScriptedEdge) -> None:
    await client.get_offers({"execute": {"mboxes": [{"name": "hero"}]}, "prefetch": {"pageLoad": {}}})
    sent = edge.requests[-1].body
    assert sent["execute"] == {"mboxes": [{"index": 0, "name": "hero"}]}
    assert sent["prefetch"] == {"pageLoad": {}}
    assert "id" not in sent  # a new visitor: the edge gives it its tntId


async def test_mboxes_go_in_their_index_order(client: TargetClient, edge: ScriptedEdge) -> None:
    await client.get_offers({"execute": {"mboxes": [{"index": 4, "name": "b"}, {"index": 2, "name": "a"}]}})
    assert [m["name"] for m in edge.requests[-1].body["execute"]["mboxes"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        ({}, ValueError, "nothing to decide"),
        ({"execute": []}, TypeError, "execute must be a mapping"),
        ({"execute": {"mboxes": "hero"}}, TypeError, r"execute.mboxes must be a list"),
        ({"execute": {"mboxes": [{"index": 0}]}}, ValueError, r"execute.mboxes\[0\].name must be a non-empty string"),
        ({"execute": {"mboxes": [{"name": "a", "index": 0}, {"name": "b", "index": 0}]}}, ValueError, "used twice"),
        ({"execute": {"mboxes": [{"name": "a", "index": -1}]}}, ValueError, "index must be an integer >= 0"),
        ({"execute": {"mboxes": [{"name": "a", "parameters": ["x"]}]}}, TypeError, r"\[0\].parameters must be a"),
        ({"execute": {"mboxes": [{"name": "a", "parameters": {"orderId": "1"}}]}}, ValueError, "use order, product"),
        ({"execute": {"mboxes": [{"name": "a", "order": {"purchasedProductIds": "p1"}}]}}, TypeError, "list of str"),
        ({"execute": {"mboxes": [{"name": "a", "order": {"sum": 1}}]}}, ValueError, r"order: unknown field 'sum'"),
        ({"execute": {"mboxes": [{"name": "a", "address": {}}]}}, ValueError, "per-mbox address"),
        ({"execute": {"mboxes": [{"name": "a", "parameters": {"n": [1]}}]}}, ValueError, "param 'n'"),
        ({"prefetch": {"views": [{}]}}, ValueError, "prefetch.views"),
        ({"execute": {"pageLoad": {}}, "notifications": []}, ValueError, "send_notifications"),
        ({"execute": {"pageLoad": {}}, "experienceCloud": {}}, ValueError, "experienceCloud"),
        ({"execute": {"pageLoad": {}}, "id": {"customerIds": []}}, ValueError, "id.customerIds"),
        ({"execute": {"pageLoad": {}}, "id": {"tntId": "bad id!"}}, ValueError, "invalid tntId"),
        ({"execute": {"pageLoad": {}}, "environmentId": 1}, ValueError, "TargetClient\\(environment_id"),
        ({"execute": {"pageLoad": {}}, "context": {"channel": "mobile"}}, ValueError, "only 'web'"),
        ({"execute": {"pageLoad": {}}, "context": {"screen": {}}}, ValueError, "context: unknown field 'screen'"),
        ({"execute": {"pageLoad": {}}, "exeucte": {}}, ValueError, "unknown field 'exeucte'"),
        ({"request": {"execute": {"pageLoad": {}}}, "targetCookie": "x"}, ValueError, "visitor=Visitor.from_cookies"),
        (
            {"execute": {"pageLoad": {}, "mboxes": [{"name": "target-global-mbox"}]}},
            ValueError,
            "asked for twice",
        ),
    ],
)
async def test_a_bad_request_mapping_is_a_clear_error_before_any_call(
    client: TargetClient, edge: ScriptedEdge, request_: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await client.get_offers(request_)
    assert edge.requests == []


async def test_the_visitor_and_page_come_from_the_mapping_or_the_arguments_not_both(client: TargetClient) -> None:
    with pytest.raises(ValueError, match="give visitor= or the request's 'id', not both"):
        await client.get_offers(REQUEST, visitor=Visitor.new())
    with pytest.raises(ValueError, match="give page= or the request's 'context', not both"):
        await client.get_offers(REQUEST, page=PageContext())


async def test_the_request_and_what_goes_out_both_validate_against_the_spec(
    client: TargetClient, edge: ScriptedEdge, openapi_dir: Path
) -> None:
    from .test_openapi import _validator

    validator = _validator(openapi_dir)
    assert list(validator.iter_errors(REQUEST)) == []
    await client.get_offers(REQUEST)
    assert list(validator.iter_errors(edge.requests[-1].body)) == []
