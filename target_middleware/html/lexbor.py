"""The default engine: lexbor (through selectolax), an HTML5 parser that builds the tree a browser builds.

Target's Visual Experience Composer computed its selectors on a browser's DOM (implied ``<tbody>``, auto-closed
``<p>``, ``<noscript>`` as text with scripting on), so the same tree makes the same selectors hit the same nodes.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from .document import Where, is_fragment, original_doctype
from .selectors import InvalidSelector
from .shadow import SHADOW_MODES

__all__ = ["LexborDocument"]


class LexborDocument:
    __slots__ = ("_doctype", "_fragment", "_tree")

    def __init__(self, html: str) -> None:
        # Browsers drop a BOM before parsing; lexbor would keep it as text in <body>.
        self._tree = LexborHTMLParser(html.removeprefix("\ufeff"), scripting=True)
        self._doctype = original_doctype(html)
        self._fragment = is_fragment(html)

    def query(self, css: str, context: LexborNode | None) -> list[LexborNode]:
        try:
            found = self._tree.css(css) if context is None else context.css(css)
        except SelectolaxError as exc:
            raise InvalidSelector(f"{css!r}: {exc}") from None
        if len(found) < 2:
            return found
        # lexbor repeats a node that several parts of a selector list match.
        seen: set[int] = set()
        unique = []
        for node in found:
            key = node.mem_id
            if key not in seen:
                seen.add(key)
                unique.append(node)
        return unique

    def query_first(self, css: str, context: LexborNode | None = None) -> LexborNode | None:
        try:
            return (self._tree if context is None else context).css_first(css)
        except SelectolaxError as exc:
            raise InvalidSelector(f"{css!r}: {exc}") from None

    def tag(self, node: LexborNode) -> str:
        return node.tag or ""

    def get_attr(self, node: LexborNode, name: str) -> str | None:
        value = node.attributes.get(name)
        if value is None and name in node.attributes:
            return ""
        return value

    def set_attr(self, node: LexborNode, name: str, value: str) -> None:
        node.attrs[name] = value

    def del_attr(self, node: LexborNode, name: str) -> None:
        attrs = node.attrs
        if name in attrs:
            del attrs[name]

    def parent(self, node: LexborNode) -> LexborNode | None:
        parent = node.parent
        if parent is None or not parent.is_element_node:
            return None
        return parent

    def children(self, node: LexborNode) -> list[LexborNode]:
        return list(node.iter())

    def child_nodes(self, node: LexborNode) -> list[LexborNode]:
        return list(node.iter(include_text=True))

    def is_element(self, node: LexborNode) -> bool:
        return bool(node.is_element_node)

    def fragment(self, html: str, context: LexborNode) -> LexborNode:
        tag = context.tag or "div"
        if tag.startswith("-"):
            tag = "div"
        container = self._tree.create_node(tag)
        container.inner_html = html
        return container

    def insert(self, container: LexborNode, where: Where, target: LexborNode) -> None:
        nodes = list(container.iter(include_text=True))
        if where is Where.BEFORE:
            for node in nodes:
                target.insert_before(node, move=True)
        elif where is Where.APPEND:
            for node in nodes:
                target.insert_child(node, move=True)
        elif where is Where.AFTER:
            for node in reversed(nodes):
                target.insert_after(node, move=True)
        else:
            first = target.first_child
            if first is None:
                for node in nodes:
                    target.insert_child(node, move=True)
            else:
                for node in nodes:
                    first.insert_before(node, move=True)

    def move(self, node: LexborNode, where: Where, target: LexborNode) -> None:
        if where is Where.BEFORE:
            target.insert_before(node, move=True)
        else:
            target.insert_after(node, move=True)

    def clear(self, node: LexborNode) -> None:
        for child in list(node.iter(include_text=True)):
            child.decompose()

    def set_text(self, node: LexborNode, text: str) -> None:
        self.clear(node)
        if text:
            node.insert_child(text)

    def remove(self, node: LexborNode) -> None:
        node.decompose()

    def shadow_root(self, host: LexborNode) -> tuple[str, LexborNode] | None:
        # A template's content is a fragment outside the tree (css() never reaches it): query that fragment.
        for child in host.iter():
            mode = child.attributes.get("shadowrootmode") if child.tag == "template" else None
            if mode and mode.lower() in SHADOW_MODES:
                fragments = child.template_fragments()
                return (mode.lower(), fragments[0]) if fragments else None
        return None

    def head(self) -> LexborNode | None:
        return self._tree.head

    def body(self) -> LexborNode | None:
        return self._tree.body

    def serialize(self) -> str:
        if self._fragment:
            head, body = self._tree.head, self._tree.body
            return (head.inner_html or "" if head else "") + (body.inner_html or "" if body else "")
        html = self._tree.html or ""
        if self._doctype and html[:9].lower() == "<!doctype" and not html.startswith(self._doctype):
            # lexbor writes every doctype as <!DOCTYPE html>: a legacy public id would switch the page out of
            # quirks or limited-quirks mode. Put the page's own doctype back.
            end = html.find(">") + 1
            html = self._doctype + html[end:]
        return html
