"""The pre-check that returns a page unparsed when no selector can hit it: never wrong, and really used."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from target_middleware import apply_actions
from target_middleware.html import ENGINES, SkipReason
from target_middleware.html.apply import DEFAULT_ENGINE
from target_middleware.html.precheck import cannot_match, engine_accepts, required_tokens
from target_middleware.html.selectors import InvalidSelector, compile_selector

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = ["hero", "Hero", "HERO", "h", "ero", "a-b", "x_1", "123", "é", "É", "\u03a3", "k"]


def _reference(char: str, style: int) -> str:
    if style == 0:
        return f"&#{ord(char)};"
    if style == 1:
        return f"&#x{ord(char):X}"  # no semicolon
    return {"_": "&lowbar;", "-": "&#45;", "é": "&eacute;", "É": "&Eacute;"}.get(char, f"&#x{ord(char):x};")


@st.composite
def attribute_values(draw: st.DrawFn) -> str:
    """A token as it may be written in an attribute: plainly, in another case, or with character references."""
    token = draw(st.sampled_from(TOKENS))
    out = []
    for char in token:
        how = draw(st.integers(0, 5))
        out.append(_reference(char, how) if how < 3 else char.swapcase() if how == 3 else char)
    return "".join(out)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(["div", "p", "span", "ul", "li", "table", "tr", "td", "a", "img", "svg", "b"]))
    attributes = ""
    for name in ("id", "class"):
        if draw(st.booleans()):
            value = draw(attribute_values())
            if name == "class" and draw(st.booleans()):
                value += " " + draw(attribute_values())
            attributes += draw(st.sampled_from([f' {name}="{value}"', f" {name}={value}", f" {name}='{value}'"]))
    text = draw(st.sampled_from(["", "x", "a &amp; b", "&copy;", "&#1;", "<!-- #hero -->", "&notit;", "\r\n"]))
    inner = "".join(draw(st.lists(elements(depth + 1), max_size=3))) if depth < 2 else ""
    return f"<{tag}{attributes}>{text}{inner}</{tag}>"


pages = st.builds(
    lambda doctype, parts: doctype + "".join(parts),
    st.sampled_from(["", "<!DOCTYPE html>", '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">']),
    st.lists(elements(), max_size=5),
)


@st.composite
def selectors(draw: st.DrawFn) -> str:
    def simple() -> str:
        tag = draw(st.sampled_from(["", "DIV", "div", "P", "LI", "*", "HEAD", "BODY", "TBODY", "svg"]))
        parts = [tag]
        for _ in range(draw(st.integers(0 if tag else 1, 2))):
            token = draw(st.sampled_from([*TOKENS, "absent", "\\68 ero", "\\31 23", "x\\_1", "\\0", "a\\"]))
            parts.append(draw(st.sampled_from(["#", "."])) + token)
        parts.append(draw(st.sampled_from(["", "", ":eq(0)", ":eq(-1)", ":eq(1)", ":not(.absent)", ":first-child"])))
        parts.append(draw(st.sampled_from(["", "", ":has(#absent)", ":is(.absent, div)", "/* .absent */"])))
        return "".join(parts)

    compound = [simple() for _ in range(draw(st.integers(1, 3)))]
    selector = compound[0]
    for part in compound[1:]:
        selector += draw(st.sampled_from([" > ", " ", " + ", " ~ ", ", "])) + part
    prefix = draw(st.sampled_from(["", "", "CLKTRK#tok ", "> "]))
    suffix = draw(st.sampled_from(["", "", "", ":shadow > .k", " [", " >> P"]))
    return prefix + selector + suffix


@st.composite
def offers(draw: st.DrawFn) -> list[dict[str, Any]]:
    kinds = [
        {"type": "setHtml", "content": '<i id="made">new</i>'},
        {"type": "setAttribute", "content": {"data-x": "1"}},
        {"type": "setStyle", "content": {"color": "red"}},
        {"type": "insertBefore", "content": "<b class='k'>b</b>"},
        {"type": "remove"},
        {"type": "setImageSource", "content": "/x.png"},
        {"type": "rearrange", "content": {"from": 0, "to": 1}},
        {"type": "click", "eventToken": "t"},
    ]
    return [{**draw(st.sampled_from(kinds)), "selector": draw(selectors())} for _ in range(draw(st.integers(1, 3)))]


@pytest.mark.parametrize("engine", sorted(ENGINES))
@SETTINGS
@given(page=pages, actions=offers())
def test_the_precheck_never_skips_a_page_an_action_would_change(engine: str, page: str, actions: Any) -> None:
    fast = apply_actions(page, actions, engine=engine)
    full = apply_actions(page, actions, engine=engine, precheck=False)
    assert fast == full  # the same page, the same reports, whether the check skipped the parse or not
    selectors = []
    for action in actions:
        try:
            selectors.append(compile_selector(action["selector"]))
        except InvalidSelector:
            return
    if cannot_match(page, selectors, engine_accepts(ENGINES[engine])):
        event("skipped unparsed")
        assert not full.changed
        assert not full.applied


@pytest.mark.parametrize("engine", sorted(ENGINES))
@SETTINGS
@given(page=pages, selector=selectors())
def test_a_selector_declared_hopeless_hits_nothing_in_the_parsed_page(engine: str, page: str, selector: str) -> None:
    try:
        compiled = compile_selector(selector)
    except InvalidSelector:
        return
    if cannot_match(page, [compiled], engine_accepts(ENGINES[engine])):
        event("hopeless")
        result = apply_actions(
            page, [{"type": "setAttribute", "selector": selector, "content": {"x": "1"}}], engine=engine, precheck=False
        )
        assert [r.reason for r in result.skipped] == [SkipReason.NO_MATCH]


class _Counting:
    """An engine factory that records the pages it parsed."""

    def __init__(self) -> None:
        self.parsed: list[str] = []
        self.engine = ENGINES[DEFAULT_ENGINE]

    def __call__(self, html: str) -> Any:
        self.parsed.append(html)
        return self.engine(html)


PAGE = '<!DOCTYPE html><html><body><div id="hero" class="banner Big">Hi &amp; welcome</div></body></html>'


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    factory = _Counting()
    monkeypatch.setitem(ENGINES, "counting", factory)
    return factory


@pytest.mark.parametrize(
    "selector",
    [
        "#absent",
        ".absent",
        "DIV#absent",
        "#absent:eq(0) > P",
        "DIV.banner:eq(0) > .absent",
        "CLKTRK#hero #absent",
        "#absent, .missing",
        "#\\31 23",
    ],
)
def test_a_page_no_selector_can_hit_is_returned_unparsed(counting: _Counting, selector: str) -> None:
    result = apply_actions(PAGE, [{"type": "setHtml", "selector": selector, "content": "x"}], engine="counting")
    assert result.html is PAGE
    assert not result.changed
    assert [(r.reason, r.detail) for r in result.skipped] == [(SkipReason.NO_MATCH, "selector hit nothing")]
    assert PAGE not in counting.parsed


@pytest.mark.parametrize(
    "selector",
    [
        "#hero",
        "#HERO",  # quirks-mode pages match ids in any ASCII case: not provable from the text
        ".big",
        "DIV",  # tag names may be implied by the parser
        "BODY",
        "HEAD",
        "TBODY",
        "#absent, #hero",  # one alternative can match
        "DIV:not(#absent)",  # inside :not, a token is not required
        "DIV:has(.absent)",
        "DIV:shadow > #absent",
    ],
)
def test_a_page_a_selector_may_hit_is_parsed(counting: _Counting, selector: str) -> None:
    apply_actions(PAGE, [{"type": "setAttribute", "selector": selector, "content": {"x": "1"}}], engine="counting")
    assert PAGE in counting.parsed


def test_one_selector_that_may_match_is_enough_to_parse(counting: _Counting) -> None:
    actions = [{"type": "setHtml", "selector": "#absent", "content": "x"}, {"type": "remove", "selector": "#hero"}]
    result = apply_actions(PAGE, actions, engine="counting")
    assert PAGE in counting.parsed
    assert result.changed


@pytest.mark.parametrize(
    ("page", "selector"),
    [
        ('<div id="&#104;ero">', "#hero"),  # a decimal reference
        ('<div id="&#104ero">', "#hero"),  # no semicolon
        ('<div id="&#x68;ero">', "#hero"),  # hex
        ('<div class="x&lowbar;1">', ".x_1"),  # a named one
        ('<div id="&eacute;">', "#\\e9"),
        ('<div id="he&#1;ro">', "#hero"),  # html.parser drops a control character reference
        ("<div id=HERO>", "#hero"),  # no doctype: quirks mode, ids match in any ASCII case
    ],
)
def test_references_and_case_keep_a_page_parsed(counting: _Counting, page: str, selector: str) -> None:
    apply_actions(page, [{"type": "setAttribute", "selector": selector, "content": {"x": "1"}}], engine="counting")
    assert page in counting.parsed


def test_an_invalid_selector_is_reported_as_the_full_run_reports_it(counting: _Counting) -> None:
    result = apply_actions(PAGE, [{"type": "setHtml", "selector": "#absent >> P", "content": "x"}], engine="counting")
    assert [r.reason for r in result.skipped] == [SkipReason.INVALID_SELECTOR]


def test_precheck_off_parses_every_page(counting: _Counting) -> None:
    apply_actions(PAGE, [{"type": "setHtml", "selector": "#absent", "content": "x"}], engine="counting", precheck=False)
    assert PAGE in counting.parsed


def test_required_tokens_of_a_selector_list() -> None:
    assert required_tokens("DIV#a.b > P.c") == (frozenset({"a", "b", "c"}),)
    assert required_tokens("#a, .b") == (frozenset({"a"}), frozenset({"b"}))
    assert required_tokens("DIV:not(.x):has(#y) [title='.z'] /* .w */") == (frozenset(),)
    assert required_tokens("#\\31 23.x\\_1") == (frozenset({"123", "x_1"}),)
    assert required_tokens("#a\\0 b, #\\d x") == (frozenset(), frozenset())  # parser-rewritten characters
