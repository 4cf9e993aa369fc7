"""The demo's shopper: an Experience Cloud ID cookie, a demo sign-in, and the deals page's order form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest

from demo_app.app import create_app
from demo_app.shopper import amcv_cookie_name, ecid_from_cookies
from demo_app.target import settings_from_env
from tests.servers import serve

ORG = settings_from_env({}).organization_id
AMCV = amcv_cookie_name(ORG)


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with serve(create_app(settings_from_env({}))) as url:
        yield url


def test_the_amcv_cookie_name_encodes_the_org_ids_at_sign() -> None:
    assert AMCV == "AMCV_DEMO0000000000000000000%40AdobeOrg"


def test_a_new_visitor_gets_an_ecid_that_stays_and_is_shown_on_the_debug_page(shop: str) -> None:
    with httpx.Client(base_url=shop) as http:
        first = http.get("/")
        ecid = ecid_from_cookies({AMCV: first.cookies[AMCV]}, ORG)
        assert ecid is not None
        assert unquote(first.cookies[AMCV]).startswith(f"MCMID|{ecid}|")
        again = http.get("/deals")
        assert AMCV not in again.cookies  # kept, not replaced
        debug = http.get("/_target", params={"path": "/"})
        assert f'<code class="ecid">{ecid}</code>' in debug.text
        assert http.get("/static/shop.css").headers.get("set-cookie") is None
    with httpx.Client(base_url=shop) as other:
        assert ecid_from_cookies({AMCV: other.get("/").cookies[AMCV]}, ORG) != ecid
    with httpx.Client(base_url=shop, cookies={AMCV: "MCMID|<b>forged</b>"}) as forged:
        replaced = forged.get("/").cookies[AMCV]
        assert ecid_from_cookies({AMCV: replaced}, ORG) is not None


def test_signing_in_makes_a_customer_id_and_signing_out_removes_it(shop: str) -> None:
    with httpx.Client(base_url=shop) as http:
        assert "Sign in as a demo shopper" in http.get("/").text
        signed = http.get("/login", params={"user": "Alice", "next": "/deals"})
        assert signed.status_code == 303
        assert signed.headers["location"] == "/deals"
        assert "HttpOnly" in signed.headers["set-cookie"]
        assert '<strong class="account-user">alice</strong>' in http.get("/deals").text
        debug = http.get("/_target", params={"path": "/"}).text
        assert '<code class="customer-id">alice</code> (trailhead, authenticated)' in debug
        assert re.search(r'<code class="sdid">[0-7][0-9A-F]{15}-[0-7][0-9A-F]{15}</code>', debug)
        out = http.get("/logout", params={"next": "/deals"})
        assert out.headers["location"] == "/deals"
        assert "Sign in as a demo shopper" in http.get("/deals").text
        assert "customer-id" not in http.get("/_target", params={"path": "/"}).text
        for name in ("", "a b", "<script>", "x" * 33, "../admin"):
            assert http.get("/login", params={"user": name}).status_code == 400
        for where in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            assert http.get("/login", params={"user": "bob", "next": where}).headers["location"] == "/"


def test_the_order_form_places_an_order_and_shows_its_id(shop: str) -> None:
    with httpx.Client(base_url=shop) as http:
        deals = http.get("/deals").text
        form = re.search(r'<form class="order-form" method="post" action="/deals/order">(.*?)</form>', deals, re.S)
        assert form is not None
        discount = re.search(r'name="discount" value="(\d+)"', form.group(1))
        sku = re.search(r'<option value="([\w-]+)">', form.group(1))
        assert discount
        assert sku
        placed = http.post("/deals/order", data={"sku": sku.group(1), "quantity": "2", "discount": discount.group(1)})
        assert placed.status_code == 303
        location = placed.headers["location"]
        assert re.fullmatch(r"/deals\?ordered=TH-[0-9A-F]{8}", location)
        confirmation = http.get(location).text
        assert f'<strong class="order-id">{location.rsplit("=", 1)[1]}</strong> placed' in confirmation


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        ("sku=tent-2p&quantity=1&discount=10", "application/json", "posted as a form"),
        ("sku=nope&quantity=1&discount=10", None, "no such product"),
        ("sku=tent-2p&quantity=0&discount=10", None, "quantity must be 1 to 10"),
        ("sku=tent-2p&quantity=11&discount=10", None, "quantity must be 1 to 10"),
        ("sku=tent-2p&quantity=-1&discount=10", None, "quantity must be 1 to 10"),
        ("sku=tent-2p&quantity=1&discount=90", None, "discount must be"),
        ("sku=tent-2p&sku=quilt-20&quantity=1&discount=10", None, "exactly one sku"),
        ("quantity=1&discount=10", None, "exactly one sku"),
        ("sku=tent-2p&quantity=1&discount=10&" + "x=1&" * 2000, None, "too large"),
        ("sku=t%C3%A9nt&quantity=1&discount=10", None, "no such product"),
        ("sku=tent-2p&quantity=1&discount=10&%ff", None, "cannot be read"),
        ("sku=tent-2p&quantity=1&discount=10&n=\u00e9", None, "cannot be read"),  # not ASCII
        ("===&&&", None, "cannot be read"),
    ],
)
def test_a_bad_order_form_is_a_400_saying_why(shop: str, body: str, content_type: str | None, why: str) -> None:
    headers = {"content-type": content_type or "application/x-www-form-urlencoded"}
    reply = httpx.post(shop + "/deals/order", content=body.encode(), headers=headers)
    assert reply.status_code == 400
    assert why in reply.text
    assert "<script" not in reply.text
