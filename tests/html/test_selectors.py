from __future__ import annotations

import pytest

from target_middleware.html import ENGINES, InvalidSelector, compile_selector
from target_middleware.html.selectors import Segment, select

ENGINE_NAMES = sorted(ENGINES)


def ids(engine: str, html: str, selector: str) -> list[str | None]:
    doc = ENGINES[engine](html)
    return [doc.get_attr(node, "id") for node in select(doc, compile_selector(selector))]


def test_eq_splits_into_segments_scoped_after_a_combinator() -> None:
    compiled = compile_selector("HTML > BODY > DIV.wrapper:eq(0) > HEADER.header:eq( 1 ) > P:nth-of-type(1)")
    assert compiled.segments == (
        Segment("HTML > BODY > DIV.wrapper", scoped=False, eq=0),
        Segment("> HEADER.header", scoped=True, eq=1),
        Segment("> P:nth-of-type(1)", scoped=True, eq=None),
    )


def test_compiled_once_and_cached() -> None:
    assert compile_selector("#a:eq(0) > b") is compile_selector("#a:eq(0) > b")


def test_leading_digits_escaped_outside_quotes_and_brackets() -> None:
    compiled = compile_selector('#123 > DIV.9x[title="#1 .2"]')
    assert compiled.segments[0].css == '#\\31 23 > DIV.\\39 x[title="#1 .2"]'


def test_clktrk_prefix_is_stripped_and_kept_as_click_id() -> None:
    compiled = compile_selector("CLKTRK#track-7 #hero > P")
    assert compiled.click_id == "track-7"
    assert compiled.segments == (Segment("#hero > P", scoped=False, eq=None),)


@pytest.mark.parametrize(
    "selector", ["", "   ", "#abc:eq(bad)", "#abc:eq(eq())", "#abc:eq(0))", "#abc:eq(", "div[x", "a:eq(1.5)"]
)
def test_invalid_selectors_raise(selector: str) -> None:
    with pytest.raises(InvalidSelector):
        compile_selector(selector)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_eq_is_index_among_all_matches_in_document_order(engine: str) -> None:
    html = '<div id="r"><div><p id="p1"></p></div><div><p id="p2"></p><p id="p3"></p></div></div>'
    assert ids(engine, html, "#r div p:eq(0)") == ["p1"]
    assert ids(engine, html, "#r div p:eq(2)") == ["p3"]
    assert ids(engine, html, "#r div p:eq(-1)") == ["p3"]
    assert ids(engine, html, "#r div p:eq(3)") == []
    assert ids(engine, html, "#r div p:eq(-4)") == []
    assert ids(engine, html, "#r div p") == ["p1", "p2", "p3"]
    assert ids(engine, html, "#r > div :nth-child(1)") == ["p1", "p2"]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_child_combinator_after_eq_is_scoped_to_the_chosen_element(engine: str) -> None:
    html = '<div id="t"><div><div><span id="wrong"></span></div><span id="right"></span></div></div>'
    assert ids(engine, html, "#t > div:eq(0) > span") == ["right"]
    assert ids(engine, html, "#t > div:eq(0) span") == ["wrong", "right"]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_bare_id_hits_the_first_element_only_like_get_element_by_id(engine: str) -> None:
    html = '<div id="d" class="a"></div><div id="d" class="b"></div>'
    doc = ENGINES[engine](html)
    assert [doc.get_attr(n, "class") for n in select(doc, compile_selector("#d"))] == ["a"]
    assert [doc.get_attr(n, "class") for n in select(doc, compile_selector("DIV#d"))] == ["a", "b"]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_the_scope_marker_is_removed_after_selecting(engine: str) -> None:
    doc = ENGINES[engine]('<div id="a"><p id="b"></p></div>')
    assert [doc.get_attr(n, "id") for n in select(doc, compile_selector("#a:eq(0) > p"))] == ["b"]
    assert "scope" not in doc.serialize()


def test_lexbor_builds_the_browser_tree_for_vec_paths() -> None:
    table = '<table id="t"><tr><td id="c">1</td></tr></table>'
    assert ids("lexbor", table, "TABLE > TR > TD") == []
    assert ids("lexbor", table, "TABLE > TBODY > TR > TD") == ["c"]
    paragraphs = '<div id="d"><p id="one">a<p id="two">b</div>'
    assert ids("lexbor", paragraphs, "#d > P:nth-of-type(2)") == ["two"]


def test_soup_tree_differs_where_html_parser_does_not_repair_markup() -> None:
    # Documented in target_middleware/html/soup.py: html.parser adds no <tbody>.
    table = '<table id="t"><tr><td id="c">1</td></tr></table>'
    assert ids("soup", table, "TABLE > TBODY > TR > TD") == []


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_shadow_host_without_a_declarative_root_matches_nothing(engine: str) -> None:
    # Its component attaches the root from script, after us: its light DOM is not the target.
    html = '<div id="abc"><buy-now-button id="b">x</buy-now-button></div>'
    assert ids(engine, html, "#abc:eq(0) > BUY-NOW-BUTTON:nth-of-type(1):shadow > DIV") == []
