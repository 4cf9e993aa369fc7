"""Hostile cookies and params: the edge host is only ever mboxedge<cluster> of Adobe's domain or server_domain."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware import TargetClient, TargetStats
from target_middleware.visitor import Visitor

from .faultedge import good_answer
from .harness import assert_whole, call, page_app
from .test_hostile_offers import assert_headers_clean

EDGE_HOST = re.compile(r"(mboxedge[0-9A-Za-z]{1,16}|acme)\.tt\.omtrdc\.net")
SESSION = re.compile(r"[!$&'()*+\-.0-9:<=>@A-Z\[\]^_`a-z{}~]{1,128}")
EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LATER = int(time.time()) + 3600

HOSTILE_CLUSTERS = [
    "evil.example",
    "35.evil.example",
    "evil.example/",
    "evil.example%2F",
    "35%2Eevil",
    "35@evil",
    "35:443",
    "35#",
    "35?x=1",
    "..",
    "35\r\nHost: evil",
    "x" * 5000,
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes, a host name says no
    "３５",
]
HOSTILE_MBOX = [
    f"session%23a%2Fb%23{LATER}",  # '/' in the session id
    f"session%23a%3Fb%23{LATER}",  # '?'
    f"session%23a%26imsOrgId%3Devil%23{LATER}",  # '&': another query parameter
    f"session%23a%23b%23{LATER}",  # an extra '#'
    f"session#ok#{LATER}|PC#abc.evil.example_1#{LATER}",
    f"session#ok#{LATER}|PC#abc.35_1/evil#{LATER}",
    f"session#ok#{LATER};PC#x.35_1#{LATER}",  # wrong separator
    f"session%7Cok%23{LATER}%7CPC%23x.evil_1%23{LATER}",
    f"session#{'s' * 5000}#{LATER}",
    f"session#ok#{'9' * 400}",
    "%" * 100,
    "%E0%A4%A",
    "session#\u0661#" + "\u0661" * 10,
]


def assert_safe_url(url: str, visitor: Visitor) -> None:
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert EDGE_HOST.fullmatch(parts.netloc), parts.netloc
    assert parts.path == "/rest/v1/delivery"
    query = parse_qs(parts.query)
    assert set(query) == {"imsOrgId", "sessionId"}
    assert query["sessionId"] == [visitor.session_id]
    assert SESSION.fullmatch(visitor.session_id)


@pytest.mark.parametrize("cluster", HOSTILE_CLUSTERS)
@pytest.mark.parametrize("mbox", ["", *HOSTILE_MBOX])
def test_hostile_cookies_never_name_another_host(cluster: str, mbox: str) -> None:
    client = TargetClient("acme", "O@AdobeOrg")
    visitor = Visitor.from_cookies({"mbox": mbox, "mboxEdgeCluster": cluster})
    assert_safe_url(client.url_for(visitor), visitor)
    assert visitor.edge_cluster is None or re.fullmatch(r"[0-9A-Za-z]{1,16}", visitor.edge_cluster)


@EXAMPLES
@given(
    mbox=st.text(alphabet=st.sampled_from("session#PC|%2F3AaZz.:_/?&=@\\;, \r\n\x00é35"), max_size=80),
    cluster=st.text(max_size=40),
)
def test_any_cookie_gives_a_safe_edge_url(mbox: str, cluster: str) -> None:
    visitor = Visitor.from_cookies({"mbox": mbox, "mboxEdgeCluster": cluster})
    assert_safe_url(TargetClient("acme", "O@AdobeOrg").url_for(visitor), visitor)
    with_domain = TargetClient("acme", "O@AdobeOrg", server_domain="edge.example.com")
    assert urlsplit(with_domain.url_for(visitor)).netloc == "edge.example.com"


async def test_hostile_cookies_through_the_middleware_reach_only_target_and_write_clean_cookies() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=good_answer(__import__("json").loads(request.content)))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = TargetClient("acme", "O@AdobeOrg", http_client=http)
        app = page_app(client, io_thread=False, stats=TargetStats())
        for cluster in HOSTILE_CLUSTERS:
            for mbox in HOSTILE_MBOX:
                cookie = f"mbox={mbox}; mboxEdgeCluster={quote(cluster, safe='%')}"
                answer = await call(app, headers={"cookie": cookie})
                assert_whole(answer)
                assert_headers_clean(answer)
                assert b"Edge offer for" in answer.body
                for set_cookie in answer.all("set-cookie"):
                    name, _, rest = set_cookie.partition("=")
                    value = rest.split(";", 1)[0]
                    assert name in ("mbox", "mboxEdgeCluster")
                    assert re.fullmatch(r"[0-9A-Za-z%._-]+", value), set_cookie
    assert len(seen) == len(HOSTILE_CLUSTERS) * len(HOSTILE_MBOX)
    for request in seen:
        assert EDGE_HOST.fullmatch(request.url.host)
        assert request.url.path == "/rest/v1/delivery"


def test_over_long_and_odd_cookies_make_a_fresh_valid_visitor() -> None:
    cookies: dict[str, Any] = {"mbox": "session#" + "a" * 129 + f"#{LATER}", "mboxEdgeCluster": "35" * 9}
    visitor = Visitor.from_cookies(cookies)
    assert SESSION.fullmatch(visitor.session_id)
    assert visitor.edge_cluster is None
    assert visitor.tnt_id is None
