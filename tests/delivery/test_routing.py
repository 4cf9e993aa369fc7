"""Edge routing per visitor, through httpx's MockTransport: no state from one visitor reaches another."""

from __future__ import annotations

import httpx

from target_middleware.delivery import TargetClient
from target_middleware.visitor import Visitor


def _edge(seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        cluster = {"mboxedge35.tt.omtrdc.net": "35"}.get(request.url.host, "99")
        return httpx.Response(
            200,
            json={
                "status": 200,
                "id": {"tntId": f"new.{cluster}_0"},
                "edgeHost": f"mboxedge{cluster}.tt.omtrdc.net",
                "execute": {},
            },
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_each_visitor_goes_to_its_own_cluster_and_nothing_leaks() -> None:
    seen: list[httpx.Request] = []
    async with _edge(seen) as http:
        client = TargetClient("acme", "O@AdobeOrg", http_client=http)
        first = await client.get_offers(["m"], visitor=Visitor.from_cookies({"mboxEdgeCluster": "35"}))
        second = await client.get_offers(["m"], visitor=Visitor.from_cookies({}))
        third = await client.get_offers(["m"], visitor=Visitor.from_cookies({"mbox": "PC#x.7_1#9999999999"}))
        hostile = await client.get_offers(["m"], visitor=Visitor.from_cookies({"mboxEdgeCluster": "evil.com#"}))
    hosts = [r.url.host for r in seen]
    assert hosts == [
        "mboxedge35.tt.omtrdc.net",
        "acme.tt.omtrdc.net",
        "mboxedge7.tt.omtrdc.net",
        "acme.tt.omtrdc.net",
    ]
    assert all(r.url.scheme == "https" for r in seen)
    assert first.edge_cluster_cookie is not None
    assert first.edge_cluster_cookie.value == "35"
    assert second.visitor.edge_cluster == "99"
    assert third.visitor.edge_cluster == "99"  # the answer's new tntId hint
    assert hostile.visitor.edge_cluster == "99"
    assert [r.url.params["sessionId"] for r in seen] == [
        first.visitor.session_id,
        second.visitor.session_id,
        third.visitor.session_id,
        hostile.visitor.session_id,
    ]


async def test_server_domain_always_wins() -> None:
    seen: list[httpx.Request] = []
    async with _edge(seen) as http:
        client = TargetClient("acme", "O@AdobeOrg", http_client=http, server_domain="target.example.com", secure=False)
        await client.get_offers(["m"], visitor=Visitor.from_cookies({"mboxEdgeCluster": "35"}))
    assert str(seen[0].url).startswith("http://target.example.com/rest/v1/delivery?imsOrgId=O%40AdobeOrg&sessionId=")
    assert seen[0].headers["content-type"] == "application/json"


async def test_own_http_client_is_lazy_and_never_follows_redirects() -> None:
    client = TargetClient("acme", "O@AdobeOrg")
    assert len(client._pools) == 0
    http = client._client()
    assert http.follow_redirects is False
    assert client._client() is http
    await client.aclose()
    assert len(client._pools) == 0
    assert http.is_closed
