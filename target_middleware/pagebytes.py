"""Pieces put into a page's bytes after the rewrite: JSON a script element can carry, and the splice before
``</body>``.

What one visitor or one page view owns (click signatures, the A4T data island) is never part of the rewrite, which
the rewrite cache shares between the visitors of an experience: it is spliced into the bytes afterwards, with no
parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii
from typing import Any

__all__ = [
    "ascii_as_is",
    "body_end",
    "click_head",
    "clicks_json",
    "script_json",
    "splice_at",
    "splice_before_body_end",
]

# Inside a <script> element, '<' '>' '&' as JSON escapes: no "</script>" or "<!--" can appear.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)  # json.dumps's, made once rather than per call
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_TEXT_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def script_json(value: Any) -> str:
    """JSON that cannot end a script element or open a comment in it, in ASCII (U+2028/2029 and every non-ASCII
    character as ``\\u`` escapes, so it reads the same in any page charset)."""
    return _COMPACT.encode(value).translate(_SCRIPT_SAFE)


def _script_string(text: str) -> str:
    """One string as :func:`script_json` writes it: the JSON encoder's own ASCII escaping, then ``<`` ``>`` ``&``."""
    quoted = encode_basestring_ascii(text)
    return quoted.translate(_SCRIPT_SAFE) if "<" in text or ">" in text or "&" in text else quoted


def clicks_json(expires: int, clicks: Iterable[tuple[str, str, str]]) -> str:
    """``script_json({"expires": expires, "clicks": {token: [mbox, signature], ...}})`` for ``(token, mbox,
    signature)`` strings with distinct tokens, written directly: the encoder's setup costs more than this object."""
    entries = ",".join(f"{_script_string(t)}:[{_script_string(m)},{_script_string(s)}]" for t, m, s in clicks)
    return f'{{"expires":{expires!r},"clicks":{{{entries}}}}}'


def click_head(token: str, mbox: str) -> str:
    """What comes before a click's signature in :func:`clicks_json`'s object: ``"token":["mbox","``."""
    return f'{_script_string(token)}:[{_script_string(mbox)},"'


_ASCII = "".join(map(chr, range(128)))
_ascii_as_is: dict[str, bool] = {}  # encoding -> ascii_as_is: a site's pages name a few
_MAX_ENCODINGS = 64


def ascii_as_is(encoding: str) -> bool:
    """Whether ASCII text encodes in ``encoding`` (``text.encode(encoding, "xmlcharrefreplace")``) to its ASCII bytes:
    every ASCII character is its own byte there (UTF-8, Latin-1, cp1252, ...; not UTF-16/32, nor UTF-7, nor a codec
    that writes a BOM). A codec that refuses the test (unknown, or not a text encoding) is not taken as one."""
    same = _ascii_as_is.get(encoding)
    if same is None:
        try:
            same = _ASCII.encode(encoding, "xmlcharrefreplace") == _ASCII.encode()
        except (LookupError, ValueError, TypeError):
            same = False
        if len(_ascii_as_is) >= _MAX_ENCODINGS:
            _ascii_as_is.clear()
        _ascii_as_is[encoding] = same
    return same


def body_end(body: bytes, encoding: str) -> int | None:
    """Where :func:`splice_before_body_end` puts a snippet in ``body`` (-1: at its end), for :func:`splice_at`; None
    for a wide charset (UTF-16/32), where the place is found in the decoded text."""
    if "</body>".encode(encoding, "ignore") != b"</body>":
        return None
    return _last_body_end(body)


def splice_at(body: bytes, snippet: bytes, at: int) -> bytes:
    """``snippet`` put at ``at`` (a :func:`body_end` of this ``body``): one copy of the page."""
    if at < 0:
        return body + snippet
    view = memoryview(body)
    return b"".join((view[:at], snippet, view[at:]))


def _last_body_end(body: bytes) -> int:
    # The common spellings without a regex, each searched only after the one found (a search that finds nothing
    # reads the whole page: 100 KB for a </BODY> that is not there costs more than the rest of a cache hit).
    at = body.rfind(b"</body>")
    at = max(at, body.rfind(b"</BODY>", at + 1 if at >= 0 else 0))
    for match in _BODY_END.finditer(body, at + 1 if at >= 0 else 0):  # a mixed-case or spaced one after it
        at = match.start()
    return at


def splice_before_body_end(body: bytes, snippet: bytes, encoding: str = "utf-8") -> bytes:
    """``snippet`` (bytes in ``encoding``) before the page's last ``</body>``, else at its end: a splice, no parse.

    In an ASCII-compatible charset the end tag is found in the bytes themselves; a wide one (UTF-16/32) is decoded
    for the search and encoded again.
    """
    if "</body>".encode(encoding, "ignore") != b"</body>":
        text, piece = body.decode(encoding), snippet.decode(encoding)
        ends = list(_TEXT_BODY_END.finditer(text))
        at = ends[-1].start() if ends else len(text)
        return (text[:at] + piece + text[at:]).encode(encoding)
    return splice_at(body, snippet, _last_body_end(body))
