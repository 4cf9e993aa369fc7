from __future__ import annotations

import codecs

import pytest

from target_middleware import apply_actions
from target_middleware.html import ENGINES
from target_middleware.html.document import decode, is_fragment, original_doctype

ENGINE_NAMES = sorted(ENGINES)
SET_P = [{"type": "setText", "selector": "P", "content": "é€"}]


def test_decode_prefers_bom_then_declared_charset_then_meta_then_utf8() -> None:
    assert decode(codecs.BOM_UTF8 + "<p>é</p>".encode(), "latin-1") == ("\ufeff<p>é</p>", "utf-8")
    assert decode(codecs.BOM_UTF16_LE + "<p>é</p>".encode("utf-16-le"))[1] == "utf-16-le"
    assert decode("<p>é</p>".encode("latin-1"), "ISO-8859-1") == ("<p>é</p>", "iso8859-1")
    meta = '<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251")
    assert decode(meta) == ('<meta charset="windows-1251"><p>Привет</p>', "cp1251")
    http_equiv = b'<meta http-equiv="Content-Type" content="text/html; charset=latin-1"><p>\xe9</p>'
    assert decode(http_equiv)[0].endswith("<p>é</p>")
    assert decode("<p>é</p>".encode()) == ("<p>é</p>", "utf-8")


def test_decode_is_strict() -> None:
    with pytest.raises(ValueError, match="utf-8"):
        decode(b"<p>\xff\xfe\xfa</p>")
    with pytest.raises(ValueError, match="unknown charset"):
        decode(b"<p>x</p>", "klingon")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_bytes_in_the_page_charset_round_trip(engine: str) -> None:
    page = '<html><head><meta charset="iso-8859-15"></head><body><p>café</p></body></html>'.encode("iso-8859-15")
    result = apply_actions(page, SET_P, engine=engine)
    assert result.encoding == "iso8859-15"
    assert "<p>é€</p>".encode("iso-8859-15") in result.encode()


def test_characters_the_charset_cannot_hold_become_references() -> None:
    result = apply_actions(b"<p>x</p>", [{"type": "setText", "selector": "P", "content": "ü☃"}], charset="ascii")
    assert result.encode() == b"<p>&#252;&#9731;</p>"


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_nothing_applied_returns_the_input_itself(engine: str) -> None:
    page = "<!doctype html>\n<html><body><p class=\"a  b\" data-x='1'>a&b<br/></p></body></html>\n"
    result = apply_actions(page, [{"type": "setText", "selector": "#missing", "content": "x"}], engine=engine)
    assert result.html is page
    assert not result.changed
    raw = page.encode()
    assert apply_actions(raw, [], engine=engine).encode() == raw


def test_legacy_doctype_is_kept_byte_for_byte() -> None:
    doctype = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd">'
    result = apply_actions(doctype + "<html><body><p>a</p></body></html>", SET_P)
    assert result.html.startswith(doctype + "<html>")
    assert original_doctype("<!-- c --><!doctype html><p>") == "<!doctype html>"


def test_bom_is_kept() -> None:
    result = apply_actions(codecs.BOM_UTF8 + b"<html><body><p>a</p></body></html>", SET_P)
    assert result.encode().startswith(codecs.BOM_UTF8 + b"<html>")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_fragment_is_serialized_back_as_a_fragment(engine: str) -> None:
    assert is_fragment('<div id="x"><p>a</p></div>')
    assert not is_fragment("<HTML><body></body></HTML>")
    result = apply_actions('<div id="x"><p>a</p></div>', SET_P, engine=engine)
    assert result.html == '<div id="x"><p>é€</p></div>'


def test_lexbor_parses_with_scripting_on_like_a_browser() -> None:
    # With scripting on, <noscript> in <head> is text, so the <link> after it stays in <head>.
    page = '<html><head><noscript><img src="p.gif"></noscript><link id="l" rel="x"></head><body></body></html>'
    result = apply_actions(page, [{"type": "setAttribute", "selector": "HEAD > LINK", "content": {"title": "t"}}])
    assert result.applied


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_deeply_nested_and_malformed_pages_still_apply(engine: str) -> None:
    deep = "<div>" * 20_000 + '<p id="deep">x</p>' + "</div>" * 20_000
    result = apply_actions(deep, [{"type": "setText", "selector": "#deep", "content": "y"}], engine=engine)
    assert result.applied
    assert '<p id="deep">y</p>' in result.html
    broken = '<div id="a"><p>unclosed <b>bold <i>both</b> </div></span><table><td id="c">cell'
    fixed = apply_actions(broken, [{"type": "setText", "selector": "#c", "content": "ok"}], engine=engine)
    assert fixed.applied


def test_a_ten_megabyte_page() -> None:
    page = "<html><body>" + '<div class="row"><p>lorem ipsum dolor</p></div>' * 220_000 + "</body></html>"
    assert len(page) > 10_000_000
    result = apply_actions(page, [{"type": "setText", "selector": "DIV.row:eq(-1) > P", "content": "last"}])
    assert result.html.endswith('<div class="row"><p>last</p></div></body></html>')


def test_input_of_the_wrong_type_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        apply_actions(42, [])  # type: ignore[arg-type]
