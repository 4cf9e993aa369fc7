"""Target's selector dialect, on top of any CSS engine.

The Visual Experience Composer writes selectors like ``HTML > BODY > DIV.offer:eq(0) > IMG:nth-of-type(1)``:
CSS plus jQuery's ``:eq(n)``, which no CSS engine knows. ``:eq(n)`` is the n-th match, in document order, of
everything before it (not a position among siblings), so a selector is evaluated segment by segment, each segment
queried from the single element the previous one chose, as at.js and the Web SDK do. A segment that starts with a
combinator (``> P``) is scoped to that element. Two more at.js habits are kept: ids and classes that start with a
digit are CSS-escaped, and a ``CLKTRK#<id> `` prefix is stripped (the id goes to the first inserted element).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, TypeVar

from .cssscan import CssScan
from .shadow import SHADOW, query_with_shadow

__all__ = ["InvalidSelector", "Segment", "TargetSelector", "compile_selector", "query_css", "select"]

N = TypeVar("N")

# A marker attribute for the element a scoped segment starts from: lexbor has no :scope, so "> P" from an
# element is queried as "[marker] > P" (the trick Sizzle used).
SCOPE_ATTRIBUTE = "data-target-middleware-scope"

_CLKTRK = re.compile(r"^\s*CLKTRK#(\S+)\s+")
_BARE_ID = re.compile(r"^#(?:[\w-]|\\[0-9a-fA-F]+ ?|\\.)+$")
_COMBINATOR_START = re.compile(r"^\s*[>+~]")
_EQ_ARGUMENT = re.compile(r"^\s*([+-]?\d+)\s*$")


class InvalidSelector(ValueError):
    """A selector that cannot be compiled or that the CSS engine rejects."""


@dataclass(frozen=True, slots=True)
class Segment:
    css: str
    scoped: bool
    eq: int | None


@dataclass(frozen=True, slots=True)
class TargetSelector:
    source: str
    segments: tuple[Segment, ...]
    click_id: str | None = None
    first_only: bool = False  # a bare "#id" hits the first element with that id, like getElementById
    shadow: bool = False  # ":shadow" steps into a declarative shadow root (see shadow.py)
    # Per segment, what select() runs: the query (query_css), and whether only its first match counts (:eq(0),
    # the VEC's usual step, so the search stops there).
    plan: tuple[tuple[str, bool], ...] = field(default=(), compare=False, repr=False)


class Queryable(Protocol[N]):
    """What selection needs from a document engine."""

    def query(self, css: str, context: N | None) -> list[N]: ...
    def query_first(self, css: str, context: N | None = None) -> N | None: ...
    def set_attr(self, node: N, name: str, value: str) -> None: ...
    def del_attr(self, node: N, name: str) -> None: ...
    def shadow_root(self, host: N) -> tuple[str, N] | None: ...
    def children(self, node: N) -> list[N]: ...


def _escape_leading_digits(selector: str) -> str:
    """``#123`` → ``#\\31 23`` and ``.9x`` → ``.\\39 x``, outside quotes, brackets and parentheses' numbers."""
    out: list[str] = []
    quote = ""
    bracket = 0
    i, n = 0, len(selector)
    while i < n:
        ch = selector[i]
        if quote:
            if ch == "\\" and i + 1 < n:
                out.append(selector[i : i + 2])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "\\" and i + 1 < n:
            out.append(selector[i : i + 2])
            i += 2
            continue
        elif ch == "[":
            bracket += 1
        elif ch == "]":
            bracket = max(0, bracket - 1)
        elif (
            ch in "#."
            and not bracket
            and i + 1 < n
            and selector[i + 1].isdigit()
            and not (ch == "." and i > 0 and selector[i - 1].isdigit())
        ):
            out.append(f"{ch}\\3{selector[i + 1]} ")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _split_eq(selector: str) -> list[tuple[str, str | None]]:
    """Split at each ``:eq(...)`` at parenthesis depth 0, outside quotes and brackets."""
    parts: list[tuple[str, str | None]] = []
    start = 0
    scan = CssScan(selector)
    for i, ch, depth, bracket in scan:
        if i < start:
            continue  # inside an :eq(...) already taken
        if ch == ")" and not depth:
            raise InvalidSelector(f"unbalanced ')' in {selector!r}")
        if ch == ":" and not depth and not bracket and selector.startswith(":eq(", i):
            close = selector.find(")", i + 4)
            if close < 0:
                raise InvalidSelector(f"unclosed :eq( in {selector!r}")
            parts.append((selector[start:i], selector[i + 4 : close]))
            start = close + 1
    if not scan.balanced:
        raise InvalidSelector(f"unbalanced quotes, brackets or parentheses in {selector!r}")
    parts.append((selector[start:], None))
    return parts


@lru_cache(maxsize=4096)
def compile_selector(selector: str) -> TargetSelector:
    """Compile a Target selector once; raises InvalidSelector for one no engine could evaluate."""
    if not isinstance(selector, str) or not selector.strip():
        raise InvalidSelector("empty selector")
    click_id = None
    source = selector
    match = _CLKTRK.match(selector)
    if match:
        click_id = match.group(1)
        selector = selector[match.end() :]
    shadow = SHADOW in selector
    escaped = _escape_leading_digits(selector.strip())
    segments: list[Segment] = []
    for css, eq_argument in _split_eq(escaped):
        eq = None
        if eq_argument is not None:
            eq_match = _EQ_ARGUMENT.match(eq_argument)
            if eq_match is None:
                raise InvalidSelector(f":eq() takes an integer, got {eq_argument!r}")
            eq = int(eq_match.group(1))
        if not css.strip():
            if eq_argument is None and segments:
                continue  # the empty tail after a final :eq(n)
            raise InvalidSelector(f"empty segment in {source!r}")
        scoped = bool(_COMBINATOR_START.match(css))
        segments.append(Segment(css.strip(), scoped, eq))
    first_only = len(segments) == 1 and segments[0].eq is None and bool(_BARE_ID.match(segments[0].css))
    plan = tuple((query_css(segment, index), segment.eq == 0) for index, segment in enumerate(segments))
    return TargetSelector(source, tuple(segments), click_id, first_only, shadow, plan)


def query_css(segment: Segment, index: int) -> str:
    """The query :func:`select` runs for the ``index``-th segment (a scoped one is anchored, see SCOPE_ATTRIBUTE)."""
    if not segment.scoped:
        return segment.css
    return f":root {segment.css}" if index == 0 else f"[{SCOPE_ATTRIBUTE}] {segment.css}"


def select(doc: Queryable[N], selector: TargetSelector) -> list[N]:
    """Every element the selector hits, in document order (raises InvalidSelector from the engine)."""
    segments = selector.segments
    if selector.first_only:
        first = doc.query_first(segments[0].css)
        return [] if first is None else [first]
    context: N | None = None
    nodes: list[N] = []
    for segment, (css, first_only) in zip(segments, selector.plan, strict=True):
        if selector.shadow and SHADOW in segment.css:
            nodes = query_with_shadow(doc, segment.css, context, lambda css, ctx: _query_part(doc, css, ctx))
        else:
            marked = context if segment.scoped else None  # "> P" from an element: anchored on a marker
            if marked is not None:
                doc.set_attr(marked, SCOPE_ATTRIBUTE, "")
            try:
                if first_only:
                    first = doc.query_first(css, context)
                    nodes = [] if first is None else [first]
                else:
                    nodes = doc.query(css, context)
            finally:
                if marked is not None:
                    doc.del_attr(marked, SCOPE_ATTRIBUTE)
        if not nodes:
            return []
        eq = segment.eq
        if eq is not None and eq != 0:
            if not -len(nodes) <= eq < len(nodes):
                return []
            nodes = [nodes[eq]]
        context = nodes[0]
    return nodes


def _query_part(doc: Queryable[N], css: str, context: N | None) -> list[N]:
    """A part of a ``:shadow`` segment from ``context``; one that starts with a combinator is scoped to it."""
    if not _COMBINATOR_START.match(css):
        return doc.query(css, context)
    if context is None:
        return doc.query(f":root {css}", None)
    doc.set_attr(context, SCOPE_ATTRIBUTE, "")
    try:
        return doc.query(f"[{SCOPE_ATTRIBUTE}] {css}", context)
    finally:
        doc.del_attr(context, SCOPE_ATTRIBUTE)
