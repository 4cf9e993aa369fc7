"""The demo shop served by uvicorn on 127.0.0.1: every page, personalized, and the /_target debug view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from demo_app.app import create_app
from demo_app.target import ARTIFACT, TargetSettings, settings_from_env
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from target_middleware.identity import amcv_cookie_name
from tests.servers import serve

TITLES = {"Winter sale: 30% off every tent", "Free shipping on every order"}


def hero_title(html: str) -> str:
    found = re.search(r'<h1 class="hero-title">(.*?)</h1>', html)
    assert found, "no hero title on the page"
    return found.group(1)


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with serve(create_app(settings_from_env({}))) as url:
        yield url


async def test_home_is_personalized_in_the_first_byte_and_the_visitor_keeps_its_experience(shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        first = await http.get("/")
        assert first.status_code == 200
        assert "mbox" in first.cookies
        assert "PC%23" in first.cookies["mbox"]  # a tntId: allocation is by visitor
        title = hero_title(first.text)
        assert title in TITLES
        assert 'class="promo-banner' in first.text
        assert "Cookie" in first.headers["vary"]
        assert first.headers["cache-control"].startswith("private")
        for _ in range(5):
            assert hero_title((await http.get("/")).text) == title
    titles = set()
    for _ in range(30):  # new visitors land in both experiences
        async with httpx.AsyncClient(base_url=shop) as http:
            titles.add(hero_title((await http.get("/")).text))
    assert titles == TITLES


async def test_the_campaign_parameter_meets_the_experience_targeting_activity(shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        page = await http.get("/category/tents?utm_campaign=winter")
    assert 'data-audience="newsletter"' in page.text
    assert "SNOW15" in page.text


async def test_product_category_redirect_and_json_pages(shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        tent = await http.get("/products/tent-2p")
        stove = await http.get("/products/stove-ti")
        category = await http.get("/category/sleep")
        sale = await http.get("/summer-sale")
        deals = await http.get(sale.headers["location"])
        missing = await http.get("/products/nope")
    assert "Bundle: add a sleeping pad to Ridgeline 2P Tent and save 15%" in tent.text  # ${mbox.productName}
    assert '<span class="badge">Ships today</span>' in stove.text
    assert '<div id="category-promo" class="category-promo"><div class="promo-card"><h3>Trail-tested Sleep</h3>' in (
        category.text
    )
    assert sale.status_code == 302
    assert sale.headers["location"] == "/deals?from=summer-sale"
    assert "Target sent you here" in deals.text
    headline = re.search(r'<h1 class="deals-headline">(.*?)</h1>', deals.text)
    assert headline
    assert headline.group(1) in {"This week&#39;s deals: up to 30% off", "Bundle and save 20%"}
    assert missing.status_code == 404


async def test_the_page_is_compressed_after_it_is_personalized(shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        page = await http.get("/", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert hero_title(page.text) in TITLES


async def test_mbox_disable_shows_the_page_as_the_app_renders_it(shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        page = await http.get("/?mboxDisable=1")
    assert hero_title(page.text) == "Gear for every trail"
    assert "promo-banner" not in page.text


async def test_the_debug_page_lists_decisions_actions_and_timing(shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        home = await http.get("/")
        debug = await http.get("/_target", params={"path": "/"})
        sale = await http.get("/_target", params={"path": "/summer-sale"})
        bad = await http.get("/_target", params={"path": "//evil.example/"})
        unruled = await http.get("/_target", params={"path": "/static/shop.css"})
    assert debug.status_code == 200
    text = debug.text
    assert "returning (its tntId is in the mbox cookie: same experience)" in text
    experience = "Experience A: Winter sale" if hero_title(home.text).startswith("Winter") else "Experience B"
    assert f"<strong>{experience}" in text  # the experience the visitor's page showed
    assert text.count('class="outcome-applied"') >= 5
    for action in ("setHtml", "setStyle", "insertBefore", "rearrange"):
        assert f"<td>{action}</td>" in text
    assert re.search(r"decision [\d.]+ ms · app render [\d.]+ ms · apply [\d.]+ ms", text)
    assert "https://shop.example/deals?from=summer-sale" in sale.text
    assert "path must be one of the shop&#39;s pages" in bad.text
    assert "path must be one of the shop" in unruled.text


def test_against_a_local_edge_over_http() -> None:
    """Server-side decisioning: the same artifact behind ``python -m target_middleware.edge``, over real HTTP."""
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    with serve(create_edge_app(engine)) as edge:
        settings = TargetSettings(
            "demoshop",
            "DEMO@AdobeOrg",
            decisioning="server-side",
            server_domain=edge.removeprefix("http://"),
            timeout=30.0,
        )
        app = create_app(settings)
        with serve(app) as shop, httpx.Client(base_url=shop) as http:
            first = http.get("/")
            title = hero_title(first.text)
            assert title in TITLES
            assert "PC%23" in first.cookies["mbox"]  # the edge minted the tntId
            assert hero_title(http.get("/").text) == title
            assert http.get("/summer-sale").headers["location"] == "/deals?from=summer-sale"
            # /_target decides with the middleware's own client, on the app's loop (the middleware's is the I/O
            # thread's): both keep working, before and after.
            for _ in range(2):
                debug = http.get("/_target?path=/").text
                assert "server-side decisioning at 127.0.0.1:" in debug
                assert "the decision failed" not in debug
                assert hero_title(http.get("/").text) == title
        stats = app.state.target_stats
        assert not {"timeout", "error", "parseerror", "breaker-open"} & set(stats), dict(stats)


async def test_the_debug_page_counts_pages_served_from_the_rewrite_cache(shop: str) -> None:
    def counts(text: str) -> tuple[int, int]:
        hits = re.search(r"rewrite-cache-hit: (\d+)", text)
        misses = re.search(r"rewrite-cache-miss: (\d+)", text)
        return int(hits.group(1)) if hits else 0, int(misses.group(1)) if misses else 0

    async with httpx.AsyncClient(base_url=shop) as http:
        first = await http.get("/products/stove-ti")
        hits, misses = counts((await http.get("/_target", params={"path": "/"})).text)
        again = await http.get("/products/stove-ti")  # the same visitor, page and experience
        after = counts((await http.get("/_target", params={"path": "/"})).text)
    # The same rewrite, served twice; only the page view's own A4T supplementalDataId differs (spliced after it).
    island = re.compile(rb'<script type="application/json" id="target-analytics">.*?</script>')
    assert island.sub(b"", again.content) == island.sub(b"", first.content)
    assert after == (hits + 1, misses)
    assert misses >= 1


async def test_a_visitor_with_an_experience_cloud_id_is_allocated_on_it_and_the_debug_page_agrees(shop: str) -> None:
    org = settings_from_env({}).organization_id
    shared_tnt = quote("session#s1#4000000000|PC#f00dfeedf00dfeedf00dfeedf00dfeed.35_0#4000000000", safe="")
    titles = set()
    for i in range(12):
        ecid = f"{i:038d}"
        amcv = quote(f"MCMID|{ecid}|MCAAMLH-4000000000|7", safe="")
        cookies = {"mbox": shared_tnt, amcv_cookie_name(org): amcv}
        async with httpx.AsyncClient(base_url=shop, cookies=cookies) as http:
            title = hero_title((await http.get("/")).text)
            assert hero_title((await http.get("/")).text) == title  # the same ECID, the same experience
            debug = (await http.get("/_target", params={"path": "/"})).text
        experience = "Experience A: Winter sale" if title.startswith("Winter") else "Experience B"
        assert f"<strong>{experience}" in debug
        assert f"Experience Cloud ID {ecid}" in debug
        titles.add(title)
    assert titles == TITLES  # one tntId for all of them: only allocation on the ECID splits them
