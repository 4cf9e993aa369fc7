"""``:shadow`` in Target selectors, on declarative shadow roots (``<template shadowrootmode="open">``).

The Visual Experience Composer writes ``BUY-BUTTON:nth-of-type(2):shadow > DIV:nth-of-type(1)`` for an element
inside a web component's shadow root: the query goes on inside the shadow root of the first element that the part
before ``:shadow`` found, a leading ``>`` meaning a top-level element of that root.

Server HTML holds a shadow root as a ``<template shadowrootmode>`` child of its host (the browser attaches it while
parsing). Where the host has none, at.js and the Web SDK act on the host itself (its ``shadowRoot`` is null); on
the server that would be wrong, because a component usually attaches its root from script, after our rewrite: the
host's light DOM would get what was meant for its shadow tree. So a host without a declarative root matches
nothing, and a host whose declarative root is ``closed`` is hit itself, as at.js hits it in the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from .cssscan import CssScan

__all__ = ["ShadowQueryable", "query_with_shadow"]

N = TypeVar("N")

SHADOW = ":shadow"
SHADOW_MODES = frozenset({"open", "closed"})  # another value leaves the template a plain template
# Marks the top-level elements of a shadow root while a "> …" part is queried in it: a root is not an element,
# so it cannot carry the scope attribute, and lexbor has no :scope or :host.
TOP_ATTRIBUTE = "data-target-middleware-top"


class ShadowQueryable(Protocol[N]):
    def query(self, css: str, context: N | None) -> list[N]: ...
    def shadow_root(self, host: N) -> tuple[str, N] | None: ...
    def children(self, node: N) -> list[N]: ...
    def set_attr(self, node: N, name: str, value: str) -> None: ...
    def del_attr(self, node: N, name: str) -> None: ...


def query_with_shadow(
    doc: ShadowQueryable[N],
    css: str,
    context: N | None,
    query: Callable[[str, N | None], list[N]],
) -> list[N]:
    """The elements ``css`` (with ``:shadow`` in it) hits from ``context``; ``query`` queries a part without one."""
    parts = [part.strip() for part in css.split(SHADOW)]
    parent, in_root = context, False
    nodes: list[N] = []
    for i, part in enumerate(parts):
        if not part:  # "X:eq(1):shadow > Y": the step into the shadow root of what came before
            if parent is None or in_root:
                return []
            nodes = [parent]
        else:
            nodes = _query_in_root(doc, part, parent) if in_root else query(part, parent)
            if not nodes or i == len(parts) - 1:
                return nodes
        root = doc.shadow_root(nodes[0])
        if root is None:
            return []  # no declarative root: the component's script attaches one later, out of our reach
        mode, content = root
        if mode != "open":
            return nodes  # closed: at.js acts on the host, its shadowRoot being null
        parent, in_root = content, True
    return []  # a selector that ends in ":shadow" names no element


def _query_in_root(doc: ShadowQueryable[N], part: str, root: N | None) -> list[N]:
    if part[0] in "+~":
        return []  # a shadow root has no siblings
    if part[0] != ">":
        return doc.query(part, root)
    assert root is not None
    top = doc.children(root)
    for node in top:
        doc.set_attr(node, TOP_ATTRIBUTE, "")
    try:
        rest = part[1:].strip()
        end = _first_compound_end(rest)
        return doc.query(f"{rest[:end]}[{TOP_ATTRIBUTE}]{rest[end:]}", root)
    finally:
        for node in top:
            doc.del_attr(node, TOP_ATTRIBUTE)


def _first_compound_end(css: str) -> int:
    """Where the first compound selector of ``css`` ends: at a combinator or a comma outside (), [] and quotes."""
    for i, ch, depth, bracket in CssScan(css):
        if depth + bracket == 0 and (ch.isspace() or ch in ">+~,"):  # one nesting count, as before
            return i
    return len(css)
