"""The ``soup`` engine: beautifulsoup4 with Python's ``html.parser`` builder, selectors by soupsieve.

For users who extend actions with bs4 and soupsieve. It is 40-70x slower than lexbor, and ``html.parser`` is
not an HTML5 tree builder, so its tree differs from a browser's where the HTML relies on the parser's repairs:

- no implied ``<tbody>``: a VEC selector ``TABLE > TBODY > TR`` misses a table written without one;
- no auto-closed ``<p>``/``<li>``: ``<p>a<p>b`` nests the second paragraph in the first;
- no implied ``<html>``/``<head>``/``<body>``: ``HTML > BODY > …`` misses a fragment, and ``BODY`` or ``HEAD``
  match nothing in a page that leaves them out;
- for a duplicated attribute the last value wins (browsers keep the first).

Pages written with explicit, well-nested markup select the same on both engines.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import soupsieve
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import (
    NavigableString,
    PageElement,
    Tag,
)

from .document import Where
from .selectors import InvalidSelector
from .shadow import SHADOW_MODES

__all__ = ["SoupDocument"]

BUILDER = "html.parser"


@lru_cache(maxsize=4096)
def _compiled(css: str) -> Any:
    try:
        return soupsieve.compile(css)
    except (soupsieve.SelectorSyntaxError, ValueError, NotImplementedError) as exc:
        raise InvalidSelector(f"{css!r}: {exc}") from None


def _parse(html: str) -> BeautifulSoup:
    # An offer's content is markup even when it reads like a URL or a file name ("http://…", "sale.html"): bs4's
    # warning that it might be one is noise here (and an error under warnings-as-errors).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        # Attribute values stay strings ("class" included), so setAttribute replaces them whole.
        return BeautifulSoup(html, BUILDER, multi_valued_attributes=None)


class SoupDocument:
    __slots__ = ("_soup",)

    def __init__(self, html: str) -> None:
        self._soup = _parse(html.removeprefix("\ufeff"))

    def query(self, css: str, context: Tag | None) -> list[Tag]:
        pattern = _compiled(css)
        return list(pattern.select(self._soup if context is None else context))

    def query_first(self, css: str, context: Tag | None = None) -> Tag | None:
        found: Tag | None = _compiled(css).select_one(self._soup if context is None else context)
        return found

    def tag(self, node: Tag) -> str:
        return node.name.lower()

    def get_attr(self, node: Tag, name: str) -> str | None:
        value = node.attrs.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else " ".join(value)

    def set_attr(self, node: Tag, name: str, value: str) -> None:
        node[name] = value

    def del_attr(self, node: Tag, name: str) -> None:
        node.attrs.pop(name, None)

    def parent(self, node: Tag) -> Tag | None:
        parent = node.parent
        if parent is None or isinstance(parent, BeautifulSoup):
            return None
        return parent

    def children(self, node: Tag) -> list[Tag]:
        return [child for child in node.children if isinstance(child, Tag)]

    def child_nodes(self, node: Tag) -> list[Any]:
        return list(node.children)

    def is_element(self, node: PageElement) -> bool:
        return isinstance(node, Tag)

    def fragment(self, html: str, context: Tag) -> Tag:
        container = self._soup.new_tag("div")
        parsed = _parse(html)
        for child in list(parsed.contents):
            container.append(child.extract())
        return container

    def insert(self, container: Tag, where: Where, target: Tag) -> None:
        nodes = [child.extract() for child in list(container.contents)]
        if where is Where.BEFORE:
            for node in nodes:
                target.insert_before(node)
        elif where is Where.AFTER:
            for node in reversed(nodes):
                target.insert_after(node)
        elif where is Where.APPEND:
            for node in nodes:
                target.append(node)
        else:
            for offset, node in enumerate(nodes):
                target.insert(offset, node)

    def move(self, node: Tag, where: Where, target: Tag) -> None:
        node.extract()
        if where is Where.BEFORE:
            target.insert_before(node)
        else:
            target.insert_after(node)

    def clear(self, node: Tag) -> None:
        node.clear()

    def set_text(self, node: Tag, text: str) -> None:
        node.clear()
        if text:
            node.append(NavigableString(text))

    def remove(self, node: Tag) -> None:
        node.decompose()

    def shadow_root(self, host: Tag) -> tuple[str, Tag] | None:
        # html.parser keeps a template's content as its children; soupsieve queries them from the template.
        for child in host.find_all("template", recursive=False):
            mode = child.attrs.get("shadowrootmode")
            if isinstance(mode, str) and mode.lower() in SHADOW_MODES:
                return mode.lower(), child
        return None

    def head(self) -> Tag | None:
        return self._soup.head

    def body(self) -> Tag | None:
        return self._soup.body

    def serialize(self) -> str:
        return self._soup.decode(formatter="minimal")
