"""The demo in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Skipped, not failed, where there is no Chromium or no Playwright; ``.ci/run`` installs both. Playwright's own
browser downloads are never used: the system's Chromium is launched by path. Pages come from 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo_app.app import create_app
from demo_app.target import settings_from_env
from tests.servers import serve

TITLES = {"Winter sale: 30% off every tent", "Free shipping on every order"}
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = chromium_path()
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (.[test])")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install chromium, or set CHROMIUM=/path/to/chromium)"
)


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with serve(create_app(settings_from_env({}))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        # launch() gives the browser a fresh temporary profile, removed when it closes.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def test_the_personalized_page_is_in_the_dom_and_the_visitor_keeps_its_experience(browser: Any, shop: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(shop + "/")
        assert response is not None
        title = page.inner_text("h1.hero-title")
        assert title in TITLES
        assert title in response.text()  # in the HTML as it arrived: nothing to flicker
        assert page.locator(".promo-banner").count() == 1
        assert page.locator("script[src*='at.js']").count() == 0
        order = page.locator("ul.product-grid > li").evaluate_all("els => els.map(e => e.dataset.sku)")
        assert order != ["tent-2p", "quilt-20", "stove-ti", "pack-45"]  # rearranged
        assert any(c["name"] == "mbox" for c in context.cookies())
        for _ in range(3):
            page.reload()
            assert page.inner_text("h1.hero-title") == title
            assert page.locator("ul.product-grid > li").evaluate_all("els => els.map(e => e.dataset.sku)") == order
    finally:
        context.close()


def test_the_page_is_personalized_with_javascript_disabled(browser: Any, shop: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(shop + "/?utm_campaign=winter")
        assert page.inner_text("h1.hero-title") in TITLES
        assert "SNOW15" in page.inner_text(".notice-bar")
        page.goto(shop + "/category/sleep")
        assert page.inner_text("#category-promo h3") == "Trail-tested Sleep"
        page.goto(shop + "/summer-sale")  # a 302 from the server, no script needed
        assert page.url == shop + "/deals?from=summer-sale"
        assert page.locator(".redirect-note").count() == 1
    finally:
        context.close()


def test_the_experience_styles_render(browser: Any, shop: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(shop + "/")
        title = page.inner_text("h1.hero-title")
        if title.startswith("Winter"):
            colour = page.locator("a.cta").evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(194, 65, 12)"  # setStyle #c2410c, !important
        else:
            image = page.locator("section.hero").evaluate("e => getComputedStyle(e).backgroundImage")
            assert "rgb(15, 118, 110)" in image  # setStyle's gradient won over the stylesheet's
    finally:
        context.close()
