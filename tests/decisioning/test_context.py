from __future__ import annotations

import pytest

from target_middleware.decisioning.context import (
    base_context,
    geo_context,
    mbox_context,
    time_context,
    url_context,
    user_context,
)


@pytest.mark.parametrize(
    ("url", "domain", "subdomain", "tld"),
    [
        (
            "https://pied.piper.decentralized.test.hooli.com/?implementation=psl",
            "hooli.com",
            "pied.piper.decentralized.test",
            "com",
        ),
        (
            "https://test.wayne-enterprises.us-east-1.elasticbeanstalk.com",
            "wayne-enterprises.us-east-1.elasticbeanstalk.com",
            "test",
            "us-east-1.elasticbeanstalk.com",
        ),
        ("http://www.bbc.co.uk/news", "bbc.co.uk", "", "co.uk"),
        ("http://WWW.Shop.Example.COM:8080/A", "example.com", "shop", "com"),
        ("http://local-target-test:8080/home", "local-target-test", "", ""),
        ("not a url", "", "", ""),
        ("", "", "", ""),
    ],
)
def test_url_parts_use_the_public_suffix_list(url: str, domain: str, subdomain: str, tld: str) -> None:
    parts = url_context(url)
    assert (parts["domain"], parts["subdomain"], parts["topLevelDomain"]) == (domain, subdomain, tld)
    assert parts["domain_lc"] == domain.lower()
    assert parts["url"] == url


def test_url_path_query_fragment() -> None:
    parts = url_context("http://local-target-test:8080/Home?Bar=true#Hello")
    assert (parts["path"], parts["query"], parts["fragment"]) == ("/Home", "Bar=true", "Hello")
    assert (parts["path_lc"], parts["query_lc"], parts["fragment_lc"]) == ("/home", "bar=true", "hello")


def test_a_url_without_scheme_starts_with_its_host() -> None:
    parts = url_context("www.shop.example.co.uk/cart?x=1#top")
    assert (parts["domain"], parts["subdomain"], parts["topLevelDomain"]) == ("example.co.uk", "shop", "co.uk")
    assert (parts["path"], parts["query"], parts["fragment"]) == ("/cart", "x=1", "top")
    relative = url_context("/cart?x=1")
    assert (relative["domain"], relative["path"], relative["query"]) == ("", "/cart", "x=1")


@pytest.mark.parametrize(
    ("agent", "browser", "version", "platform"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/80.0.3987.163 Safari/537.36",
            "chrome",
            80,
            "mac",
        ),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0", "firefox", 120, "windows"),
        ("Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", "ie", 11, "windows"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
            "Safari/537.36 Edg/120.0.0.0",
            "edge",
            120,
            "linux",
        ),
        ("", "unknown", -1, "unknown"),
    ],
)
def test_user_from_user_agent(agent: str, browser: str, version: int, platform: str) -> None:
    user = user_context(agent)
    assert (user["browserType"], user["browserVersion"], user["platform"]) == (browser, version, platform)
    assert user["locale"] == "en"


def test_user_from_client_hints_without_user_agent() -> None:
    hints = {
        "browserUAWithMajorVersion": '"Chromium";v="110", "Not A(Brand";v="24", "Google Chrome";v="110"',
        "platform": "macOS",
    }
    user = user_context(None, hints)
    assert (user["browserType"], user["browserVersion"], user["platform"]) == ("chrome", 110, "mac")


def test_mbox_params_nest_dotted_names_with_lowercase_twins() -> None:
    ctx = mbox_context({"parameters": {"favorite.color": "Red", "a..b": "X", "plain": "V", ".x": "y"}})
    assert ctx["favorite"] == {"color": "Red", "color_lc": "red"}
    assert ctx["a..b"] == "X"
    assert ctx["a..b_lc"] == "x"
    assert ctx["plain_lc"] == "v"
    assert ctx[".x"] == "y"
    assert mbox_context({}) == {}
    assert mbox_context(None) == {}


def test_time_is_utc() -> None:
    # 2020-03-25T01:05Z, a Wednesday.
    assert time_context(1585098300000) == {"current_timestamp": 1585098300000, "current_time": "0105", "current_day": 3}
    assert time_context(1585440000000)["current_day"] == 7  # Sunday 2020-03-29


def test_geo_and_base_context() -> None:
    geo = geo_context({"countryCode": "US", "stateCode": "CA", "city": "SF", "latitude": 1.5, "zip": "9"})
    assert geo == {"country": "US", "region": "CA", "city": "SF", "latitude": 1.5}
    ctx = base_context(
        {"address": {"url": "http://a.example.com/x", "referringUrl": "https://g.com/"}, "userAgent": "curl/8"}, 0, geo
    )
    assert ctx["page"]["domain"] == "example.com"
    assert ctx["referring"]["domain"] == "g.com"
    assert ctx["geo"] == geo
    assert ctx["current_time"] == "0000"
