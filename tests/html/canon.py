"""Pages compared as a browser would see them: the cases' README rules for comparing parsed trees."""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode


def _style(text: str) -> tuple[tuple[str, str], ...]:
    properties = {}
    for part in text.split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip():
            value = " ".join(value.split()).replace(" !important", "!important").replace("! important", "!important")
            properties[name.strip().lower()] = value
    return tuple(sorted(properties.items()))


def _node(node: LexborNode) -> Any:
    if node.is_text_node:
        text = node.text(deep=False)
        return None if not text.strip() else ("#text", text)
    if node.is_comment_node:
        return None
    attributes = []
    for name, value in sorted(node.attributes.items()):
        if name == "class":
            attributes.append((name, tuple(sorted((value or "").split()))))
        elif name == "style":
            attributes.append((name, _style(value or "")))
        else:
            attributes.append((name, value or ""))
    children = [c for c in (_node(child) for child in node.iter(include_text=True)) if c is not None]
    return (node.tag, tuple(attributes), tuple(children))


def canon(html: str) -> Any:
    """A canonical tree: whitespace-only text dropped, attributes sorted, class as tokens, style as a map."""
    tree = LexborHTMLParser(html, scripting=True)
    assert tree.root is not None
    return _node(tree.root)
