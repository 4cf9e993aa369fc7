"""Decoding a page, and the small node interface that the actions are written against.

Each engine (``lexbor``, ``soup``) implements :class:`Document` over its own node type; the action semantics in
``actions.py`` are written once above it. Nodes are the engine's own objects, opaque to everything else.
"""

from __future__ import annotations

import codecs
import re
from enum import StrEnum
from typing import Protocol, TypeVar

__all__ = ["Document", "Where", "decode", "is_fragment", "original_doctype"]

N = TypeVar("N")

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""",
    re.IGNORECASE,
)
_DOCTYPE = re.compile(r"<!doctype[^>]*>", re.IGNORECASE)
_DOCUMENT_TAGS = re.compile(r"<(?:!doctype|html|head|body)[\s>/]", re.IGNORECASE)


class Where(StrEnum):
    BEFORE = "before"
    AFTER = "after"
    PREPEND = "prepend"
    APPEND = "append"


def _codec(label: str) -> str:
    try:
        return codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        raise ValueError(f"unknown charset {label!r}") from None


def decode(data: bytes, charset: str | None = None) -> tuple[str, str]:
    """Decode a page the way a browser picks its encoding: BOM, declared charset, <meta charset>, UTF-8.

    Decoding is strict: a byte that is invalid in the chosen encoding raises ValueError, so a caller can send
    the original bytes instead of a page full of U+FFFD. A BOM stays in the text (as U+FEFF), so that encoding
    the text again gives back the same bytes.
    """
    encoding = None
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    if encoding is None and charset:
        encoding = _codec(charset)
    if encoding is None:
        match = _META_CHARSET.search(data, 0, 1024)
        encoding = _codec(match.group(1).decode("ascii")) if match else "utf-8"
    if encoding in {"utf-16", "utf-32"}:
        encoding += "-le"  # a label without a BOM: browsers read little-endian
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        raise ValueError(f"page is not valid {encoding} at byte {exc.start}") from None


def original_doctype(html: str) -> str | None:
    """The doctype exactly as written, when the page starts with one (after whitespace or comments)."""
    match = _DOCTYPE.search(html, 0, 4096)
    return match.group(0) if match else None


def is_fragment(html: str) -> bool:
    """True for a piece of markup with no doctype, html, head or body tag: serialize it back as a piece."""
    return _DOCUMENT_TAGS.search(html) is None


class Document(Protocol[N]):
    """A parsed page: the operations Target's actions need, over an engine's own nodes."""

    def query(self, css: str, context: N | None) -> list[N]:
        """Elements matching ``css`` under ``context`` (the document when None), document order, no duplicates.

        Like ``querySelectorAll``, the selector is matched against the whole document (ancestors may lie
        outside ``context``). Raises InvalidSelector when the engine rejects ``css``.
        """
        ...

    def query_first(self, css: str, context: N | None = None) -> N | None:
        """The first element :meth:`query` would return, or None; the search stops there."""
        ...

    def tag(self, node: N) -> str: ...
    def get_attr(self, node: N, name: str) -> str | None: ...
    def set_attr(self, node: N, name: str, value: str) -> None: ...
    def del_attr(self, node: N, name: str) -> None: ...
    def parent(self, node: N) -> N | None: ...
    def children(self, node: N) -> list[N]:
        """Element children only."""
        ...

    def child_nodes(self, node: N) -> list[N]:
        """Every child: elements, text and comments."""
        ...

    def is_element(self, node: N) -> bool: ...
    def fragment(self, html: str, context: N) -> N:
        """A detached container holding ``html`` parsed as the content of an element like ``context``."""
        ...

    def insert(self, container: N, where: Where, target: N) -> None:
        """Move every child of ``container`` to ``where`` relative to ``target``, keeping their order."""
        ...

    def move(self, node: N, where: Where, target: N) -> None: ...
    def clear(self, node: N) -> None: ...
    def set_text(self, node: N, text: str) -> None: ...
    def remove(self, node: N) -> None: ...
    def head(self) -> N | None: ...
    def body(self) -> N | None: ...
    def serialize(self) -> str: ...
    def shadow_root(self, host: N) -> tuple[str, N] | None:
        """The mode and content of ``host``'s declarative shadow root (its ``<template shadowrootmode>``)."""
        ...
