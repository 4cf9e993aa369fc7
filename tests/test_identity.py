"""Experience Cloud identity: the AMCV cookie, customer ids and the thirdPartyId, as values and through real servers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import AuthenticatedState, CustomerId, MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.delivery import Mbox, OffersRequest
from target_middleware.delivery.params import build_request
from target_middleware.identity import (
    amcv_cookie_name,
    customer_ids_from,
    identified,
    parse_amcv,
    read_amcv,
    visitor_ids,
)
from target_middleware.visitor import Visitor
from tests.datafiles import OPENAPI
from tests.delivery.edge import ScriptedEdge
from tests.delivery.test_openapi import _validator
from tests.servers import serve

ORG = "ABC123@AdobeOrg"
NOW = 1_750_000_000
LATER = NOW + 86_400
ECID = "12500064053434732880045517027062242948"
BLOB = "RKhpRz8krg2tLO6pguXWp5olkAcUniQYPHaMWWgdJ3xzPWQmdj0y"
ECID_SHAPE = re.compile(r"[0-9A-Fa-f-]{1,128}")
BLOB_SHAPE = re.compile(r"[A-Za-z0-9_\-+/=]{1,1024}")


def amcv(
    ecid: str = ECID,
    hint: str = "9",
    blob: str = BLOB,
    *,
    expires: int = LATER,
    optout: str = "NONE",
) -> str:
    """An AMCV cookie value the way VisitorAPI.js writes it (encodeURIComponent of the '|'-joined fields)."""
    fields = (
        f"-1124106680|MCIDTS|20200|MCMID|{ecid}|MCAAMLH-{expires}|{hint}|MCAAMB-{expires}|{blob}"
        f"|MCOPTOUT-{expires}s|{optout}|MCAID|NONE|vVersion|5.5.0"
    )
    return quote(fields, safe="")


@cache
def validator() -> Any:
    return _validator(OPENAPI)


def schema_errors(body: Any) -> list[str]:
    return [e.message for e in validator().iter_errors(body)]


# -- the AMCV cookie --------------------------------------------------------------------------------------------


def test_the_visitor_apis_cookie_gives_the_ecid_and_the_audience_manager_hint_and_blob() -> None:
    found = parse_amcv(amcv(), now=NOW)
    assert found is not None
    assert (found.marketing_cloud_visitor_id, found.location_hint, found.blob) == (ECID, 9, BLOB)
    cookies = {amcv_cookie_name(ORG): amcv(), f"AMCVS_{quote(ORG)}": "1"}
    assert amcv_cookie_name(ORG) == "AMCV_ABC123%40AdobeOrg"
    assert read_amcv(cookies, ORG, now=NOW) == found
    assert read_amcv({f"AMCV_{ORG}": amcv()}, ORG, now=NOW) == found  # the name written unencoded
    assert read_amcv(cookies, "OTHER@AdobeOrg", now=NOW) is None  # another org's cookie is not ours


def test_expired_opted_out_and_session_fields_are_read_as_the_visitor_api_reads_them() -> None:
    expired = parse_amcv(amcv(expires=NOW - 1), now=NOW)
    assert expired is not None
    assert expired.marketing_cloud_visitor_id == ECID
    assert (expired.location_hint, expired.blob) == (None, None)
    assert parse_amcv(amcv(optout="global"), now=NOW) is None  # opted out: no ids at all
    # MCOPTOUT expires with the session: without the AMCVS cookie, the opt-out has lapsed.
    opted_out = {amcv_cookie_name(ORG): amcv(optout="global")}
    assert read_amcv(opted_out, ORG, now=NOW) is not None
    assert read_amcv({**opted_out, "AMCVS_ABC123%40AdobeOrg": "1"}, ORG, now=NOW) is None
    plain = f"MCMID|{ECID}"  # no config hash, not encoded, no Audience Manager
    assert parse_amcv(plain, now=NOW) == parse_amcv(quote(plain, safe=""), now=NOW)
    assert parse_amcv(plain, now=NOW).location_hint is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "MCMID|NONE",
        amcv(ecid="1234<script>"),
        amcv(ecid="x" * 200),
        amcv(ecid="12345%0D%0ASet-Cookie:x"),
        amcv() + "%FF%FE",
        amcv() + "%E2%80%A8",
        "MCMID|" + "1" * 129,
        amcv() * 20,
    ],
)
def test_hostile_cookies_give_no_ecid(value: str) -> None:
    assert parse_amcv(value, now=NOW) is None


@pytest.mark.parametrize(("hint", "blob"), [("0", "a b"), ("-1", "x" * 1025), ("99999", "<b>"), ("9a", "")])
def test_hostile_audience_manager_values_are_dropped_and_the_ecid_kept(hint: str, blob: str) -> None:
    found = parse_amcv(amcv(hint=hint, blob=blob), now=NOW)
    assert found is not None
    assert found.marketing_cloud_visitor_id == ECID
    assert (found.location_hint, found.blob) == (None, None)


def _request_for(cookie_value: str) -> dict[str, Any]:
    visitor = identified(
        Visitor(session_id="s1"),
        experience_cloud=parse_amcv(cookie_value, now=NOW),
        customer_ids=(CustomerId("u-1", "crm", AuthenticatedState.AUTHENTICATED),),
    )
    return build_request(execute=[Mbox("hero")], visitor=visitor, context={"channel": "web"})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_cookie_text_yields_a_valid_request_with_only_checked_values(raw: str) -> None:
    body = _request_for(raw)
    assert schema_errors(body) == []
    ecid = body.get("id", {}).get("marketingCloudVisitorId")
    assert ecid is None or ECID_SHAPE.fullmatch(ecid)
    aam = body.get("experienceCloud", {}).get("audienceManager", {})
    assert set(aam) <= {"locationHint", "blob"}
    assert "blob" not in aam or BLOB_SHAPE.fullmatch(aam["blob"])


FIELD = st.text(
    st.characters(exclude_characters="|", exclude_categories=("Cs",)), max_size=150
)  # '|' would re-pair the fields: see above


@settings(max_examples=300, deadline=None)
@given(ecid=FIELD, hint=st.one_of(FIELD, st.integers(-5, 20000).map(str)), blob=FIELD)
def test_hostile_values_in_a_well_formed_cookie_never_reach_the_request(ecid: str, hint: str, blob: str) -> None:
    body = _request_for(amcv(ecid, hint, blob))
    assert schema_errors(body) == []
    ids = body.get("id", {})
    aam = body.get("experienceCloud", {}).get("audienceManager", {})
    clean = all(v.isascii() and v.isprintable() for v in (ecid, hint, blob))  # else the whole cookie is dropped
    # Each value reaches the request exactly when it has the shape the Visitor API writes, and never altered.
    if clean and ECID_SHAPE.fullmatch(ecid):
        assert ids["marketingCloudVisitorId"] == ecid
        assert ids["customerIds"] == [{"id": "u-1", "integrationCode": "crm", "authenticatedState": "authenticated"}]
        assert aam.get("blob") == (blob if BLOB_SHAPE.fullmatch(blob) else None)
        assert aam.get("locationHint") == (int(hint) if re.fullmatch(r"[1-9][0-9]{0,3}", hint) else None)
    else:
        assert "marketingCloudVisitorId" not in ids
        assert "customerIds" not in ids  # customer ids need an ECID
        assert "experienceCloud" not in body


# -- customer ids and the thirdPartyId as values ------------------------------------------------------------------


def test_customer_ids_are_checked_with_clear_errors() -> None:
    assert CustomerId.from_json({"id": "u", "integrationCode": "crm"}).authenticated_state is AuthenticatedState.UNKNOWN
    for bad, message in [
        ({"id": "x" * 129, "integrationCode": "crm"}, "customer id must be 1-128"),
        ({"id": "u", "integrationCode": "c" * 51}, "integrationCode must be 1-50"),
        ({"id": "u", "integrationCode": "crm", "authenticatedState": "yes"}, "authenticatedState must be one of"),
        ({"id": " ", "integrationCode": "crm"}, "customer id must be"),
        ({"id": "u\n", "integrationCode": "crm"}, "customer id must be"),
        ({"id": 7, "integrationCode": "crm"}, "must be a string"),
        ({"integrationCode": "crm"}, "must be a string"),
        ({"id": "u", "integrationCode": "crm", "authState": 1}, "unknown customer id keys: authState"),
    ]:
        with pytest.raises(ValueError, match=message):
            CustomerId.from_json(bad)


def test_bad_entries_from_the_app_are_dropped_with_one_warning_and_no_values(caplog: pytest.LogCaptureFixture) -> None:
    entries: list[Any] = [{"id": f"user-{i}", "integrationCode": "crm"} for i in range(60)]
    entries[3] = {"id": "secret-value" * 20, "integrationCode": "crm"}
    entries[5] = "not-a-mapping"
    with caplog.at_level(logging.WARNING, logger="target_middleware"):
        kept = customer_ids_from(entries)
    assert len(kept) == 50
    assert [c.id for c in kept[:4]] == ["user-0", "user-1", "user-2", "user-4"]
    [record] = caplog.records
    message = record.getMessage()
    assert "[3]" in message
    assert "[5]" in message
    assert "past the first 50" in message
    assert "secret-value" not in message
    assert "user-" not in message
    with pytest.raises(TypeError):
        customer_ids_from({"id": "u", "integrationCode": "crm"})
    assert customer_ids_from(None) == ()


def test_the_ids_of_a_request_and_of_a_notification_come_from_one_place() -> None:
    visitor = Visitor(session_id="s", tnt_id="t1.35_0", customer_ids=(CustomerId("u", "crm"),))
    assert visitor_ids(visitor) == {"tntId": "t1.35_0"}  # customer ids without an ECID are not sent
    with_ecid = identified(visitor, experience_cloud=parse_amcv(amcv(), now=NOW), third_party_id="3p")
    assert visitor_ids(with_ecid, third_party_id="param-3p") == {
        "tntId": "t1.35_0",
        "thirdPartyId": "param-3p",
        "marketingCloudVisitorId": ECID,
        "customerIds": [{"id": "u", "integrationCode": "crm", "authenticatedState": "unknown"}],
    }
    updated = with_ecid.updated(tnt_id="t2.28_0", edge_host=None)
    assert (updated.marketing_cloud_visitor_id, updated.customer_ids, updated.aam_blob) == (
        ECID,
        with_ecid.customer_ids,
        BLOB,
    )
    with pytest.raises(ValueError, match="marketingCloudVisitorId"):
        Visitor(session_id="s", marketing_cloud_visitor_id="x" * 129)
    with pytest.raises(ValueError, match="aam_location_hint"):
        Visitor(session_id="s", aam_location_hint=0)


# -- through the middleware and the client, against a real (scripted) edge ----------------------------------------


@pytest.fixture
def edge(edge_server: ScriptedEdge) -> ScriptedEdge:
    edge_server.scenario = "html"
    edge_server.requests.clear()
    return edge_server


def app_for(client: TargetClient, **options: Any) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse("<html><head></head><body><h1>Shop</h1></body></html>")

    app = Starlette(routes=[Route("/", page), Route("/account", page)])
    rules = options.pop("rules", [MboxRule("/{p:path}", mboxes=["target-global-mbox", "hero"])])
    app.add_middleware(TargetMiddleware, client=client, rules=rules, timeout=30.0, **options)
    return app


async def get(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, **kwargs)


def remote(edge: ScriptedEdge) -> TargetClient:
    return TargetClient("acme", ORG, server_domain=edge.domain, secure=False, timeout=30.0)


def logged_in(request: Request) -> list[dict[str, str]]:
    user = request.cookies.get("user")
    return [{"id": user, "integrationCode": "crm", "authenticatedState": "authenticated"}] if user else []


async def third_party(request: Request) -> str | None:
    await asyncio.sleep(0)
    return request.cookies.get("user")


async def test_the_amcv_cookie_and_the_apps_ids_reach_the_edge_in_a_valid_request(edge: ScriptedEdge) -> None:
    app = app_for(remote(edge), customer_ids=logged_in, third_party_id=third_party)
    cookie = f"{amcv_cookie_name(ORG)}={amcv(expires=2_000_000_000)}; user=u-42; mbox=session%23abc%23{2**40}"
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            await http.get(url + "/", headers={"cookie": cookie})
            await http.get(url + "/", headers={"cookie": f"{amcv_cookie_name(ORG)}=MCMID%7C%3Cscript%3E"})
    first, hostile = edge.requests
    assert first.body["id"] == {
        "thirdPartyId": "u-42",
        "marketingCloudVisitorId": ECID,
        "customerIds": [{"id": "u-42", "integrationCode": "crm", "authenticatedState": "authenticated"}],
    }
    assert first.body["experienceCloud"] == {"audienceManager": {"locationHint": 9, "blob": BLOB}}
    assert "id" not in hostile.body
    assert "experienceCloud" not in hostile.body
    assert "script" not in json.dumps(hostile.body)
    for recorded in edge.requests:
        assert schema_errors(recorded.body) == []


async def test_a_rules_ids_replace_the_middlewares_and_sync_and_async_callables_both_work(edge: ScriptedEdge) -> None:
    async def rule_ids(request: Request) -> list[CustomerId]:
        return [CustomerId("acct-7", "loyalty", AuthenticatedState.LOGGED_OUT)]

    rules = [
        MboxRule("/account", mboxes=["hero"], customer_ids=rule_ids, third_party_id="fixed-3p"),
        MboxRule("/", mboxes=["hero"]),
    ]
    app = app_for(remote(edge), rules=rules, customer_ids=logged_in)
    cookie = f"{amcv_cookie_name(ORG)}={amcv(expires=2_000_000_000)}; user=u-1"
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=10, headers={"cookie": cookie}) as http:
            await http.get(url + "/account")
            await http.get(url + "/")
    account, home = (r.body["id"] for r in edge.requests)
    assert account["customerIds"] == [
        {"id": "acct-7", "integrationCode": "loyalty", "authenticatedState": "logged_out"}
    ]
    assert account["thirdPartyId"] == "fixed-3p"
    assert home["customerIds"][0]["id"] == "u-1"
    assert "thirdPartyId" not in home


async def test_ids_the_app_gets_wrong_cost_the_ids_not_the_page(
    edge: ScriptedEdge, caplog: pytest.LogCaptureFixture
) -> None:
    def too_many(request: Request) -> list[dict[str, str]]:
        return [{"id": f"c{i}", "integrationCode": "crm"} for i in range(70)] + [{"id": "", "integrationCode": "x"}]

    def broken(request: Request) -> str:
        raise LookupError("secret-user")

    stats = TargetStats()
    cookie = {"cookie": f"{amcv_cookie_name(ORG)}={amcv(expires=2_000_000_000)}"}
    with caplog.at_level(logging.WARNING, logger="target_middleware"):
        with serve(app_for(remote(edge), customer_ids=too_many, third_party_id=lambda r: "\x00bad")) as url:
            ok = await get(url + "/", headers=cookie)
        with serve(app_for(remote(edge), third_party_id=broken, stats=stats)) as url:
            failed = await get(url + "/", headers=cookie)
    [sent] = edge.requests
    assert len(sent.body["id"]["customerIds"]) == 50
    assert "thirdPartyId" not in sent.body["id"]
    assert schema_errors(sent.body) == []
    assert "<h1>Hi</h1>" in ok.text  # personalized all the same
    assert failed.text == "<html><head></head><body><h1>Shop</h1></body></html>"
    assert stats["error"] == 1  # a callable that raises: the page as it is, counted, logged once
    assert "secret-user" not in caplog.text
    assert "c1" not in caplog.text


def test_bad_identity_configuration_fails_at_construction() -> None:
    client = TargetClient("acme", ORG)
    for options, message in [
        ({"customer_ids": "u-1"}, "customer_ids must be a list"),
        ({"customer_ids": [{"id": "u"}]}, "integrationCode"),
        ({"customer_ids": [{"id": f"{i}", "integrationCode": "c"} for i in range(51)]}, "at most 50"),
        ({"third_party_id": "x" * 200}, "third_party_id must be 1-128"),
    ]:
        with pytest.raises(ValueError, match=message):
            TargetMiddleware(Starlette(), client=client, rules=[], **options)
        with pytest.raises(ValueError, match=message):
            MboxRule("/", mboxes=["m"], **options)


async def test_get_offers_and_notifications_take_the_ids_of_the_visitor_given(edge: ScriptedEdge) -> None:
    visitor = Visitor(
        session_id="s1",
        tnt_id="t1.35_0",
        marketing_cloud_visitor_id=ECID,
        customer_ids=(CustomerId("u-9", "crm", AuthenticatedState.AUTHENTICATED),),
        aam_location_hint=3,
    )
    async with remote(edge) as client:
        result = await client.get_offers(OffersRequest(mboxes=["hero"]), visitor=visitor)
        await client.send_notifications(
            [{"id": "n1", "type": "display", "timestamp": 1, "tokens": ["t"]}], visitor=visitor
        )
    offers, note = (r.body for r in edge.requests)
    for body in (offers, note):
        assert body["id"]["marketingCloudVisitorId"] == ECID
        assert body["id"]["customerIds"] == [
            {"id": "u-9", "integrationCode": "crm", "authenticatedState": "authenticated"}
        ]
        assert schema_errors(body) == []
    assert offers["experienceCloud"] == {"audienceManager": {"locationHint": 3}}
    assert result.visitor.marketing_cloud_visitor_id == ECID  # the visitor after the answer keeps its ids
