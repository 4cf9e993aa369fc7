"""``:shadow`` selectors reach into declarative shadow roots (``<template shadowrootmode>``), on both engines."""

from __future__ import annotations

import pytest

from target_middleware import apply_actions
from target_middleware.html import ENGINES, compile_selector
from target_middleware.html.selectors import select
from tests.html.canon import canon

ENGINE_NAMES = sorted(ENGINES)

PAGE = (
    "<html><head></head><body><div id='abc'><form>"
    "<buy-now-button id='first'><span>light one</span></buy-now-button>"
    "<buy-now-button id='second'>"
    "<template shadowrootmode='open'>"
    "<div id='d1'><label id='l1'>Buy</label><label id='l2'>Now</label></div>"
    "<div id='d2'><price-tag id='pt'><template shadowrootmode='open'><b id='deep'>9</b></template></price-tag></div>"
    "<p id='top'>top</p>"
    "</template>"
    "<span id='slotted'>light two</span>"
    "</buy-now-button>"
    "<sealed-box id='sealed'><template shadowrootmode='closed'><p id='hidden'>c</p></template>box</sealed-box>"
    "<odd-box id='odd'><template shadowrootmode='sideways'><p id='plain'>t</p></template></odd-box>"
    "</form></div></body></html>"
)


def ids(engine: str, selector: str, html: str = PAGE) -> list[str | None]:
    doc = ENGINES[engine](html)
    return [doc.get_attr(node, "id") for node in select(doc, compile_selector(selector))]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # what the Visual Experience Composer writes for an element in a component's shadow tree
        (
            "#abc:eq(0) > FORM:nth-of-type(1) > BUY-NOW-BUTTON:nth-of-type(2):shadow > DIV:nth-of-type(1) > LABEL",
            ["l1", "l2"],
        ),
        ("BUY-NOW-BUTTON:nth-of-type(2):shadow > DIV:nth-of-type(1) > LABEL:nth-of-type(2)", ["l2"]),
        ("BUY-NOW-BUTTON:eq(1):shadow > P", ["top"]),  # :eq and :shadow chained
        ("BUY-NOW-BUTTON:eq(1):shadow LABEL:eq(1)", ["l2"]),
        ("#second:shadow LABEL", ["l1", "l2"]),  # descendants of the root
        ("#second:shadow > LABEL", []),  # "> " is a top-level element of the root: the labels are not
        ("#second:shadow > DIV:nth-of-type(2), P", ["d2", "top"]),  # a list: only its first item is anchored
        ("#second:shadow B", []),  # a nested shadow root is not entered without its own :shadow
        ("#second:shadow PRICE-TAG:shadow > B", ["deep"]),
        ("#second:shadow + P", []),  # a shadow root has no siblings
        ("#second:shadow", []),  # ends at the step: names no element
        ("LABEL", []),  # a plain selector stays out of shadow trees, as querySelectorAll does
        ("#first:shadow > DIV", []),  # no declarative root: its script attaches one later
        ("#sealed:shadow > P", ["sealed"]),  # closed: at.js acts on the host, whose shadowRoot is null
        ("#odd:shadow > P", []),  # not a shadow root mode: a plain template, not a root
        ("#first:shadow > DIV, #second", []),
    ],
)
def test_shadow_selectors(engine: str, selector: str, expected: list[str]) -> None:
    assert ids(engine, selector) == expected


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_actions_change_the_shadow_tree_and_it_stays_declarative(engine: str) -> None:
    result = apply_actions(
        PAGE,
        [
            {
                "type": "setHtml",
                "selector": "BUY-NOW-BUTTON:eq(1):shadow > DIV:eq(0) > LABEL:eq(0)",
                "content": "<i>Get</i>",
            },
            {"type": "setAttribute", "selector": "#second:shadow > P", "content": {"data-on": True}},
            {"type": "insertAfter", "selector": "#second:shadow #l2", "content": "<em id='new'>!</em>"},
            {"type": "setStyle", "selector": "#second:shadow PRICE-TAG:shadow > B", "content": {"color": "red"}},
            {"type": "setText", "selector": "#first:shadow > DIV", "content": "lost"},
        ],
        engine=engine,
    )
    assert [r.index for r in result.applied] == [0, 1, 2, 3]
    assert [(r.index, r.reason) for r in result.skipped] == [(4, "no-match")]
    expected = PAGE.replace("<label id='l1'>Buy</label>", "<label id='l1'><i>Get</i></label>")
    expected = expected.replace("<p id='top'>", "<p id='top' data-on='true'>")
    expected = expected.replace("<label id='l2'>Now</label>", "<label id='l2'>Now</label><em id='new'>!</em>")
    expected = expected.replace("<b id='deep'>", "<b id='deep' style='color: red'>")
    assert canon(result.html) == canon(expected)
    assert result.html.count('<template shadowrootmode="open">') == 2  # still declarative roots for the browser
    assert "<span>light one</span>" in result.html
