"""The one-pass header edits equal the step-by-step MutableHeaders edits they replace (kept here as the oracle)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.datastructures import MutableHeaders

from target_middleware.pageheaders import (
    STALE_HEADERS,
    kept_edit,
    page_headers,
    read_page_headers,
    set_cookie_suffix,
    set_cookies,
)
from target_middleware.visitor import CookieValue

_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")
NAMES = [
    *STALE_HEADERS,
    "content-length",
    "vary",
    "cache-control",
    "x-target-actions",
    "content-type",
    "content-security-policy",
    "set-cookie",
    "server-timing",
    "x-other",
]
VALUES = [
    "",
    "*",
    " * ",
    "Cookie",
    "accept-encoding",
    "Accept-Encoding, COOKIE",
    "public, max-age=60",
    "s-maxage=10, public, no-cache",
    "private",
    " no-store ,",
    "text/html; charset=ISO-8859-1",
    'text/html;charset="utf-16"',
    "text/html",
    "script-src 'nonce-abc+/=_-'",
    "default-src 'self'",
    "12",
    "caf\xe9",
]


def old_edits(
    raw: list[tuple[bytes, bytes]],
    *,
    length: int | None,
    cookies: list[CookieValue],
    domain: str | None,
    secure: bool,
    http_only: bool,
    timing: str,
    debug: str | None,
) -> list[tuple[bytes, bytes]]:
    """What Personalizer did before (main 737bd70): _drop_stale, set content-length, _visitor_headers, debug."""
    start: dict[str, Any] = {"headers": list(raw)}
    headers = MutableHeaders(scope=start)
    if length is not None:
        for name in STALE_HEADERS:
            del headers[name]
        headers["content-length"] = str(length)
    for cookie in cookies:
        value = cookie.header(path="/", domain=domain, secure=secure)
        headers.append("set-cookie", value + ("; HttpOnly" if http_only else ""))
    vary = headers.get("vary", "")
    if "cookie" not in vary.lower() and vary.strip() != "*":
        headers["vary"] = f"{vary}, Cookie" if vary else "Cookie"
    cache = [d.strip() for d in headers.get("cache-control", "").split(",") if d.strip()]
    cache = [d for d in cache if d.lower() not in ("public",) and not d.lower().startswith("s-maxage")]
    if not any(d.lower() in ("private", "no-store") for d in cache):
        cache.insert(0, "private")
    headers["cache-control"] = ", ".join(cache)
    headers.append("server-timing", timing)
    if debug is not None:
        headers["x-target-actions"] = debug
    return list(start["headers"])


header_lists = st.lists(
    st.tuples(
        st.sampled_from(NAMES) | st.from_regex(r"[a-z-]{1,12}", fullmatch=True),
        st.sampled_from(VALUES) | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
    ),
    max_size=12,
).map(lambda pairs: [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs])
cookie_lists = st.lists(
    st.builds(
        CookieValue,
        st.sampled_from(["mbox", "mboxEdgeCluster", "kndctr_X_identity", "n\0"]),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40) | st.sampled_from(["\0", "é"]),
        st.sampled_from([60, 1860, 63244800]) | st.integers(0, 10**9),
    ),
    max_size=3,
)


@settings(max_examples=600)
@given(
    raw=header_lists,
    length=st.none() | st.integers(0, 10**7),
    cookies=cookie_lists,
    options=st.fixed_dictionaries(
        {
            "domain": st.none() | st.sampled_from([".shop.example", "shop.example"]),
            "secure": st.booleans(),
            "http_only": st.booleans(),
            "debug": st.none() | st.sampled_from(["0:setHtml=applied", ""]),
        }
    ),
)
@example(  # every edited name twice, the first Vary already naming Cookie: the later ones stay
    raw=[
        (n, v)
        for n in (b"vary", b"cache-control", b"content-length", b"x-target-actions", b"etag")
        for v in (b"*", b"cookie")
    ],
    length=None,
    cookies=[],
    options={"domain": None, "secure": False, "http_only": False, "debug": None},
)
@example(
    raw=[
        (n, v)
        for n in (b"vary", b"cache-control", b"content-length", b"x-target-actions", b"etag")
        for v in (b"a", b"b")
    ],
    length=5,
    cookies=[],
    options={"domain": None, "secure": False, "http_only": False, "debug": "d"},
)
def test_one_pass_equals_the_step_by_step_edits(
    raw: list[tuple[bytes, bytes]], length: int | None, cookies: list[CookieValue], options: dict[str, Any]
) -> None:
    """The first call makes the edit of ``raw``, the next ones find it kept (``_edits``), with another length, and
    the Set-Cookie lines from their kept parts (``_cookie_parts``): each equal to the oracle's."""
    suffix = set_cookie_suffix(domain=options["domain"], secure=options["secure"], http_only=options["http_only"])
    for again in (length, length, None if length is None else length + 10):
        edited = page_headers(
            raw, length=again, cookies=set_cookies(cookies, suffix), timing="target;dur=0.4", debug=options["debug"]
        )
        assert edited == old_edits(raw, length=again, cookies=cookies, timing="target;dur=0.4", **options)


@settings(max_examples=300)
@given(
    lists=st.lists(header_lists, min_size=1, max_size=3),
    steps=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.none() | st.integers(0, 10**7) | st.sampled_from([5, 100_097]),  # a length again: its line kept
            cookie_lists,
            st.none() | st.sampled_from(["0:setHtml=applied", ""]),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_a_kept_edit_equals_the_step_by_step_edits(
    lists: list[list[tuple[bytes, bytes]]],
    steps: list[tuple[int, int | None, list[CookieValue], str | None, bool]],
) -> None:
    """Responses made from one rewrite (one memo): the app's lines the same as the last response's, or others, or
    the same list object changed in place since; each response's lines are the oracle's for its own."""
    memo: dict[object, Any] = {}
    suffix = set_cookie_suffix(domain=None, secure=False, http_only=False)
    for i, (which, length, cookies, debug, change_in_place) in enumerate(steps):
        raw = lists[which % len(lists)]
        if change_in_place and raw:
            raw[0] = (raw[0][0], raw[0][1] + b"x")  # the app's list itself changed after a response
        timing = f"target;dur={i}.0"
        edit = kept_edit(memo, raw, changed=length is not None, debug=debug)
        edited = edit.lines(length, set_cookies(cookies, suffix), timing.encode())
        expected = old_edits(
            raw, length=length, cookies=cookies, domain=None, secure=False, http_only=False, timing=timing, debug=debug
        )
        assert edited == expected
        assert kept_edit(memo, list(raw), changed=length is not None, debug=debug) is edit  # equal lines: kept


@settings(max_examples=400)
@given(raw=header_lists, state=st.sampled_from([None, {}, {"csp_nonce": "fromstate"}, {"csp_nonce": 3}, "x"]))
def test_charset_and_nonce_are_what_headers_get_finds(raw: list[tuple[bytes, bytes]], state: Any) -> None:
    headers = MutableHeaders(raw=list(raw))
    scope: dict[str, Any] = {} if state is None else {"state": state}
    charset_match = _CHARSET.search(headers.get("content-type", ""))
    nonce_match = _NONCE.search(headers.get("content-security-policy", ""))
    if nonce_match:
        nonce = nonce_match.group(1)
    else:
        found = state.get("csp_nonce") if isinstance(state, dict) else None
        nonce = found if isinstance(found, str) else None
    assert read_page_headers(raw, scope) == (charset_match.group(1) if charset_match else None, nonce)
    assert read_page_headers(raw, scope) == (charset_match.group(1) if charset_match else None, nonce)  # memo


def test_the_comparison_has_teeth() -> None:
    """Each kind of edit shows in the oracle's output: a pass that skipped one would differ from it."""
    raw = [
        (b"etag", b'"x"'),
        (b"vary", b"accept"),
        (b"vary", b"b"),
        (b"cache-control", b"public"),
        (b"content-length", b"3"),
    ]
    cookie = CookieValue("mbox", "v", 60)
    expected = old_edits(
        raw,
        length=9,
        cookies=[cookie],
        domain=".a.example",
        secure=True,
        http_only=True,
        timing="t",
        debug="d",
    )
    assert expected == [
        (b"vary", b"accept, Cookie"),
        (b"cache-control", b"private"),
        (b"content-length", b"9"),
        (b"set-cookie", b"mbox=v; Max-Age=60; Path=/; SameSite=Lax; Domain=.a.example; Secure; HttpOnly"),
        (b"server-timing", b"t"),
        (b"x-target-actions", b"d"),
    ]
    suffix = set_cookie_suffix(domain=".a.example", secure=True, http_only=True)
    assert page_headers(raw, length=9, cookies=set_cookies([cookie], suffix), timing="t", debug="d") == expected
