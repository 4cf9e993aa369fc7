"""The whole loop in headless Chromium: the demo against the local edge; a click on the hero's button and an order
reach the edge and its report, and forged or replayed beacons reach nothing. Skipped without Chromium/Playwright."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from demo_app.shopper import ecid_from_cookies
from demo_app.target import settings_from_env
from target_middleware import Visitor
from tests.browser import chromium, needs_chromium
from tests.demo.loop import HERO_ACTIVITY, Loop, demo_against_local_edge, hero_tokens, tnt_id_of

pytestmark = needs_chromium

ORG = settings_from_env({}).organization_id
READ_SIGNED_CLICK = """token => {
  const d = JSON.parse(document.querySelector('script[data-target-middleware="click-signatures"]').textContent);
  const [mbox, signature] = d.clicks[token];
  return {expires: d.expires, url: location.href, clicks: [{token, mbox, signature}]};
}"""


@pytest.fixture
def loop() -> Iterator[Loop]:
    with demo_against_local_edge() as running:
        yield running


def _clicks(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in notes if n["notification"]["type"] == "click"]


def _orders(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in notes if n["notification"].get("mbox", {}).get("name") == "orderConfirm"]


def _counted_once(loop: Loop, experience: int) -> None:
    """The visitor's click counted for the experience they saw, none for the other."""
    row = loop.report()[HERO_ACTIVITY, experience]
    assert (row["visitors"], row["impressions"], row["clicks"]) == (1, 1, 1)
    assert loop.report()[HERO_ACTIVITY, 1 - experience]["clicks"] == 0


def _replay_and_forge(loop: Loop, signed: dict[str, Any], *, other: str, own: str | None = None) -> tuple[int, int]:
    """The statuses of the signed beacon sent with another visitor's cookie, and of the beacon with a forged
    signature (with the visitor's own cookie, when given)."""
    headers = {"content-type": "application/json", "origin": loop.shop}
    replayed = httpx.post(
        loop.shop + "/_target/click", content=json.dumps(signed), headers={**headers, "cookie": other}
    )
    forged_body = {**signed, "clicks": [{**signed["clicks"][0], "signature": "A" * 22}]}
    mine = {"cookie": own} if own else {}
    forged = httpx.post(loop.shop + "/_target/click", content=json.dumps(forged_body), headers={**headers, **mine})
    return replayed.status_code, forged.status_code


def _order(tab: Page, shop: str) -> tuple[str | None, str, str]:
    """Order two of the deals page's first item: its SKU, its unit price as shown, the order id."""
    tab.goto(shop + "/deals")
    first = tab.locator(".deal").first  # the form's first item
    sku, unit = first.get_attribute("data-sku"), first.locator(".card-price").inner_text()
    tab.fill(".order-form input[name=quantity]", "2")
    tab.click(".order-form button[type=submit]")
    assert re.search(r"/deals\?ordered=TH-[0-9A-F]{8}$", tab.url)
    return sku, unit, tab.inner_text(".order-id")


def test_a_click_and_an_order_in_chromium_are_counted_and_forged_beacons_are_not(loop: Loop) -> None:
    tokens = {title: (token, experience) for token, (experience, title) in hero_tokens().items()}
    with chromium() as browser:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(loop.shop + "/")
        token, experience = tokens[tab.inner_text("h1.hero-title")]
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        tnt_id, ecid = tnt_id_of(cookies["mbox"]), ecid_from_cookies(cookies, ORG)
        assert ecid is not None
        signed = tab.evaluate(READ_SIGNED_CLICK, token)
        with tab.expect_request(lambda r: r.url == loop.shop + "/_target/click") as asked:
            tab.click("section.hero a.cta")
        assert asked.value.method == "POST"  # its answer may outlive the page: the link navigates away

        (click,) = _clicks(loop.wait_for(_clicks, "the hero's click"))
        assert click["notification"]["tokens"] == [token]
        assert click["notification"]["mbox"] == {"name": "target-global-mbox"}
        assert click["id"]["tntId"] == tnt_id
        assert click["id"]["marketingCloudVisitorId"] == ecid
        _counted_once(loop, experience)

        # The same beacon from another visitor, and one with a forged signature: refused, nothing forwarded.
        other = Visitor(session_id="another-session", tnt_id="another-visitor.28_0").mbox_cookie()
        replayed, forged = _replay_and_forge(loop, signed, other=f"mbox={other.value}")
        assert 400 <= replayed < 500
        assert 400 <= forged < 500

        # An order on the deals page: the handler's track("orderConfirm", order=...) is a conversion.
        sku, unit, order_id = _order(tab, loop.shop)
        notes = loop.wait_for(_orders, "the order")
    (order,) = _orders(notes)
    total = 2 * float(unit.split("€")[-1])
    assert order["notification"]["order"] == {"id": order_id, "total": total, "purchasedProductIds": [sku]}
    assert order["id"]["tntId"] == tnt_id
    # Forwarding is one queue, in order: had a refused beacon been forwarded, it would be here before the order.
    assert [n["notification"]["type"] for n in notes] == ["click", "display"]
    row = loop.report()[HERO_ACTIVITY, experience]
    assert (row["visitors"], row["impressions"], row["clicks"], row["conversions"]) == (1, 1, 1, 1)
    assert row["revenue"] == total


READ_EDGE_CLICK = """token => {
  const d = JSON.parse(document.querySelector('script[data-target-middleware="click-signatures"]').textContent);
  const [mbox, signature, proposition] = d.clicks[token];
  return {expires: d.expires, url: location.href, clicks: [{token, mbox, signature, proposition}]};
}"""


def test_the_same_loop_on_the_edge_network_transport() -> None:
    """The demo on a datastream: the hero's click is a propositionInteract, the order a commerce.purchases event;
    both counted for the experience the visitor saw. A replay for another visitor and a forgery reach nothing."""
    tokens = {title: (token, experience) for token, (experience, title) in hero_tokens().items()}
    identity = f"kndctr_{ORG.replace('@', '_')}_identity"
    with demo_against_local_edge(TARGET_TRANSPORT="edge-network") as loop, chromium() as browser:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(loop.shop + "/")
        token, experience = tokens[tab.inner_text("h1.hero-title")]
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert "mbox" not in cookies  # the datastream's identity, not Target's cookie
        signed = tab.evaluate(READ_EDGE_CLICK, token)
        with tab.expect_request(lambda r: r.url == loop.shop + "/_target/click") as asked:
            tab.click("section.hero a.cta")
        assert asked.value.method == "POST"  # the listener's beacon, with the proposition the page carries

        (click,) = _clicks(loop.wait_for(_clicks, "the hero's click"))
        assert click["notification"]["tokens"] == [token]
        assert click["id"] == {"marketingCloudVisitorId": cookies[identity]}
        _counted_once(loop, experience)

        statuses = _replay_and_forge(
            loop, signed, other=f"{identity}=98765432109876543210", own=f"{identity}={cookies[identity]}"
        )
        assert statuses == (403, 403)

        sku, unit, order_id = _order(tab, loop.shop)
        notes = loop.wait_for(_orders, "the order")
        row = loop.report()[HERO_ACTIVITY, experience]
    (order,) = _orders(notes)
    total = 2 * float(unit.split("€")[-1])
    assert order["notification"]["order"] == {"id": order_id, "total": total, "purchasedProductIds": [sku]}
    assert order["id"] == {"marketingCloudVisitorId": cookies[identity]}
    # One queue, in order: a refused beacon forwarded would be a second click before the order.
    assert [n["notification"]["type"] for n in notes if n["notification"]["type"] == "click"] == ["click"]
    assert (row["visitors"], row["impressions"], row["clicks"], row["conversions"]) == (1, 1, 1, 1)
    assert row["revenue"] == total
