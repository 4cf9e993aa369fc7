"""A walk over a CSS selector's structure: what lies outside quoted strings and escapes, at which depth.

Splitting a Target selector at its ``:eq()`` steps, finding where a compound selector ends, and collecting the ids
and classes a selector needs all read the same structure: a character inside ``"…"`` or ``'…'``, or escaped with a
backslash, means nothing; parentheses and brackets nest.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["CssScan"]


class CssScan:
    """Iterates ``(index, character, parenthesis depth, bracket depth)`` over the characters of ``css`` that are not
    quoted or escaped (nor in a comment, with ``comments``), the depths as they stand before that character.

    After the walk, ``balanced`` says whether every quote, parenthesis and bracket was closed.
    """

    __slots__ = ("balanced", "comments", "css")

    def __init__(self, css: str, *, comments: bool = False) -> None:
        self.css = css
        self.comments = comments
        self.balanced = False

    def __iter__(self) -> Iterator[tuple[int, str, int, int]]:
        css = self.css
        depth = bracket = 0
        quote = ""
        i, n = 0, len(css)
        while i < n:
            ch = css[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
            elif self.comments and css.startswith("/*", i):
                end = css.find("*/", i + 2)
                i = n if end < 0 else end + 2
                continue
            elif ch == "\\":
                i += 1
            elif ch in "\"'":
                quote = ch
            else:
                yield i, ch, depth, bracket
                if ch == "[":
                    bracket += 1
                elif ch == "]":
                    bracket -= 1
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
            i += 1
        self.balanced = not (quote or depth or bracket)
