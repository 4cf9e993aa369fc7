"""The mbox / mboxEdgeCluster cookies: exact format, round trips, expiry, hostile values."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.requests import cookie_parser

from target_middleware import visitor as visitor_module
from target_middleware.visitor import (
    PC_MAX_AGE,
    SESSION_MAX_AGE,
    CookieValue,
    Visitor,
    cluster_of_edge_host,
    edge_host_for,
    is_valid_session_id,
)

NOW = 1_700_000_000.25


def test_writes_the_atjs_format_uri_encoded() -> None:
    visitor = Visitor(session_id="f9cb23dc", tnt_id="abc.35_0")
    cookie = visitor.mbox_cookie(now=NOW)
    expected = f"session#f9cb23dc#{1_700_000_001 + SESSION_MAX_AGE}|PC#abc.35_0#{1_700_000_001 + PC_MAX_AGE}"
    assert cookie.name == "mbox"
    assert cookie.value == quote(expected, safe="")
    assert cookie.max_age == PC_MAX_AGE


def test_session_only_cookie_lives_31_minutes() -> None:
    cookie = Visitor(session_id="s1").mbox_cookie(now=NOW)
    assert cookie.max_age == SESSION_MAX_AGE
    assert "PC" not in cookie.value


def test_round_trip() -> None:
    visitor = Visitor(session_id="s-1", tnt_id="5f2a.28_0")
    cookies = {visitor.mbox_cookie(now=NOW).name: visitor.mbox_cookie(now=NOW).value}
    again = Visitor.from_cookies(cookies, now=NOW + 60)
    assert again == Visitor(session_id="s-1", tnt_id="5f2a.28_0", edge_cluster="28")


def test_reads_the_unencoded_form_atjs_writes() -> None:
    raw = "session#abc#1700001000|PC#t1.7_0#1800000000"
    visitor = Visitor.from_cookies({"mbox": raw}, now=NOW)
    assert (visitor.session_id, visitor.tnt_id, visitor.edge_cluster) == ("abc", "t1.7_0", "7")


def test_expired_parts_are_dropped() -> None:
    raw = "session#old#1700000000|PC#t1.7_0#1700000001"
    visitor = Visitor.from_cookies({"mbox": raw}, now=NOW)
    assert visitor.session_id != "old"  # ceil(now) > 1700000000: expired, a new session
    assert visitor.tnt_id == "t1.7_0"  # ceil(now) == expiry: still live
    later = Visitor.from_cookies({"mbox": raw}, now=NOW + 1)
    assert later.tnt_id is None


def test_edge_cluster_from_cookie_when_tnt_has_none() -> None:
    visitor = Visitor.from_cookies({"mbox": "PC#plainid#1800000000", "mboxEdgeCluster": "31"}, now=NOW)
    assert visitor.tnt_id == "plainid"
    assert visitor.edge_cluster == "31"
    assert visitor.edge_host == "mboxedge31.tt.omtrdc.net"
    assert visitor.edge_cluster_cookie() is not None


@pytest.mark.parametrize(
    "hostile",
    [
        "evil.com#",
        "evil.com",
        "31/../x",
        "a" * 17,
        "",
        "31 ",
        "31\r\nSet-Cookie: x=1",
        "%33%31",
        "mboxedge31.evil.com",
    ],
)
def test_hostile_cluster_cookie_is_dropped(hostile: str) -> None:
    visitor = Visitor.from_cookies({"mboxEdgeCluster": hostile}, now=NOW)
    assert visitor.edge_cluster is None
    assert visitor.edge_host is None


@pytest.mark.parametrize(
    "raw",
    [
        "session#a#b#c|PC#x#1800000000#extra",  # wrong number of pieces
        "session;a;1800000000",  # wrong separators
        "session#a#soon|PC#b#never",  # non-integer expiry
        "session#a b#1800000000",  # space in the session id
        "session#a/b#1800000000",  # slash
        "session#a?b#1800000000",  # question mark
        "PC#evil.com#1800000000",  # dot not delimiting a hint
        "PC#x.evil.com#1800000000",
        "PC#x.1_0<script>#1800000000",
        "session#" + "a" * 129 + "#1800000000",  # too long
        "session#ok#1800000000" + "|junk" * 300,  # a cookie far too long is ignored whole
    ],
)
def test_hostile_mbox_cookie_never_reaches_the_visitor(raw: str) -> None:
    for value in (raw, quote(raw, safe="")):
        visitor = Visitor.from_cookies({"mbox": value}, now=NOW)
        assert is_valid_session_id(visitor.session_id)
        assert visitor.session_id not in ("a", "a b", "a/b", "a?b", "ok")
        assert visitor.tnt_id is None
        assert visitor.edge_cluster is None


@pytest.mark.parametrize(
    "expires",
    ["\u00b2", "1\u0662", "\uff11800000000", "\U0001d7cf800000000"],  # superscript, Arabic-Indic, fullwidth, math
)
def test_an_expiry_that_is_not_a_plain_number_drops_its_part_and_keeps_the_rest(expires: str) -> None:
    """Not an error that costs the page its decision: that part is dropped, the other part still read (a far
    expiry of more digits than at.js writes still reads)."""
    raw = f"session#s-1#{expires}|PC#t-1.35_0#1800000000"
    for value in (raw, quote(raw, safe="")):
        visitor = Visitor.from_cookies({"mbox": value}, now=NOW)
        assert visitor.session_id != "s-1"
        assert visitor.tnt_id == "t-1.35_0"
    far = Visitor.from_cookies({"mbox": f"session#s-1#{2**40}|PC#t-1.35_0#{2**40}"}, now=NOW)
    assert (far.session_id, far.tnt_id) == ("s-1", "t-1.35_0")


def test_tnt_hint_only_names_a_target_edge() -> None:
    odd = Visitor.from_cookies({"mbox": "PC#x.evil_com#1800000000"}, now=NOW)
    assert odd.edge_host == "mboxedgeevil.tt.omtrdc.net"  # odd but still one of Target's hosts
    for raw in ("PC#x.evil.com_1#1800000000", "PC#x.1_0.evil.com#1800000000", "PC#x.@evil.com_1#1800000000"):
        visitor = Visitor.from_cookies({"mbox": raw}, now=NOW)
        assert visitor.tnt_id is None
        assert visitor.edge_host is None


def test_new_session_ids_are_valid_and_distinct() -> None:
    ids = {Visitor.from_cookies({}).session_id for _ in range(50)}
    assert len(ids) == 50
    assert all(is_valid_session_id(i) for i in ids)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="session"):
        Visitor(session_id="has space")
    with pytest.raises(ValueError, match="cluster"):
        Visitor(session_id="s", edge_cluster="evil.com#")
    with pytest.raises(ValueError, match="cluster"):
        edge_host_for("evil.com")


def test_updated_takes_valid_answers_only() -> None:
    visitor = Visitor(session_id="s")
    assert visitor.updated(tnt_id="n.12_3", edge_host=None).edge_cluster == "12"
    assert visitor.updated(tnt_id="nohint", edge_host="mboxedge28.tt.omtrdc.net").edge_cluster == "28"
    bad = visitor.updated(tnt_id="evil.com", edge_host="mboxedgeevil.com.attacker.net")
    assert bad.tnt_id is None
    assert bad.edge_cluster is None
    assert cluster_of_edge_host("mboxedge1.dev.tt.omtrdc.net") is None  # five labels


def test_set_cookie_header() -> None:
    header = Visitor(session_id="s").mbox_cookie(now=NOW).header(secure=True)
    assert header.startswith("mbox=session%23s%23")
    assert "Max-Age=1860" in header
    assert header.endswith("Secure")


@given(st.text(max_size=300), st.text(max_size=40))
def test_any_cookie_gives_a_valid_visitor(mbox: str, cluster: str) -> None:
    visitor = Visitor.from_cookies({"mbox": mbox, "mboxEdgeCluster": cluster})
    assert is_valid_session_id(visitor.session_id)
    if visitor.edge_host is not None:
        assert visitor.edge_host.endswith(".tt.omtrdc.net")
        assert visitor.edge_host.count(".") == 3
    cookie = visitor.mbox_cookie()
    assert Visitor.from_cookies({"mbox": cookie.value}).session_id == visitor.session_id


@given(st.text(alphabet=st.characters(max_codepoint=300), max_size=40) | st.text(max_size=10))
def test_cookie_quoting_is_urllib_quote_with_nothing_safe(value: str) -> None:
    assert visitor_module._quote(value) == quote(value, safe="")


@given(st.text(alphabet="aZ09_.-~#|%!", max_size=60))
def test_cookie_quoting_of_plain_ids_is_urllib_quote_too(value: str) -> None:
    assert visitor_module._quote(value) == quote(value, safe="")  # the two-replace path and the table alike


def test_the_edge_cluster_cookie() -> None:
    cookie = Visitor(session_id="s", edge_cluster="35").edge_cluster_cookie()
    assert cookie == CookieValue("mboxEdgeCluster", "35", SESSION_MAX_AGE)
    assert Visitor(session_id="s").edge_cluster_cookie() is None
    # one value per cluster, made once and shared (immutable), in a bounded table
    assert Visitor(session_id="t", tnt_id="u.35_0", edge_cluster="35").edge_cluster_cookie() is cookie
    for n in range(2 * visitor_module._MAX_CLUSTER_COOKIES):
        other = Visitor(session_id="s", edge_cluster=f"c{n}").edge_cluster_cookie()
        assert other == CookieValue("mboxEdgeCluster", f"c{n}", SESSION_MAX_AGE)
        assert len(visitor_module._cluster_cookies) <= visitor_module._MAX_CLUSTER_COOKIES


@given(
    st.one_of(
        st.sampled_from(["s", "0" * 32, "a~b_c.d-e", "a!$&'()*+:<=>@[]^`{}z", "x" * 128, "a*b", "a@b"]),
        st.from_regex(visitor_module._SESSION_ID, fullmatch=True),  # every character a session id may have
    ),
    st.sampled_from([None, "t", "abc.35_0", "u" * 100, "a-b_c", "a_b.x_y"]),
)
def test_the_mbox_cookie_of_plain_ids_is_the_one_quoted(session_id: str, tnt_id: str | None) -> None:
    visitor = Visitor(session_id=session_id, tnt_id=tnt_id)
    value = f"session#{session_id}#{_NOW_S + SESSION_MAX_AGE}"
    if tnt_id:
        value += f"|PC#{tnt_id}#{_NOW_S + PC_MAX_AGE}"
    expected = visitor_module.CookieValue("mbox", quote(value, safe=""), PC_MAX_AGE if tnt_id else SESSION_MAX_AGE)
    got = visitor.mbox_cookie(now=NOW)
    assert (got, type(got), repr(got)) == (expected, visitor_module.CookieValue, repr(expected))


@given(
    st.sampled_from([None, "t1", "abc.35_0", "u.7_1"]),
    st.sampled_from([None, "35", "9"]),
    st.sampled_from([None, "", "t2", "new.28_0", "bad id", "x" * 130]),
    st.sampled_from([None, "", "mboxedge28.tt.omtrdc.net", "evil.example", "mboxedge.tt.omtrdc.net"]),
    st.sampled_from([None, "c-1"]),
)
def test_updated_is_replace_without_the_second_check(
    tnt_id: str | None, cluster: str | None, answer_tnt: str | None, edge_host: str | None, third: str | None
) -> None:
    visitor = Visitor(session_id="s-1", tnt_id=tnt_id, edge_cluster=cluster, third_party_id=third)
    new_tnt = answer_tnt if answer_tnt and visitor_module.is_valid_tnt_id(answer_tnt) else tnt_id
    new_cluster = (visitor_module.cluster_of_tnt_id(new_tnt) if new_tnt else None) or (
        cluster_of_edge_host(edge_host) if edge_host else None
    )
    expected = dataclasses.replace(visitor, tnt_id=new_tnt, edge_cluster=new_cluster or cluster)
    got = visitor.updated(tnt_id=answer_tnt, edge_host=edge_host)
    assert (got, type(got), hash(got), repr(got)) == (expected, Visitor, hash(expected), repr(expected))
    assert got.mbox_cookie(now=NOW) == expected.mbox_cookie(now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.tnt_id = "x"  # type: ignore[misc]


def _from_cookies_by_parts(cookies: dict[str, str], now: float) -> Visitor:
    """``Visitor.from_cookies`` the general way: every part parsed, every id checked, the Visitor checked again."""
    parts = visitor_module._parse_mbox_cookie(cookies.get("mbox", ""), now)
    session_id = parts.get("session", "")
    if not is_valid_session_id(session_id):
        session_id = visitor_module.new_session_id()
    tnt_id = parts.get("PC")
    if tnt_id is not None and not visitor_module.is_valid_tnt_id(tnt_id):
        tnt_id = None
    cluster = visitor_module.cluster_of_tnt_id(tnt_id) if tnt_id else None
    if cluster is None and visitor_module.is_valid_cluster(cookies.get("mboxEdgeCluster", "")):
        cluster = cookies["mboxEdgeCluster"]
    edge = visitor_module.is_valid_edge_state
    state = tuple((k, v) for k, v in cookies.items() if k.startswith("kndctr_") and edge(k, v))
    return Visitor(session_id=session_id, tnt_id=tnt_id, edge_cluster=cluster, edge_state=state[:8])


_NOW_S = 1_700_000_001  # math.ceil(NOW)
_LIVE = _NOW_S + 1
_HINT = "." + "1" * 16 + "_" + "2" * 16  # the longest location hint


@st.composite
def written_cookies(draw: st.DrawFn) -> str:
    """mbox cookies as at.js and we write them, with ids and expiries at and past every limit, escaped or not."""
    ids = st.sampled_from(["s", "0" * 32, "a!$&'()*+-.:<=>@[]^_`{}~z", "x" * 128, "x" * 129, "a b", "", "a%b", "é"])
    hint = _HINT
    tnts = st.sampled_from(["t", "abc.35_0", "u" * 100, "u" * 101, "x" * 94 + hint, "y" * 95 + hint])
    expiries = st.sampled_from([_NOW_S - 1, _NOW_S, _NOW_S + 1, 10**12 - 1, 10**12, "", "x", "1x", "²", "0"])
    value = f"session#{draw(ids)}#{draw(expiries)}"
    if draw(st.booleans()):
        value += f"|PC#{draw(tnts | st.sampled_from(['a.b.c', 'bad id', '', 'a.1_']))}#{draw(expiries)}"
    value += draw(st.sampled_from(["", "", "|", "|x#y#1", "|session#b#1900000000", "#", "%41", "%7c", "%"]))
    if draw(st.booleans()):
        value = value.replace("#", "%23").replace("|", "%7C")
    return value


@settings(max_examples=400)
@given(written_cookies() | st.text(alphabet="sesionPC#|%237C0123abc._", max_size=50), st.sampled_from(["", "35", "x!"]))
@example(f"session#s#{_NOW_S}|PC#{'x' * 94}{_HINT}#{_LIVE}", "")  # the longest tntId, and now == expiry: both live
@example(f"session#s#{_LIVE}|PC#{'x' * 95}{_HINT}#{_LIVE}", "")  # one character too long: dropped
@example(f"session#s#{_NOW_S - 1}|PC#t.35_0#{_LIVE}", "35")  # the session expired, the PC not
@example(f"session#s#{_LIVE}|PC#t.35_0#{_NOW_S - 1}", "35")  # the PC expired, the session not
@example(f"session#{'x' * 128}#{_LIVE}|PC#{'u' * 100}#{_LIVE}", "")
@example(f"session#{'x' * 129}#{_LIVE}|PC#{'u' * 101}#{_LIVE}", "")
def test_a_cookie_as_written_reads_as_its_parts_say(mbox: str, cluster: str) -> None:
    cookies = {"mbox": mbox, "mboxEdgeCluster": cluster, "kndctr_ORG_AdobeOrg_identity": "CiY"}
    ids = iter(range(2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(visitor_module, "new_session_id", lambda: f"new{next(ids)}")
        fast = _outcome(lambda: Visitor.from_cookies(cookies, now=NOW))
    ids = iter(range(2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(visitor_module, "new_session_id", lambda: f"new{next(ids)}")
        general = _outcome(lambda: _from_cookies_by_parts(cookies, NOW))
    assert fast == general


def _outcome(call: Callable[[], Visitor]) -> tuple[object, ...]:
    """The visitor (equal, hashed, printed alike), or the exception's class (an expiry of Unicode digits, like
    ``²``, passes ``isdigit`` and fails ``int``: a ValueError both ways)."""
    try:
        got = call()
    except ValueError as exc:
        return ("raises", type(exc))
    return (got, type(got), hash(got), repr(got))


def test_the_usual_cookie_takes_the_one_match(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    general = visitor_module._parse_mbox_cookie
    monkeypatch.setattr(visitor_module, "_parse_mbox_cookie", lambda raw, now: parsed.append(raw) or general(raw, now))
    mbox = f"session%23s1%23{_NOW_S + 9}%7CPC%23abc.35_0%23{_NOW_S + 99}"
    got = Visitor.from_cookies({"mbox": mbox}, now=NOW)
    assert (got.session_id, got.tnt_id, got.edge_cluster, parsed) == ("s1", "abc.35_0", "35", [])
    expired = f"session#s1#{_NOW_S - 1}|PC#abc.35_0#{_NOW_S + 99}"
    got = Visitor.from_cookies({"mbox": expired}, now=NOW)  # the parts say: the PC lives on, the session not
    assert (got.session_id != "s1", got.tnt_id, parsed) == (True, "abc.35_0", [expired])


# -- the returning visitor, read from the Cookie header -----------------------------------------------------------


@st.composite
def returning_cookies(draw: st.DrawFn) -> str:
    """mbox cookies of a returning visitor as we write them, live, or off by one thing at either end of a field."""
    session = draw(st.sampled_from(["s-1", "0" * 32, "x" * 128, "x" * 129, "a%b", "", "mbox"]))
    tnt = draw(st.sampled_from(["abc.35_0", "abc", "x" * 94 + _HINT, "y" * 95 + _HINT, "a.b_", "a..35_0"]))
    expiries = st.sampled_from([_NOW_S, _LIVE, _LIVE, _NOW_S - 1, 10**12 - 1, f"0{_LIVE}", f"{_LIVE}x", "1"])
    value = f"session%23{session}%23{draw(expiries)}%7CPC%23{tnt}%23{draw(expiries)}"
    return value + draw(st.sampled_from(["", "", "", "x", "%7C", "%41", "%23", "%7Cx%23y%231", "%7c"]))


@st.composite
def cookie_headers(draw: st.DrawFn) -> str:
    """Cookie headers around an mbox cookie as written (or nearly): other cookies before and after, every separator
    ``cookie_parser`` takes, a second mbox, names that hold "mbox", quotes, the cookies from_cookies reads."""
    mbox = draw(written_cookies() | returning_cookies())
    if draw(st.booleans()):  # as we write it: escaped
        mbox = mbox.replace("#", "%23").replace("|", "%7C")
    mbox = draw(st.sampled_from(["", '"', " "])) + mbox + draw(st.sampled_from(["", '"', " ", "\t"]))
    name = draw(st.sampled_from(["mbox", "mbox", "mbox", " mbox", "mbox ", "Mbox", "xmbox"]))
    others = st.sampled_from(
        [
            "a=1",
            "mboxEdgeCluster=35",
            "mboxEdgeCluster=x!",
            "mbox=session%23other%231900000000",
            "mbox =session%23other%231900000000",
            "mbox=1",
            "mbox",
            "kndctr_ORG_AdobeOrg_identity=CiY",
            "AMCV_X%40AdobeOrg=1",
            "mboxPC=1",
            "mboxEdgeCluster",
            "mboxEdgeCluster=35 ",
            "mboxEdgeCluster=3;5",
            "x=mbox",
            "=v",
            "",
            ' q="a;b"',
        ]
    )
    cookies = [*draw(st.lists(others, max_size=3)), f"{name}={mbox}", *draw(st.lists(others, max_size=3))]
    separators = st.sampled_from(["; ", ";", " ; ", ";;", ";\t"])
    header = draw(st.sampled_from(["", " ", ";"]))
    for i, cookie in enumerate(cookies):
        header += (draw(separators) if i else "") + cookie
    return header + draw(st.sampled_from(["", "", ";", " "]))


_USUAL = f"session%23s-1%23{_LIVE}%7CPC%23abc.35_0%23{_LIVE}"


@settings(max_examples=1000)
@given(cookie_headers())
@example(f"mbox={_USUAL}")
@example(f"mbox={_USUAL}x")
@example(f"a=1; mbox={_USUAL}; mboxEdgeCluster=35")
@example(f"a=1;mbox={_USUAL};b=2")
@example(f"mbox={_USUAL}; mbox=session%23b%231900000000")  # the last one counts
@example(f"mbox={_USUAL}; mbox =session%23b%231900000000")
@example(f"mbox={_USUAL} ; x=1")
@example(f'mbox="{_USUAL}"')
@example(f"xmbox={_USUAL}")
@example(f"a=1 mbox={_USUAL}")  # one cookie named "a", its value holding the rest
@example(f"mbox={_USUAL}; kndctr_ORG_AdobeOrg_identity=CiY")
@example(f"kndctr_ORG_AdobeOrg_identity=CiY; mbox={_USUAL}")
@example(f"mbox={_USUAL}; mboxEdgeCluster=35; mbox=session%23b%231900000000")
@example(f"mbox={_USUAL}; mboxEdgeCluster=35;mbox=session%23b%231900000000")
@example(f"mbox={_USUAL}; mboxEdgeCluster=35; a=1; mbox=session%23b%231900000000")
@example(f"mbox={_USUAL}; mboxEdgeCluster=35 ; mbox=session%23b%231900000000")
@example(f"mbox={_USUAL}; mboxEdgeCluster; mbox=session%23b%231900000000")
@example(f"mbox=session%23b%231900000000; mbox={_USUAL}")  # the last one counts: this one
@example(f"mbox={_USUAL}x; mbox={_USUAL}")
@example(f"mbox={_USUAL}; mbox=1")
@example(f"mbox={_USUAL}; mbox")  # a cookie with no "=": named "", its value "mbox"
@example(f"mbox={_USUAL};\tmbox=session%23b%231900000000")
@example(f"mbox=session%23s-1%23{_NOW_S}%7CPC%23abc.35_0%23{_NOW_S}")  # now == expiry: live
@example(f"mbox=session%23s-1%23{_NOW_S - 1}%7CPC%23abc.35_0%23{_LIVE}")
@example(f"mbox=session%23s-1%23{_LIVE}%7CPC%23abc.35_0%23{_NOW_S - 1}")
@example(f"mbox=session%23s%23{_LIVE}%7CPC%23{'y' * 95}{_HINT}%23{_LIVE}")  # a tntId one too long
@example(f"mbox=session%23s%230{_LIVE}%7CPC%23abc.35_0%23{_LIVE}")  # eleven digits
def test_the_returning_visitor_read_from_the_header_is_the_one_from_the_cookies(header: str) -> None:
    fast = visitor_module.returning_visitor(header, now=NOW)
    if fast is not None:  # else the middleware reads the header the general way
        general = Visitor.from_cookies(cookie_parser(header), now=NOW)
        assert (fast, type(fast), hash(fast), repr(fast)) == (general, Visitor, hash(general), repr(general))


@pytest.mark.parametrize(
    "header",
    [
        f"mbox={_USUAL}",
        f"a=1; mbox={_USUAL}; mboxEdgeCluster=35",
        f"mboxEdgeCluster=35;mbox={_USUAL}",
        f"mbox={_USUAL}; mboxEdgeCluster=35; s_cc=true; _ga=GA1.2.3.4",  # the cookies set after ours
        f"mboxPC=1; mbox=session%23old%231; mbox={_USUAL}; mboxEdgeCluster=7",  # a cookie_parser keeps the last
        f"mbox=session%23{'x' * 128}%23{_NOW_S}%7CPC%23{'x' * 94}{_HINT}%23{_NOW_S}",
    ],
)
def test_the_usual_returning_visitor_is_read_from_the_header(header: str) -> None:
    got = visitor_module.returning_visitor(header, now=NOW)
    assert got is not None
    assert got == Visitor.from_cookies(cookie_parser(header), now=NOW)
    assert got.edge_cluster in ("35", "1" * 16)


def test_the_mbox_cookie_s_expiries_follow_the_second_it_is_written_in() -> None:
    """The escaped expiries are kept for the last second: another second (forward, back, a fraction) writes its own."""
    visitor = Visitor(session_id="s1", tnt_id="t1.35_0")
    for now in (NOW, NOW + 1, NOW + 1.5, NOW, float(_NOW_S - 1), NOW - 3600, NOW + 0.25, NOW + 86_400 * 400):
        second = math.ceil(now)
        expected = quote(f"session#s1#{second + SESSION_MAX_AGE}|PC#t1.35_0#{second + PC_MAX_AGE}", safe="")
        assert visitor.mbox_cookie(now=now).value == expected
        session_only = quote(f"session#s1#{second + SESSION_MAX_AGE}", safe="")
        assert Visitor(session_id="s1").mbox_cookie(now=now).value == session_only


def test_the_returning_visitor_s_expiries_are_read_against_the_second_it_is_read_in() -> None:
    """The clock's second is kept for the next reading within it: readings in other seconds (forward, back, a
    fraction, on a second's edge) each compare against their own, as the cookies' dict reads them."""
    for now in (NOW, NOW + 1, NOW + 0.75, NOW, NOW - 3600, float(_NOW_S), _NOW_S + 1e-6, NOW + 86_400 * 400):
        second = math.ceil(now)
        for session_end, pc_end in ((second, second), (second - 1, second), (second, second - 1), (second + 1,) * 2):
            header = f"mbox=session%23s-1%23{session_end}%7CPC%23abc.35_0%23{pc_end}"
            fast = visitor_module.returning_visitor(header, now=now)
            general = Visitor.from_cookies(cookie_parser(header), now=now)
            if session_end >= second and pc_end >= second:
                assert fast == general == Visitor(session_id="s-1", tnt_id="abc.35_0", edge_cluster="35")
            else:  # a part expired: the general path reads it (a new session, or no tntId)
                assert fast is None
                assert general != Visitor(session_id="s-1", tnt_id="abc.35_0", edge_cluster="35")


@pytest.mark.parametrize("now", [999_999_998.5, 10_000_000_000.5])
def test_a_clock_outside_ten_digits_leaves_the_header_to_the_general_path(now: float) -> None:
    live = math.ceil(now) + 10
    assert visitor_module.returning_visitor(f"mbox=session%23s%23{live}%7CPC%23t.35_0%23{live}", now=now) is None
    assert visitor_module.returning_visitor(f"mbox={_USUAL}", now=now) is None  # ten-digit expiries, not compared
