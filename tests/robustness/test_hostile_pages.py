"""Hostile pages through the middleware: a correct rewrite or the original bytes, never a crash, hang or short page."""

from __future__ import annotations

import codecs
import logging
import time

import pytest

from target_middleware import TargetStats
from target_middleware.testing import actions_option, static_client

from .harness import assert_whole, call, our_records, page_app

OFFER = "Offer\u00e9"  # not ASCII: the rewrite must re-encode it in the page's charset
ACTIONS = actions_option({"type": "setHtml", "selector": "#hero", "content": OFFER})
ENGINES = ["lexbor", "soup"]
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
MARGIN = 300.0  # seconds; a hang is what this rules out, not slowness (40-60 s seen on a loaded machine)


def hero(inner: str = "Welcome") -> str:
    return f'<!DOCTYPE html><html><head><title>t</title></head><body><h1 id="hero">{inner}</h1></body></html>'


def hostile_pages() -> dict[str, tuple[bytes, str]]:
    """name -> (body, content type)"""
    html = "text/html; charset=utf-8"
    nested = "<div>" * 20_000 + '<h1 id="hero">deep</h1>' + "</div>" * 20_000
    return {
        "malformed": (b'<html><body><div><p><b>x<i></div></p><table><td>y</tr><h1 id="hero">a</h2></span>', html),
        "unclosed-everything": (b'<h1 id="hero"><div><table><tr><td><select><option><script>', html),
        "only-text": (b"not html at all <<<>>> &&& \x01\x02", html),
        "empty": (b"", html),
        "nested-20000": (nested.encode(), html),
        "nested-unclosed-20000": (('<h1 id="hero">x</h1>' + "<span>" * 20_000).encode(), html),
        "nul-bytes": (hero("a\x00b").replace("<title>", "<ti\x00tle>").encode(), html),
        "giant-attribute": (hero().replace('id="hero"', 'id="hero" data-x="' + "y" * 2_000_000 + '"').encode(), html),
        "giant-unquoted-attr": (hero().replace('id="hero"', "id=hero data-x=" + "&amp;" * 200_000).encode(), html),
        "utf8-bom": (codecs.BOM_UTF8 + hero().encode(), html),
        "utf16le-bom-header-says-utf8": (codecs.BOM_UTF16_LE + hero().encode("utf-16-le"), html),
        "utf16be-bom": (codecs.BOM_UTF16_BE + hero().encode("utf-16-be"), "text/html"),
        "meta-disagrees-bytes-latin1": (
            hero("caf\u00e9").replace("<head>", '<head><meta charset="windows-1252">').encode("latin-1"),
            html,
        ),
        "meta-disagrees-header-latin1": (
            hero("caf\u00e9").replace("<head>", '<head><meta charset="utf-8">').encode("latin-1"),
            "text/html; charset=iso-8859-1",
        ),
        "unknown-charset": (hero().encode(), "text/html; charset=x-no-such-charset"),
        "charset-is-a-codec-not-an-encoding": (hero().encode(), "text/html; charset=rot13"),
        "charset-zlib": (hero().encode(), "text/html; charset=zlib"),
        "quoted-charset": (hero("\u00e9").encode("latin-1"), 'text/html; charset="latin1"'),
        "xhtml": (hero().encode(), "application/xhtml+xml"),
        "many-heroes": (("<body>" + '<h1 id="hero">x</h1>' * 50_000).encode(), html),
    }


# Each declared charset with bytes it cannot decode.
WRONG_BYTES = {
    "utf-8": b"\xff\xfe\xc3\x28",
    "utf-16": b"\x00\xd8\x00",  # a lone surrogate, odd length
    "utf-16-be": b"\xd8\x00\x00",
    "shift_jis": b"\x81\x7f\xa0\xff",
    "euc-jp": b"\x8e\xff\xff",
    "iso-2022-jp": b"\x1b$B\xff\xff",
    "gb18030": b"\x81\x30\xff",
    "gbk": b"\x81\x7f\xff",
    "big5": b"\x81\x40\xff",
    "euc-kr": b"\xc9\xff\xff",
    "windows-1252": b"\x81\x8d\x8f\x90\x9d",
    "windows-1251": b"\x98",
    "koi8-r": b"",  # every byte decodes: the page must come out rewritten, correctly
    "iso-8859-1": b"",
    "ascii": b"\x80\xff",
    "utf-7": b"+\xff-",
    "utf-32": b"\xff\xff\xff\xff",
}


def check(answer_body: bytes, original: bytes, outcome: str, content_type: str) -> None:
    if answer_body == original:
        assert outcome != "applied"
        return
    assert outcome == "applied"
    label = content_type.partition("charset=")[2].strip('"') or "utf-8"
    for bom, name in BOMS:
        if original.startswith(bom):  # the BOM wins over any label, and stays
            assert answer_body.startswith(bom)
            label = name
            break
    try:
        text = answer_body.decode(codecs.lookup(label).name)
    except (LookupError, UnicodeDecodeError):
        text = answer_body.decode("utf-8", "replace")
    assert OFFER in text or "Offer&#233;" in text or "Offer&eacute;" in text


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(hostile_pages()))
async def test_hostile_pages_come_out_rewritten_or_as_they_were(
    name: str, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, content_type = hostile_pages()[name]
    stats = TargetStats()
    app = page_app(
        static_client({"hero": [ACTIONS]}),
        body=body,
        media_type=content_type,
        engine=engine,
        stats=stats,
        max_body_size=16 * 1024 * 1024,
    )
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="target_middleware"):
        answer = await call(app)
    assert time.perf_counter() - started < MARGIN
    assert answer.status == 200
    assert_whole(answer)
    assert stats["decided"] == 1  # the decision's outcome; the page's is the one other count
    [outcome] = [k for k, v in stats.items() if v and k != "decided" and not k.startswith("rewrite-cache")]
    check(answer.body, body, outcome, content_type)
    assert len(our_records(caplog)) == (1 if outcome == "apply-error" else 0)


@pytest.mark.parametrize("charset", list(WRONG_BYTES))
async def test_every_declared_charset_with_wrong_bytes(charset: str, caplog: pytest.LogCaptureFixture) -> None:
    page = hero("x").encode(charset if charset not in ("utf-16", "utf-32") else charset + "-le")
    body = page + WRONG_BYTES[charset]
    stats = TargetStats()
    content_type = f"text/html; charset={charset}"
    app = page_app(static_client({"hero": [ACTIONS]}), body=body, media_type=content_type, stats=stats)
    with caplog.at_level(logging.WARNING, logger="target_middleware"):
        answer = await call(app)
    assert_whole(answer)
    assert stats["decided"] == 1  # the decision's outcome; the page's is the one other count
    [outcome] = [k for k, v in stats.items() if v and k != "decided" and not k.startswith("rewrite-cache")]
    if WRONG_BYTES[charset]:
        assert answer.body == body
        assert outcome == "apply-error"
        assert len(our_records(caplog)) == 1
    else:
        check(answer.body, body, outcome, content_type)
        assert outcome == "applied"


async def test_a_10_mb_page_over_the_cap_passes_through_and_under_it_is_rewritten() -> None:
    big = hero("x").replace("</body>", "<p>" + "lorem ipsum " * 900_000 + "</p></body>").encode()
    assert len(big) > 10 * 1024 * 1024
    for cap, outcome in ((4 * 1024 * 1024, "not-eligible"), (16 * 1024 * 1024, "applied")):
        stats = TargetStats()
        app = page_app(static_client({"hero": [ACTIONS]}), body=big, stats=stats, max_body_size=cap)
        answer = await call(app)
        assert_whole(answer)
        assert stats[outcome] == 1
        if outcome == "not-eligible":  # its Content-Length says it is over the cap: never buffered
            assert answer.body == big
        else:
            assert OFFER.encode() in answer.body
            assert len(answer.body) > len(big)
