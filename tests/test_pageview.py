"""The page view read from the scope alone is the one built through a Starlette Request: URL, page, visitor, mboxes."""

from __future__ import annotations

import asyncio
import itertools
import re
from types import MappingProxyType
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.datastructures import URL
from starlette.requests import Request

from target_middleware import pageurl, pageview
from target_middleware import visitor as visitor_module
from target_middleware.delivery.context import PageContext
from target_middleware.delivery.params import Mbox
from target_middleware.pageurl import page_url
from target_middleware.pageview import ScopedPageViews, needs_request, page_view, page_view_from_scope
from target_middleware.routing import MboxRule, RouteMatch

ORG = "B8D07FF5@AdobeOrg"
NOW_S = 1_700_000_001

# -- the URL -------------------------------------------------------------------------------------------------------

hosts = st.one_of(
    st.sampled_from(
        [
            "shop.example",
            "Shop.Example:8080",
            "127.0.0.1",
            "127.0.0.1:80",
            "h:65535",
            "h:65536",
            "h:099999",
            "h:0",
            "h:",
            ":80",
            "[::1]",
            "[::1]:8443",
            "[::1",
            "[fe80::1%25eth0]",
            "a_b.example",
            "a b",
            "x/y",
            "x?y",
            "x#y",
            "é.example",
            "",
            "sub.shop-1.example:443",
        ]
    ),
    st.text(alphabet="aZ09.-:[]_%", max_size=12),
)
paths = st.one_of(
    st.sampled_from(["/", "/page", "/a/b/", "//evil", "", "page", "/a?b", "/a#b", "/a\\b", "/é", "/%20", "/a;b"]),
    st.text(alphabet="/ab?#\\%é.", max_size=10),
)
queries = st.one_of(
    st.sampled_from([b"", b"q=1", b"q=%C3%A9&x", "é=ü".encode(), b"\xff\xfe", b"a=b#c", b"?"]),
    st.binary(max_size=6),
)
servers = st.sampled_from([None, ("10.0.0.1", 80), ("10.0.0.1", 8080), ("::1", 443), ("::1", 80), ("h", 443)])


@st.composite
def url_scopes(draw: st.DrawFn) -> dict[str, Any]:
    headers = [(b"accept", b"*/*")]
    for host in draw(st.lists(hosts, max_size=2)):
        headers.insert(draw(st.integers(0, len(headers))), (b"host", host.encode("utf-8")))
    scope: dict[str, Any] = {"type": "http", "path": draw(paths), "headers": headers}
    scheme = draw(st.sampled_from([None, "http", "https", "ws", "wss"]))
    if scheme is not None:
        scope["scheme"] = scheme
    server = draw(servers)
    if server is not None:
        scope["server"] = server
    if draw(st.booleans()):
        scope["query_string"] = draw(queries)
    if draw(st.booleans()):
        scope["root_path"] = draw(st.sampled_from(["", "/app", "/a"]))
    return scope


def starlette_url(scope: dict[str, Any]) -> str:
    return str(Request(scope).url)


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as exc:  # the same failure (its class) where Starlette fails
        return "raises", type(exc)


def plain(host: bytes, path: str = "/p", **more: Any) -> dict[str, Any]:
    return {"type": "http", "path": path, "headers": [(b"host", host)], **more}


@settings(max_examples=500)
@given(url_scopes())
@example(plain(b"h:9999"))
@example(plain(b"h:65535"))  # a five-digit port: Starlette's to say (it takes this one, not the next)
@example(plain(b"h:65536"))
@example(plain(b"h:099999"))
@example(plain(b"h", "/a\\b"))
@example(plain(b"h", "/a#b"))
@example(plain(b"h", "/a?b"))
@example(plain(b"h", ""))
@example(plain(b"h", "//evil"))
@example(plain(b"h_1"))
@example(plain(b"h", scheme="ws"))
@example(plain(b"h", scheme=""))
@example(plain(b"h", scheme="wss", server=("h", 443)))
@example({"type": "http", "path": "/p", "headers": [(b"host", b"shop.example:8080")], "query_string": b"a=1"})
@example({"type": "http", "path": "/p", "headers": [(b"host", b"shop.example")], "query_string": b"\xff"})
@example({"type": "http", "path": "/p", "headers": [(b"host", b"a"), (b"host", b"b")], "scheme": "https"})
@example({"type": "http", "path": "/p", "headers": [], "server": ("::1", 8080)})
@example({"type": "http", "path": "/a?b", "headers": [(b"host", b"h")]})
def test_page_url_is_starlettes_url(scope: dict[str, Any]) -> None:
    """Starlette's URL, the first time and again (the plain URL remembered), and for the same page with another
    scheme or query string."""

    def both(scope: dict[str, Any]) -> tuple[Any, Any]:
        return outcome(lambda: page_url(scope, dict(reversed(scope["headers"])))), outcome(lambda: starlette_url(scope))

    for _ in range(2):
        got, expected = both(scope)
        assert got == expected
    for other in ({"scheme": "https" if scope.get("scheme") == "http" else "http"}, {"query_string": b"o=1"}):
        got, expected = both({**scope, **other})
        assert got == expected


def test_the_plain_url_is_taken_without_starlette_for_a_plain_request() -> None:
    scope = {"type": "http", "scheme": "https", "path": "/p/q", "query_string": b"x=1", "headers": [(b"host", b"h:81")]}
    with mock.patch.object(pageurl, "URL", side_effect=AssertionError("not asked")):
        assert page_url(scope, dict(reversed(scope["headers"]))) == "https://h:81/p/q?x=1"
    assert pageurl._FAST_URL  # the installed Starlette agreed on the probes
    odd = {"type": "http", "path": "/p", "headers": [(b"host", b"[::1]:80")]}
    with mock.patch.object(pageurl, "URL", wraps=URL) as asked:
        assert page_url(odd, dict(reversed(odd["headers"]))) == "http://[::1]:80/p"
    asked.assert_called_once()


def test_the_urls_remembered_are_bounded() -> None:
    for n in range(pageurl._MAX_URLS + 10):
        scope = plain(b"shop.example", f"/p{n}")
        assert page_url(scope, {b"host": b"shop.example"}) == starlette_url(scope)
    assert 0 < len(pageurl._URLS) <= pageurl._MAX_URLS  # cleared when full, then filled again
    pageurl._URLS.clear()
    long = plain(b"shop.example", "/" + "x" * 2 * pageurl._MAX_KEPT)
    assert page_url(long, {b"host": b"shop.example"}) == starlette_url(long)
    assert pageurl._URLS == {}  # right, and not kept


def test_the_hosts_remembered_are_bounded_and_each_one_is_right() -> None:
    pageurl._HOSTS.clear()
    pageurl._URLS.clear()
    for n in range(pageurl._MAX_HOSTS + 50):
        host = f"h{n}.example" if n % 2 else f"h{n}.example:99999"  # plain, and not (a port Starlette refuses)
        scope = plain(host.encode())
        assert page_url(scope, {b"host": host.encode()}) == starlette_url(scope)
        assert page_url(scope, {b"host": host.encode()}) == starlette_url(scope)  # remembered, or checked again
    assert len(pageurl._HOSTS) == pageurl._MAX_HOSTS


# -- the whole page view --------------------------------------------------------------------------------------------

session_ids = st.sampled_from(["abc", "0" * 32 + "s", "a!$&'()*+-.:<=>@[]^_`{}~z", "x" * 128, "x" * 129, "a b", ""])
tnt_ids = st.sampled_from(
    [None, "t1", "abc.35_0", "u" * 100 + ".7_1", "u" * 101, "a.b.c", "x" * 94 + ".1234567890_12345", "bad id", ""]
)
expiries = st.sampled_from([NOW_S - 1, NOW_S, NOW_S + 1, 1_900_000_000, "x", "", "12a", "²"])


@st.composite
def mbox_cookies(draw: st.DrawFn) -> str:
    """mbox cookie values: as at.js and we write them (escaped or not), near misses, and anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(alphabet="session#PC|%23%7C0123abc.", max_size=60))
    value = f"session#{draw(session_ids)}#{draw(expiries)}"
    tnt = draw(tnt_ids)
    if tnt is not None:
        value += f"|PC#{tnt}#{draw(expiries)}"
    if draw(st.integers(0, 5)) == 0:
        value += draw(st.sampled_from(["|", "|x#y#1", "|session#b#1900000000", "#", "%41", "%7c"]))
    escape = draw(st.sampled_from(["none", "separators", "all"]))
    if escape == "separators":
        value = value.replace("#", "%23").replace("|", "%7C")
    elif escape == "all":
        value = "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in value if ord(c) < 128)
    return value


@st.composite
def cookie_headers(draw: st.DrawFn) -> str | None:
    cookies = []
    if draw(st.booleans()):
        cookies.append(f"mbox={draw(mbox_cookies())}")
    cluster = draw(st.sampled_from([None, "35", "bad cluster!", ""]))
    if cluster is not None:
        cookies.append(f"mboxEdgeCluster={cluster}")
    if draw(st.booleans()):
        session = draw(st.sampled_from(["", f"; AMCVS_{ORG.replace('@', '%40')}=1"]))
        cookies.append(f"AMCV_{ORG.replace('@', '%40')}=1585540135%7CMCMID%7C12345678901234567890{session}")
    if draw(st.booleans()):
        cookies.append(draw(st.sampled_from(["kndctr_ORG_AdobeOrg_identity=CiY", "kndctr_x=1", "other=1"])))
    if not cookies and draw(st.booleans()):
        return None
    return "; ".join(cookies)


@st.composite
def page_scopes(draw: st.DrawFn) -> dict[str, Any]:
    headers: list[tuple[bytes, bytes]] = []
    optional = {
        b"host": st.sampled_from(["shop.example", "shop.example:8443", "[::1]:8080", "bad host"]),
        b"referer": st.sampled_from(["", "https://ref.example/x?y=1"]),
        b"user-agent": st.sampled_from(["", "Mozilla/5.0 (X11)", "UA\xe9"]),
        b"sec-ch-ua-mobile": st.sampled_from(["?0", "?1", "?2", ""]),
        b"sec-ch-ua-platform": st.sampled_from(['"Windows"', "Linux", '"', ""]),
        b"sec-ch-ua": st.sampled_from(['"Chromium";v="124"', ""]),
        b"sec-ch-ua-model": st.sampled_from(['""', '"Pixel"']),
        b"sec-ch-ua-bitness": st.sampled_from(['"64"']),
    }
    for name, values in optional.items():
        for _ in range(draw(st.integers(0, 2))):  # absent, once, or twice (the first one counts)
            headers.append((name, draw(values).encode("latin-1")))
    cookie = draw(cookie_headers())
    if cookie is not None:
        for _ in range(draw(st.integers(1, 2))):
            headers.append((b"cookie", cookie.encode("latin-1")))
            cookie = "mbox=session%23second%231900000000"
    headers = draw(st.permutations(headers))
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": draw(st.sampled_from(["http", "https"])),
        "path": draw(st.sampled_from(["/", "/page", "/p/é"])),
        "query_string": draw(
            st.sampled_from([b"", b"a=1", b"at_preview_token=tok&at_preview_index=1_2", b"mboxTrace=1&authorization=t"])
        ),
        "headers": headers,
        "server": ("10.0.0.1", 80),
    }
    client = draw(st.sampled_from([None, ("198.51.100.7", 5000), ("::1", 1)]))
    if client is not None:
        scope["client"] = client
    return scope


RULES = [
    MboxRule("/{p:path}", mboxes=["target-global-mbox"]),
    MboxRule("/{p:path}", mboxes=["hero", "footer"], views=True),
    MboxRule("/{p:path}", mboxes=["hero"], params={"a": "1", "productId": "p"}, profile_params={"tier": "gold"}),
    MboxRule("/{p:path}", mboxes=["hero"], profile_params={"tier": 2}),
    MboxRule("/{p:path}", mboxes=["hero"], third_party_id="3p", customer_ids=[{"id": "c", "integrationCode": "i"}]),
]
rules = st.sampled_from(RULES)
IDENTITIES: list[tuple[Any, Any]] = [
    (None, None),
    ([{"id": "c1", "integrationCode": "crm", "authenticatedState": "authenticated"}], "3p-1"),
    ([{"id": "", "integrationCode": "crm"}], " "),  # dropped, with a WARNING each
]
identities = st.sampled_from(IDENTITIES)


def fixed_session_ids() -> Any:
    """Fresh session ids that the two paths draw alike: new0, new1, ..."""
    counter = itertools.count()
    return mock.patch.object(visitor_module, "new_session_id", side_effect=lambda: f"new{next(counter)}")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(page_scopes(), rules, identities, st.tuples(st.booleans(), st.booleans(), st.sampled_from(["", ORG])))
def test_page_view_from_the_scope_is_the_one_through_a_request(
    scope: dict[str, Any], rule: MboxRule, identity: tuple[Any, Any], options: tuple[bool, bool, str]
) -> None:
    customer_ids, third_party_id = identity
    qa_mode, trace, organization_id = options
    named: dict[str, Any] = {
        "qa_mode": qa_mode,
        "trace": trace,
        "deferred_display": trace,
        "organization_id": organization_id,
        "customer_ids": customer_ids,
        "third_party_id": third_party_id,
    }
    assert not needs_request(rule, customer_ids, third_party_id)
    with fixed_session_ids():
        match = RouteMatch(rule, {})
        general = outcome(lambda: asyncio.run(pageview._page_view_with_request(scope, match, analytics=None, **named)))
    with fixed_session_ids():
        fast = outcome(lambda: page_view_from_scope(scope, rule, **named))
    assert fast == general
    # Equal field by field; a bare rule's mbox params are the one read-only empty mapping, not a fresh dict, and
    # the client hints the browser's read-only ones.
    assert re.sub(r"mappingproxy\((\{[^{}]*\})\)", r"\1", repr(fast)) == repr(general)
    if fast[0] == "value":
        assert [type(m) for m in fast[1].offers.mboxes] == [Mbox] * len(rule.mboxes)


# Every header name read()'s one table lookup reads (pageview._READ), a name that only begins like one of them, and
# names it does not read; a few values each, Chromium's among them.
_HEADER_VALUES: dict[bytes, list[bytes]] = {
    b"host": [b"shop.example", b"shop.example:8443", b"[::1]"],
    b"referer": [b"https://ref.example/x?y=1", b""],
    b"cookie": [f"mbox=session%23s-1%23{NOW_S + 60}%7CPC%23t1.35_0%23{NOW_S + 60}".encode(), b"a=1", b""],
    b"user-agent": [b"Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0", b"curl/8", b""],
    b"sec-ch-ua": [b'"Not:A-Brand";v="8", "Chromium";v="156"', b""],
    b"sec-ch-ua-mobile": [b"?0", b"?1"],
    b"sec-ch-ua-platform": [b'"Linux"', b'"Windows"'],
    b"sec-ch-ua-model": [b'""', b'"Pixel 9"'],
    b"sec-ch-ua-platform-version": [b'"6.1.0"'],
    b"sec-ch-ua-full-version-list": [b'"Chromium";v="156.0.7000.1"'],
    b"sec-ch-ua-arch": [b'"x86"', b'"arm"'],
    b"sec-ch-ua-bitness": [b'"64"'],
    b"sec-ch-ua-wow64": [b"?0"],
    b"accept": [b"text/html"],
    b"x-user-agent": [b"other"],
}
header_lines = st.lists(
    st.sampled_from(sorted(_HEADER_VALUES)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from(_HEADER_VALUES[name]))
    ),
    max_size=24,
)


@settings(max_examples=400)
@given(header_lines)
@example([(b"sec-ch-ua-arch", b'"x86"'), (b"sec-ch-ua-arch", b'"arm"'), (b"sec-ch-ua", b"")])
@example([(b"referer", b""), (b"referer", b"https://ref.example/x?y=1"), (b"cookie", b"a=1"), (b"cookie", b"")])
def test_the_headers_read_are_the_first_of_each_name_as_the_headers_dict_reads_them(
    lines: list[tuple[bytes, bytes]],
) -> None:
    """read() takes each header it reads from one table lookup on the request's headers laid over every name it
    reads (None where absent): what the plain dict of the first of each name gave (repeats, absent names, any
    order), checked against the general path (Starlette's ``Headers``)."""
    scope = {"type": "http", "method": "GET", "scheme": "https", "path": "/page", "headers": lines}
    rule = MboxRule("/{p:path}", mboxes=["target-global-mbox"])
    named: dict[str, Any] = {
        "qa_mode": False,
        "trace": False,
        "deferred_display": False,
        "organization_id": "",
        "customer_ids": None,
        "third_party_id": None,
    }
    pageview._BROWSERS.clear()  # both ways of the browser's part: read and remembered
    with fixed_session_ids():
        general = asyncio.run(pageview._page_view_with_request(scope, RouteMatch(rule, {}), analytics=None, **named))
    for _ in range(2):
        with fixed_session_ids():
            offers, visitor = ScopedPageViews(rule, **named).read(scope)
        assert (offers.page, visitor) == (general.offers.page, general.visitor)
    first = dict(reversed(lines))
    assert offers.page.referring_url == (first[b"referer"].decode() or None if b"referer" in first else None)


def test_a_rule_with_callables_goes_through_a_request() -> None:
    seen: list[Any] = []

    def params(request: Request) -> dict[str, str]:
        seen.append((str(request.url), request.path_params))
        return {"sku": request.path_params["sku"]}

    rule = MboxRule("/p/{sku}", mboxes=["hero"], params=params)
    assert needs_request(rule, None, None)
    assert needs_request(MboxRule("/", mboxes=["m"]), None, lambda request: "3p")
    assert not needs_request(MboxRule("/", mboxes=["m"], third_party_id="x"), None, lambda request: "3p")
    scope = {"type": "http", "method": "GET", "path": "/p/42", "headers": [(b"host", b"shop.example")]}
    view = asyncio.run(page_view(scope, RouteMatch(rule, {"sku": "42"}), qa_mode=False, trace=False))
    assert seen == [("http://shop.example/p/42", {"sku": "42"})]
    assert view.offers.mboxes == (Mbox("hero", {"sku": "42"}),)
    with pytest.raises(TypeError, match="use page_view"):
        page_view_from_scope(scope, rule, qa_mode=False, trace=False)


def test_a_bare_rule_shares_one_read_only_mbox_per_name() -> None:
    rule = MboxRule("/", mboxes=["hero"])
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"h")]}
    one = page_view_from_scope(scope, rule, qa_mode=False, trace=False).offers.mboxes
    two = page_view_from_scope(scope, rule, qa_mode=False, trace=False).offers.mboxes
    assert one is two
    assert one == (Mbox("hero", {}),)
    with pytest.raises(TypeError):
        one[0].params["x"] = 1  # type: ignore[index]


_NO_OPTIONS: dict[str, Any] = {"qa_mode": False, "trace": False, "deferred_display": False, "organization_id": ""}


def test_the_page_context_from_raw_headers_is_the_one_from_decoded_headers() -> None:
    """Every subset of the headers a PageContext reads (each client hint, referer, user agent), present or not."""
    views = ScopedPageViews(
        MboxRule("/", mboxes=["m"]), **{**_NO_OPTIONS, "customer_ids": None, "third_party_id": None}
    )
    values = {
        b"sec-ch-ua-mobile": [b"?1", b"?0", b"?2"],
        b"sec-ch-ua-platform": [b'"Windows"', b""],
        b"sec-ch-ua": [b'"Chromium";v="124"'],
        b"sec-ch-ua-model": [b'"Pixel"', b'"'],
        b"sec-ch-ua-platform-version": [b'"15.0"'],
        b"sec-ch-ua-full-version-list": [b'"Chromium";v="124.0.1"'],
        b"sec-ch-ua-arch": [b'"x86"'],
        b"sec-ch-ua-bitness": [b'"64"'],
        b"referer": [b"https://ref.example/", b""],
        b"user-agent": [b"UA\xe9", b""],
    }
    names = list(values)
    for present in itertools.product([False, True], repeat=len(names)):
        chosen = [name for name, on in zip(names, present, strict=True) if on]
        for pick in itertools.product(*(values[name] for name in chosen)) if len(chosen) < 4 else [()]:
            raw = dict(zip(chosen, pick or [values[name][0] for name in chosen], strict=True))
            raw[b"accept"] = b"*/*"
            decoded = {key.decode("latin-1"): value.decode("latin-1") for key, value in raw.items()}
            fast = PageContext.from_raw_headers("https://h/", raw, client_ip="1.2.3.4")
            assert fast == PageContext.from_headers("https://h/", decoded, client_ip="1.2.3.4")
            assert type(fast) is PageContext
            # ... and the page view's, its browser's part remembered: the same, the first time and the next
            scope = {"type": "http", "path": "/", "headers": [(b"host", b"h"), *raw.items()], "client": ("1.2.3.4", 1)}
            for _ in range(2):
                page = views(scope).offers.page
                assert page == PageContext.from_raw_headers("http://h/", raw, client_ip="1.2.3.4")
                assert type(page) is PageContext
                assert page.client_hints is None or type(page.client_hints) is MappingProxyType  # shared: read-only


def test_the_browsers_remembered_are_bounded() -> None:
    views = ScopedPageViews(
        MboxRule("/", mboxes=["m"]), **{**_NO_OPTIONS, "customer_ids": None, "third_party_id": None}
    )
    pageview._BROWSERS.clear()
    for n in range(pageview._MAX_BROWSERS + 10):
        scope = {"type": "http", "path": "/", "headers": [(b"host", b"h"), (b"user-agent", f"UA {n}".encode())]}
        assert views(scope).offers.page.user_agent == f"UA {n}"
    assert pageview._BROWSERS == {}  # a browser without client hints: read each time, not kept
    for n in range(pageview._MAX_BROWSERS + 10):
        hinted = [(b"host", b"h"), (b"user-agent", f"UA {n}".encode()), (b"sec-ch-ua-mobile", b"?1")]
        page = views({"type": "http", "path": "/", "headers": hinted}).offers.page
        assert (page.user_agent, page.client_hints) == (f"UA {n}", {"mobile": True})
    assert 0 < len(pageview._BROWSERS) <= pageview._MAX_BROWSERS  # cleared when full, then filled again
    pageview._BROWSERS.clear()
    agent = b"A" * pageview._MAX_BROWSER_BYTES
    hinted = [(b"host", b"h"), (b"user-agent", agent), (b"sec-ch-ua-mobile", b"?0")]
    page = views({"type": "http", "path": "/", "headers": hinted}).offers.page
    assert (page.user_agent, page.client_hints) == (agent.decode(), {"mobile": False})
    assert pageview._BROWSERS == {}  # right, and not kept


_RETURNING = "mbox=session%23abc%231900000000%7CPC%23abc.35_0%231900000000"
_AMCV = f"AMCV_{ORG.replace('@', '%40')}=1585540135%7CMCMID%7C12345678901234567890"


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("organization_id", ["", ORG])
@pytest.mark.parametrize(
    "cookie",
    [_RETURNING, f"{_RETURNING}; {_AMCV}", f"{_AMCV}; mboxEdgeCluster=35; {_RETURNING}", f"AMCV_x=1; {_RETURNING}"],
)
def test_a_returning_visitor_read_from_the_header_is_the_one_through_a_request(
    rule: MboxRule, identity: tuple[Any, Any], organization_id: str, cookie: str
) -> None:
    """The usual returning visitor's page view (read without the cookies' dict unless the ids may add to it)."""
    customer_ids, third_party_id = identity
    named: dict[str, Any] = {
        "qa_mode": False,
        "trace": False,
        "deferred_display": False,
        "organization_id": organization_id,
        "customer_ids": customer_ids,
        "third_party_id": third_party_id,
    }
    scope = {"type": "http", "method": "GET", "path": "/p", "headers": [(b"host", b"h"), (b"cookie", cookie.encode())]}
    general = asyncio.run(pageview._page_view_with_request(scope, RouteMatch(rule, {}), analytics=None, **named))
    fast = page_view_from_scope(scope, rule, **named)
    assert repr(fast).replace("mappingproxy({})", "{}") == repr(general)
    assert fast.visitor.tnt_id == "abc.35_0"
