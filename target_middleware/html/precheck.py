"""A look at the page's text that proves, without parsing it, that a selector can hit nothing.

Parsing and serializing is most of what applying an offer costs. When every action's selector names an id or a
class that occurs nowhere in the page, no action can apply and the page goes out as it came, unparsed. The test
only ever says "cannot match" when that is certain, whatever the engine:

- only ``#id`` and ``.class`` tokens outside parentheses count (tag names may be implied by the parser, as
  ``<tbody>`` or ``<body>`` are; attribute names may be rewritten, as SVG's are; inside ``:not()``, ``:is()`` or
  ``:has()`` a token is not required);
- a selector list needs just one of its alternatives, and a Target selector every one of its ``:eq`` segments;
- the search ignores ASCII case (quirks-mode pages match ids and classes that way);
- a character reference can put any character into an attribute value (``id="&#104;ero"``): when one of the
  page's references can produce a character of the token, the token counts as present;
- a token with a character the parser rewrites (CR, LF, NUL, U+FFFD) counts as present.

A selector is only declared hopeless when the engine accepts every query that would run before the hopeless
segment, so the reports are exactly those of a full run: ``no-match``, never a hidden ``invalid-selector``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from .cssscan import CssScan
from .selectors import InvalidSelector, TargetSelector, query_css

__all__ = ["cannot_match", "engine_accepts", "required_tokens"]

# Every character reference a browser or html.parser could decode, with or without its semicolon.
_REFERENCE = re.compile(r"&(?:#[xX][0-9A-Fa-f]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);?")
_HEX = frozenset("0123456789abcdefABCDEF")
_CSS_WHITESPACE = " \t\n\r\f"
_REWRITTEN = frozenset("\x00\r\n\ufffd")  # characters the HTML parser changes in attribute values


def _ident(css: str, i: int) -> tuple[str, int]:
    """A CSS identifier starting at ``i``, escapes resolved; returns it and the index after it."""
    out: list[str] = []
    n = len(css)
    while i < n:
        ch = css[i]
        if ch == "\\":
            if i + 1 >= n:
                out.append("\ufffd")
                i += 1
                continue
            j = i + 1
            while j < n and j - i <= 6 and css[j] in _HEX:
                j += 1
            if j > i + 1:
                code = int(css[i + 1 : j], 16)
                out.append(chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd")
                if css.startswith("\r\n", j):
                    j += 2
                elif j < n and css[j] in _CSS_WHITESPACE:
                    j += 1
                i = j
            else:
                out.append(css[i + 1])
                i += 2
        elif ch.isascii() and not (ch.isalnum() or ch in "-_"):
            break
        else:
            out.append(ch)
            i += 1
    return "".join(out), i


@lru_cache(maxsize=4096)
def required_tokens(css: str) -> tuple[frozenset[str], ...]:
    """For each alternative of a selector list, the ids and classes an element must carry for it to match."""
    alternatives: list[frozenset[str]] = []
    tokens: set[str] = set()
    after = 0  # where the last token read ended
    for i, ch, depth, bracket in CssScan(css, comments=True):
        if i < after or depth or bracket:
            continue
        if ch == ",":
            alternatives.append(frozenset(tokens))
            tokens = set()
        elif ch in "#.":
            token, after = _ident(css, i + 1)
            if token and not _REWRITTEN.intersection(token):
                tokens.add(token)
    alternatives.append(frozenset(tokens))
    return tuple(alternatives)


class _Page:
    """The page's text as the search sees it: UTF-8, ASCII case folded, and what its references can produce."""

    __slots__ = ("_folded", "_produced", "_scanned", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._folded: bytes | None = None
        self._produced: frozenset[str] | None = frozenset()
        self._scanned = False

    def has(self, token: str) -> bool:
        if self._folded is None:
            if token in self._text:  # the usual answer, and the cheapest
                return True
            # bytes.lower() folds ASCII only, and UTF-8 keeps substrings substrings. Made once, on the first
            # token that is not there as written; from then on it alone is searched.
            self._folded = self._text.encode("utf-8", "surrogatepass").lower()
        if token.encode("utf-8", "surrogatepass").lower() in self._folded:
            return True
        produced = self._references()
        return produced is None or any((c.lower() if c.isascii() else c) in produced for c in token)

    def _references(self) -> frozenset[str] | None:
        if not self._scanned:
            self._scanned = True
            if "&" in self._text:
                self._produced = _produced(frozenset(_REFERENCE.findall(self._text)))
        return self._produced


def _produced(references: frozenset[str]) -> frozenset[str] | None:
    """Every character the references can decode to (ASCII lower-cased too); None when one decodes to nothing."""
    chars: set[str] = set()
    for reference in references:
        decoded = html.unescape(reference)  # html.parser's reading, which the soup engine uses
        if not decoded:  # it could join any two pieces of a token
            return None
        chars.update(decoded)
        if reference.startswith("&#"):  # a browser keeps control characters that html.unescape drops
            digits = reference[2:].rstrip(";")
            code = int(digits[1:], 16) if digits[:1] in "xX" else int(digits)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                chars.add(chr(code))
    return frozenset(chars | {c.lower() for c in chars if c.isascii()})


Alternatives = tuple[frozenset[str], ...]


@lru_cache(maxsize=4096)
def _segment_needs(selector: TargetSelector, accepts: Callable[[str], bool]) -> tuple[Alternatives, ...]:
    """The tokens each segment needs (per alternative), up to the first query the engine would reject.

    Selection stops at the first segment that finds nothing, so a hopeless segment proves "no match" only when
    every query before it (and its own) would run. A ``:shadow`` selector is matched by its own rules: never
    declared hopeless (no segments to check).
    """
    if selector.shadow:
        return ()
    needs: list[Alternatives] = []
    for index, segment in enumerate(selector.segments):
        if not accepts(query_css(segment, index)):
            break  # a full run would report the engine's invalid-selector: let it
        needs.append(required_tokens(segment.css))
    return tuple(needs)


def _hopeless(page: _Page, alternatives: Alternatives) -> bool:
    """True when no alternative can match: each names a token the page cannot hold."""
    return all(any(not page.has(token) for token in tokens) for tokens in alternatives)


def cannot_match(text: str, selectors: Sequence[TargetSelector], accepts: Callable[[str], bool]) -> bool:
    """True when, provably, none of ``selectors`` hits an element of the page ``text``.

    ``accepts(css)`` says whether the engine compiles a query: selection stops at the first segment that finds
    nothing, so only the queries up to there must be valid for the outcome to be "no match".
    """
    if not selectors:
        return False
    page = _Page(text)
    for selector in selectors:
        if not any(_hopeless(page, alternatives) for alternatives in _segment_needs(selector, accepts)):
            return False
    return True


@lru_cache(maxsize=16)
def engine_accepts(factory: Callable[[str], Any]) -> Callable[[str], bool]:
    """Whether an engine compiles a query, asked of an empty document of that engine (cached per query)."""

    @lru_cache(maxsize=4096)
    def accepts(css: str) -> bool:
        try:
            factory("").query(css, None)
        except InvalidSelector:
            return False
        except Exception:
            return False  # an engine failure is the full run's to report
        return True

    return accepts
