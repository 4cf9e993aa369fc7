"""Each action type and each rule of tests/data/actions (SEMANTICS.md, ATJS-IN-BROWSER.md), on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from target_middleware import SkipReason, apply_actions, apply_offer
from target_middleware.html import ENGINES
from tests.html.canon import canon

ENGINE_NAMES = sorted(ENGINES)
PAGE = "<html><head><title>t</title></head><body>{}</body></html>"


def same(a: str, b: str) -> bool:
    return bool(canon(a) == canon(b))


def act(type_: str, selector: str | None, content: Any = None, **extra: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"type": type_, **extra}
    if selector is not None:
        action["selector"] = selector
    if content is not None:
        action["content"] = content
    return action


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_all_matches_are_changed(engine: str) -> None:
    result = apply_actions('<p class="x">a</p><p class="x">b</p>', [act("setText", "P.x", "z")], engine=engine)
    assert same(result.html, '<p class="x">z</p><p class="x">z</p>')
    assert result.applied[0].matched == 2


def test_each_selector_is_evaluated_when_its_action_runs(engine: str) -> None:
    cards = "".join(f'<div class="card">{i}</div>' for i in range(4))
    removed_then_inserted = apply_actions(
        cards,
        [act("remove", "DIV.card:eq(1)"), act("insertAfter", "DIV.card:eq(1)", "<i>new</i>")],
        engine=engine,
    )
    assert same(
        removed_then_inserted.html,
        '<div class="card">0</div><div class="card">2</div><i>new</i><div class="card">3</div>',
    )
    cancelled = apply_actions(
        cards,
        [act("insertAfter", "DIV.card:eq(1)", '<div class="card">x</div>'), act("remove", "DIV.card:eq(2)")],
        engine=engine,
    )
    assert same(cancelled.html, cards)


def test_target_created_by_a_later_action_gets_a_second_pass(engine: str) -> None:
    result = apply_actions(
        PAGE.format('<div id="a"></div>'),
        [act("setText", "#late", "filled"), act("appendHtml", "#a", '<p id="late">empty</p>')],
        engine=engine,
    )
    assert same(result.html, PAGE.format('<div id="a"><p id="late">filled</p></div>'))
    assert [r.index for r in result.applied] == [0, 1]


def test_child_wiped_by_an_earlier_set_html_is_a_silent_no_op(engine: str) -> None:
    result = apply_actions(
        '<div id="a"><p id="c">old</p></div>',
        [act("setHtml", "#a", "new"), act("setText", "#c", "never")],
        engine=engine,
    )
    assert same(result.html, '<div id="a">new</div>')
    assert [(r.index, r.reason) for r in result.skipped] == [(1, SkipReason.NO_MATCH)]


def test_content_actions(engine: str) -> None:
    base = '<div id="w"><div id="t">text<span>s</span></div></div>'
    expectations = {
        "setHtml": '<div id="w"><div id="t"><b>x</b></div></div>',
        "appendHtml": '<div id="w"><div id="t">text<span>s</span><b>x</b></div></div>',
        "prependHtml": '<div id="w"><div id="t"><b>x</b>text<span>s</span></div></div>',
        "replaceHtml": '<div id="w"><b>x</b></div>',
        "insertBefore": '<div id="w"><b>x</b><div id="t">text<span>s</span></div></div>',
        "insertAfter": '<div id="w"><div id="t">text<span>s</span></div><b>x</b></div>',
        "customCode": '<div id="w"><b>x</b><div id="t">text<span>s</span></div></div>',
    }
    for type_, expected in expectations.items():
        result = apply_actions(base, [act(type_, "#t", "<b>x</b>")], engine=engine)
        assert same(result.html, expected), type_


def test_set_text_escapes_markup(engine: str) -> None:
    result = apply_actions('<h1 id="t">old</h1>', [act("setText", "#t", "<b>5 < 6 &amp; 7</b>")], engine=engine)
    assert "&lt;b&gt;5 &lt; 6 &amp;amp; 7&lt;/b&gt;" in result.html


def test_custom_code_on_body_goes_to_the_start_of_body(engine: str) -> None:
    result = apply_actions(PAGE.format("<p>page</p>"), [act("customCode", "BODY", "<i>first</i>")], engine=engine)
    assert same(result.html, PAGE.format("<i>first</i><p>page</p>"))


def test_any_action_on_head_appends_only_script_link_and_style(engine: str) -> None:
    content = '<style>.a{}</style><div>dropped</div><link rel="stylesheet" href="x.css">text<script>1</script>'
    for type_ in ("setHtml", "customCode", "prependHtml", "insertBefore"):
        result = apply_actions(PAGE.format(""), [act(type_, "HEAD", content)], engine=engine)
        assert same(
            result.html,
            "<html><head><title>t</title><style>.a{}</style>"
            '<link rel="stylesheet" href="x.css"><script>1</script></head><body></body></html>',
        ), type_


def test_self_closing_non_void_tags_are_expanded_like_zepto(engine: str) -> None:
    result = apply_actions('<div id="t"></div>', [act("setHtml", "#t", '<div class="a"/><br/>after')], engine=engine)
    assert same(result.html, '<div id="t"><div class="a"></div><br>after</div>')


def test_content_is_parsed_in_the_context_of_its_target() -> None:
    result = apply_actions(
        '<table><tbody><tr id="r"><td>1</td></tr></tbody></table>', [act("appendHtml", "#r", "<td>2</td>")]
    )
    assert same(result.html, '<table><tbody><tr id="r"><td>1</td><td>2</td></tr></tbody></table>')


def test_inserted_scripts_and_styles_carry_the_nonce_and_remote_scripts_are_deferred(engine: str) -> None:
    content = (
        "<script>inline()</script><script src='a.js'></script><script src='b.js' async></script>"
        "<script type='module' src='m.js'></script><style>p{}</style><script type='application/ld+json'>{}</script>"
    )
    page = '<script nonce="n">mine()</script><div id="t"></div>'
    result = apply_actions(page, [act("setHtml", "#t", content)], engine=engine, nonce="n")
    assert same(
        result.html,
        '<script nonce="n">mine()</script><div id="t"><script nonce="n">inline()</script>'
        '<script src="a.js" nonce="n" defer></script><script src="b.js" async nonce="n"></script>'
        '<script type="module" src="m.js" nonce="n"></script><style nonce="n">p{}</style>'
        '<script type="application/ld+json" nonce="n">{}</script></div>',
    )


def test_without_a_nonce_no_nonce_attribute_is_written(engine: str) -> None:
    result = apply_actions('<div id="t"></div>', [act("setHtml", "#t", "<script>x()</script>")], engine=engine)
    assert "nonce" not in result.html


def test_clktrk_id_goes_to_the_first_inserted_element_and_the_rest_is_kept(engine: str) -> None:
    result = apply_actions(
        '<div id="t"></div>', [act("appendHtml", "CLKTRK#trk1 #t", "<a>one</a><a>two</a>")], engine=engine
    )
    assert same(result.html, '<div id="t"><a id="trk1">one</a><a>two</a></div>')


def test_set_attribute_replaces_and_none_removes(engine: str) -> None:
    result = apply_actions(
        '<a id="l" class="a b" title="t">x</a>',
        [act("setAttribute", "#l", {"class": "c", "title": None, "data-x": 1})],
        engine=engine,
    )
    assert same(result.html, '<a id="l" class="c" data-x="1">x</a>')


def test_set_image_source_sets_src_on_any_element_as_atjs_does(engine: str) -> None:
    result = apply_actions(
        '<img id="i" src="a.png" srcset="a.png 1x"><div id="d" src="x"></div><iframe id="f"></iframe>',
        [act("setImageSource", "#i", "b.png"), act("setImageSource", "#d", "c.png"), act("setImageSource", "#f", "/v")],
        engine=engine,
    )
    expected = (
        '<img id="i" src="b.png" srcset="a.png 1x"><div id="d" src="c.png"></div><iframe id="f" src="/v"></iframe>'
    )
    assert same(result.html, expected)
    assert [r.matched for r in result.applied] == [1, 1, 1]
    assert result.skipped == ()


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (True, "true"),
        (False, "false"),
        (1, "1"),
        (1.5, "1.5"),
        (10.0, "10"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (-1e21, "-1e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (123456789.125, "123456789.125"),
        (2**53 + 1, "9007199254740992"),  # a JavaScript number is a double
        (12345678901234567890, "12345678901234567000"),
        (10**400, "Infinity"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        ([1, None, [2, "a"]], "1,,2,a"),
        ({"a": 1}, "[object Object]"),
        ("As is", "As is"),
    ],
)
def test_set_attribute_writes_values_as_javascripts_string_does(engine: str, value: Any, written: str) -> None:
    result = apply_actions('<a id="l">x</a>', [act("setAttribute", "#l", {"data-v": value})], engine=engine)
    assert same(result.html, f'<a id="l" data-v="{written}">x</a>')


def test_set_attribute_legacy_form_writes_javascript_strings(engine: str) -> None:
    legacy = {"action": "setAttribute", "selector": "#l", "attribute": "aria-hidden", "value": True}
    assert same(apply_actions('<a id="l">x</a>', [legacy], engine=engine).html, '<a id="l" aria-hidden="true">x</a>')


def test_styles_resize_and_move(engine: str) -> None:
    result = apply_actions(
        '<div id="s" style="color: red !important"></div>',
        [
            act("setStyle", "#s", {"color": "blue", "marginTop": 4}),
            act("resize", "#s", {"width": "100", "height": "50%"}),
            act("move", "#s", {"left": 10, "top": "auto"}),
        ],
        engine=engine,
    )
    assert same(
        result.html,
        '<div id="s" style="color: red !important; margin-top: 4px; width: 100px; height: 50%; '
        'left: 10px; top: auto"></div>',
    )


def test_rearrange_moves_element_children(engine: str) -> None:
    page = '<ul id="r"><li>0</li><li>1</li><li>2</li></ul>'
    forward = apply_actions(page, [act("rearrange", "#r", {"from": 0, "to": 2})], engine=engine)
    assert same(forward.html, '<ul id="r"><li>1</li><li>2</li><li>0</li></ul>')
    backward = apply_actions(page, [act("rearrange", "#r", {"from": "2", "to": "0"})], engine=engine)
    assert same(backward.html, '<ul id="r"><li>2</li><li>0</li><li>1</li></ul>')
    out_of_range = apply_actions(page, [act("rearrange", "#r", {"from": 0, "to": 9})], engine=engine)
    assert out_of_range.html == page
    assert out_of_range.skipped[0].reason is SkipReason.NO_MATCH


def test_click_metric_marks_the_element_and_adds_one_listener(engine: str) -> None:
    result = apply_actions(
        PAGE.format('<a id="a">x</a><a id="b">y</a>'),
        [
            act("click", "#a", eventToken="tok1"),
            act("click", "#a", eventToken="tok2"),
            act("click", "#b", eventToken="tok3"),
        ],
        engine=engine,
        nonce="n",
        click_endpoint="/_target/click",
    )
    doc = ENGINES["lexbor"](result.html)
    assert [doc.get_attr(n, "data-target-click") for n in doc.query("a", None)] == ["tok1 tok2", "tok3"]
    scripts = doc.query("script[data-target-middleware]", None)
    assert len(scripts) == 1
    assert doc.get_attr(scripts[0], "nonce") == "n"
    assert doc.get_attr(scripts[0], "data-endpoint") == "/_target/click"


def test_redirect_short_circuits_every_other_action(engine: str) -> None:
    page = '<div id="foo">orig</div>'
    result = apply_actions(
        page, [act("setHtml", "#foo", "x"), act("redirect", None, "https://example.com/b")], engine=engine
    )
    assert result.redirect == "https://example.com/b"
    assert result.html == page
    assert not result.changed
    assert [(r.index, r.reason) for r in result.skipped] == [(0, SkipReason.REDIRECTED)]


def test_legacy_at_js_forms(engine: str) -> None:
    page = '<div id="a">a</div><img id="i" src="a.png"><div id="s"></div><ul id="r"><li>1</li><li>2</li></ul>'
    result = apply_actions(
        page,
        [
            {"action": "setContent", "selector": "#a", "content": "<b>A</b>"},
            {"action": "setAttribute", "selector": "#i", "attribute": "src", "value": "b.png"},
            {"action": "setAttribute", "selector": "#a", "attribute": "title", "value": "T"},
            {"action": "setStyle", "selector": "#s", "style": {"width": "10", "height": "20"}},
            {"action": "rearrange", "selector": "#r", "from": 1, "to": 0},
            {"action": "trackClick", "selector": "#a", "clickTrackId": "c1"},
        ],
        engine=engine,
    )
    assert not result.skipped
    assert [r.type for r in result.applied] == [
        "setHtml",
        "setImageSource",
        "setAttribute",
        "resize",
        "rearrange",
        "click",
    ]
    assert 'src="b.png"' in result.html
    assert "width: 10px; height: 20px;" in result.html
    legacy_redirect = apply_actions(page, [{"action": "redirect", "url": "https://e.com/"}], engine=engine)
    assert legacy_redirect.redirect == "https://e.com/"


def test_view_items_mark_their_container_and_are_not_applied_twice(engine: str) -> None:
    action = act("appendHtml", "#c", "<i>x</i>", _scopeType="view", _itemId="9-1")
    once = apply_actions('<div id="c"></div>', [action], engine=engine)
    assert same(once.html, '<div id="c" data-adobe-proposition-ids=",9-1"><i>x</i></div>')
    twice = apply_actions(once.html, [action], engine=engine)
    assert twice.html == once.html
    assert twice.skipped[0].reason is SkipReason.ALREADY_APPLIED


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (act("setHtml", "#t", {"not": "a string"}), SkipReason.BAD_CONTENT),
        (act("setText", "#t", 5), SkipReason.BAD_CONTENT),
        (act("setStyle", "#t", "color: red"), SkipReason.BAD_CONTENT),
        (act("setAttribute", "#t", {"bad name": "x"}), SkipReason.BAD_CONTENT),
        (act("rearrange", "#t", {"from": "one", "to": 2}), SkipReason.BAD_CONTENT),
        (act("rearrange", "#t", {"from": 1}), SkipReason.BAD_CONTENT),
        (act("click", "#t"), SkipReason.BAD_CONTENT),
        (act("redirect", None, 7), SkipReason.BAD_CONTENT),
        ("setHtml", SkipReason.BAD_CONTENT),
        (act("explode", "#t", "x"), SkipReason.UNSUPPORTED),
        ({"selector": "#t", "content": "x"}, SkipReason.UNSUPPORTED),
        ({"action": "setJson", "content": [{}]}, SkipReason.UNSUPPORTED),
        (act("setHtml", None, "x"), SkipReason.INVALID_SELECTOR),
        (act("setHtml", "#t:eq(bad)", "x"), SkipReason.INVALID_SELECTOR),
        (act("setHtml", "#t >", "x"), SkipReason.INVALID_SELECTOR),
        (act("setHtml", "div[", "x"), SkipReason.INVALID_SELECTOR),
        (act("setHtml", "#nothing", "x"), SkipReason.NO_MATCH),
    ],
)
def test_a_bad_action_is_skipped_with_its_reason_and_the_others_apply(
    engine: str, action: Any, reason: SkipReason
) -> None:
    result = apply_actions('<div id="t">t</div><p id="p">p</p>', [action, act("setText", "#p", "ok")], engine=engine)
    assert [(r.index, r.reason) for r in result.skipped] == [(0, reason)]
    assert result.skipped[0].detail
    assert [r.index for r in result.applied] == [1]
    assert same(result.html, '<div id="t">t</div><p id="p">ok</p>')


def test_css_selector_is_a_fallback_only_when_selector_is_absent(engine: str) -> None:
    page = '<p id="a">a</p><p id="b">b</p>'
    both = apply_actions(page, [act("setText", "#a", "x", cssSelector="#b")], engine=engine)
    assert same(both.html, '<p id="a">x</p><p id="b">b</p>')
    only_css = apply_actions(page, [{"type": "setText", "cssSelector": "#b", "content": "x"}], engine=engine)
    assert same(only_css.html, '<p id="a">a</p><p id="b">x</p>')


def test_apply_offer_puts_form_based_html_into_the_selector_default_head(engine: str) -> None:
    page = PAGE.format('<div id="hero">default</div>')
    offer = [{"action": "setContent", "content": "<p>hi</p><script>s()</script>"}]
    into_hero = apply_offer(page, {"mbox": "m", "offer": offer, "selector": "#hero"}, engine=engine)
    assert same(into_hero.html, PAGE.format('<div id="hero"><p>hi</p><script>s()</script></div>'))
    into_head = apply_offer(page, {"mbox": "m", "offer": offer}, engine=engine)
    assert same(
        into_head.html,
        '<html><head><title>t</title><script>s()</script></head><body><div id="hero">default</div></body></html>',
    )


def test_apply_offer_rejects_options_without_an_offer() -> None:
    with pytest.raises(ValueError, match="offer"):
        apply_offer("<p></p>", {"mbox": "m"})
    with pytest.raises(ValueError, match="offer"):
        apply_offer("<p></p>", {"mbox": "m", "offer": "<p>x</p>"})


def test_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="lexbor"):
        apply_actions("<p></p>", [], engine="regex")


def test_an_engine_failure_inside_one_action_is_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    from target_middleware.html.lexbor import LexborDocument

    class Failing(LexborDocument):
        def set_text(self, node: Any, text: str) -> None:
            raise RuntimeError("engine bug")

    monkeypatch.setitem(ENGINES, "failing", Failing)
    result = apply_actions(
        '<p id="a">a</p><p id="b">b</p>',
        [act("setText", "#a", "x"), act("setAttribute", "#b", {"title": "t"})],
        engine="failing",
    )
    assert [(r.index, r.reason, r.detail) for r in result.skipped] == [(0, SkipReason.ERROR, "RuntimeError")]
    assert [r.index for r in result.applied] == [1]
    assert '<p id="b" title="t">b</p>' in result.html
