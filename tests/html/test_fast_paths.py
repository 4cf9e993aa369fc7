"""The rewrite's shortcuts give exactly what the general path gives: each is checked against it, on both engines.

- setHtml with plain text (no tag, reference, CR or NUL) sets the text instead of parsing a fragment;
- an HTML fragment that names no <script> or <style> is not searched for them (nonce, defer).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware import apply_actions
from target_middleware.html import ENGINES
from target_middleware.html import actions as actions_module

# monkeypatch is only used through monkeypatch.context(), undone within each example.
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Every kind of context innerHTML knows: flow, phrasing, raw text, RCDATA, void, table parts, foreign content.
TAGS = [
    "div", "p", "span", "a", "b", "h1", "li", "ul", "button", "label", "option", "optgroup", "td", "th", "caption",
    "textarea", "title", "script", "style", "noscript", "iframe", "xmp", "noembed", "noframes", "img", "br", "input",
    "table", "tbody", "tr", "colgroup", "select", "template", "body", "head", "svg", "math", "pre", "listing",
    "my-element", "dl", "dd", "form", "object", "video",
]  # fmt: skip

PAGE = """<!DOCTYPE html><html><head><title>t</title></head><body>
<div id="host">{inner}</div></body></html>"""


def _element(tag: str) -> str:
    if tag in {"img", "br", "input"}:
        return f'<{tag} id="target">'
    wrap = {"td": "table><tr", "th": "table><tr", "tr": "table", "tbody": "table", "caption": "table",
            "colgroup": "table", "option": "select", "optgroup": "select", "li": "ul", "dd": "dl"}.get(tag)  # fmt: skip
    element = f'<{tag} id="target">old <i>text</i></{tag}>'
    if wrap:
        opened = wrap.split("><")
        element = "".join(f"<{t}>" for t in opened) + element + "".join(f"</{t}>" for t in reversed(opened))
    return element


plain = st.text(st.characters(blacklist_characters="<&\r\x00", blacklist_categories=("Cs",)), max_size=30)


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("tag", TAGS)
@SETTINGS
@given(text=plain)
def test_set_html_with_plain_text_is_what_parsing_it_builds(
    engine: str, tag: str, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if text and text.isspace():
        assert not actions_module.is_plain_text(text)  # html.parser collapses whitespace: always parsed
    else:
        assert actions_module.is_plain_text(text)
    page = PAGE.format(inner=_element(tag))
    if tag in {"body", "head"}:
        page = PAGE.format(inner="").replace(f"<{tag}>", f'<{tag} id="target">')
    action = [{"type": "setHtml", "selector": "#target", "content": text}]
    fast = apply_actions(page, action, engine=engine)  # type: ignore[arg-type]
    with monkeypatch.context() as patch:
        patch.setattr(actions_module, "is_plain_text", lambda content: False)
        parsed = apply_actions(page, action, engine=engine)  # type: ignore[arg-type]
    assert fast.html == parsed.html
    assert fast.applied == parsed.applied
    assert fast.skipped == parsed.skipped


@pytest.mark.parametrize("content", ["a", "a&amp;b", "<b>x</b>", "x\r\ny", "x\x00y", "<!-- c -->", "&lt;", " ", "\n\t"])
def test_plain_text_means_no_tag_reference_cr_or_nul(content: str) -> None:
    assert actions_module.is_plain_text(content) is (content == "a")
    assert actions_module.is_plain_text("")


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize(
    ("content", "has_script_or_style"),
    [
        ('<div class="banner">Members</div>', False),
        ("<SCRIPT>run()</SCRIPT><p>x</p>", True),
        ('<script src="/a.js"></script>', True),
        ("<style>.a{}</style>", True),
        ("<p>a <b>b</b></p><Style>p{}</Style>", True),
        ("<svg><script>x</script></svg>", True),
        ("<p>&lt;script&gt;</p>", False),
    ],
)
@pytest.mark.parametrize("kind", ["setHtml", "appendHtml", "insertBefore", "customCode"])
def test_fragments_without_script_or_style_skip_the_search_and_nothing_else(
    engine: str, content: str, has_script_or_style: bool, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = '<!DOCTYPE html><html><head></head><body><div id="target">old</div></body></html>'
    action = [{"type": kind, "selector": "#target", "content": content}]
    fast = apply_actions(page, action, engine=engine, nonce="n0nce")  # type: ignore[arg-type]
    with monkeypatch.context() as patch:
        patch.setattr(actions_module, "_SCRIPT_OR_STYLE", _Always())
        searched = apply_actions(page, action, engine=engine, nonce="n0nce")  # type: ignore[arg-type]
    assert fast.html == searched.html
    assert ('nonce="n0nce"' in fast.html) is has_script_or_style


class _Always:
    def search(self, text: str) -> bool:
        return True
