"""Fuzzing parse -> select -> apply -> serialize: hypothesis in CI (fixed examples), atheris by hand.

FUZZ_EXAMPLES=20000 pytest tests/robustness/test_fuzz.py      # a longer hypothesis run
python -m tests.robustness.test_fuzz -atheris_runs=100000      # coverage-guided, with atheris
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware import apply_actions

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
ACTION_TYPES = [
    "setHtml",
    "setContent",
    "setText",
    "setAttribute",
    "setStyle",
    "remove",
    "insertBefore",
    "insertAfter",
    "appendHtml",
    "prependHtml",
    "replaceHtml",
    "rearrange",
    "resize",
    "move",
    "customCode",
    "setImageSource",
    "redirect",
    "trackClick",
    "bogus",
]
PIECES = [
    "<",
    ">",
    "</",
    "/>",
    "div",
    "p",
    "table",
    "td",
    "tr",
    "script",
    "style",
    "template",
    "svg",
    "math",
    "select",
    "option",
    "a",
    "id=",
    "class=",
    '"',
    "'",
    "=",
    " ",
    "&amp;",
    "&#x0;",
    "&",
    "\x00",
    "\ufeff",
    "<!--",
    "-->",
    "<!DOCTYPE html>",
    "<html>",
    "<head>",
    "<body>",
    "x",
    "é",
    "\u202e",
    "\r\n",
    "#",
    ":eq(1)",
]
SELECTOR_PIECES = [
    "div",
    "p",
    "#a",
    ".k",
    "*",
    ">",
    " ",
    "+",
    "~",
    ",",
    ":eq(0)",
    ":eq(2)",
    ":eq(-1)",
    ":eq(",
    "HTML",
    "BODY",
    "[id]",
    "[id='a']",
    ":not(p)",
    ":has(p)",
    ":nth-child(2)",
    "CLKTRK#a",
    "\\31 x",
    "::",
    "(",
    ")",
    "\x00",
    ":first",
    "a:contains(x)",
    "#\\61",
]
CONTENT = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.dictionaries(
        st.sampled_from(["color", "href", "onclick", "", "x\r\ny", "width", "from", "to"]),
        st.one_of(st.text(max_size=8), st.integers(-5, 5)),
        max_size=3,
    ),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
pages = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
selectors = st.lists(st.sampled_from(SELECTOR_PIECES), min_size=1, max_size=6).map("".join)
actions = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(ACTION_TYPES), "selector": selectors, "content": CONTENT},
        optional={"cssSelector": selectors},
    ),
    max_size=6,
)


def check(page: str, offer: list[dict[str, Any]], engine: str) -> None:
    result = apply_actions(page.encode(), offer, engine=engine)
    assert len(result.applied) + len(result.skipped) == len(offer)
    if not result.changed:
        assert result.html == page  # untouched when nothing applies
    encoded = result.encode()
    assert encoded.decode(result.encoding) == result.html or "\x00" in page
    again = apply_actions(encoded, [{"type": "setText", "selector": "body", "content": "y"}], engine=engine)
    assert isinstance(again.html, str)


@pytest.mark.parametrize("engine", ["lexbor", "soup"])
def test_fuzz_parse_select_apply_serialize(engine: str) -> None:
    @SETTINGS
    @given(page=pages, offer=actions)
    def run(page: str, offer: list[dict[str, Any]]) -> None:
        check(page, offer, engine)

    run()


def test_atheris_target_runs_a_few_inputs() -> None:
    atheris = pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    for seed in (b"", b"\x00" * 64, bytes(range(256)), b"<div id=a>" * 10):
        one_input(seed, atheris)


def one_input(data: bytes, atheris: Any = None) -> None:
    """The atheris entry point: bytes -> a page and up to 4 actions."""
    if atheris is None:
        import atheris
    provider = atheris.FuzzedDataProvider(data)
    offer = [
        {
            "type": ACTION_TYPES[provider.ConsumeIntInRange(0, len(ACTION_TYPES) - 1)],
            "selector": "".join(
                SELECTOR_PIECES[i % len(SELECTOR_PIECES)] for i in provider.ConsumeIntListInRange(3, 0, 255)
            ),
            "content": provider.ConsumeUnicodeNoSurrogates(32),
        }
        for _ in range(provider.ConsumeIntInRange(0, 4))
    ]
    page = provider.ConsumeUnicodeNoSurrogates(4096)
    check(page, offer, "lexbor" if provider.ConsumeBool() else "soup")


if __name__ == "__main__":
    import atheris

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
