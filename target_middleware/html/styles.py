"""Inline ``style`` edits as at.js makes them (jQuery/Zepto ``.css()``), without normalising authors' values.

- Keys in camelCase become dashed names (``fontSize`` → ``font-size``), with or without ``priority``.
- Without ``priority``: JSON numbers get ``px`` except for unitless properties, an empty value removes the
  property, and a declaration already marked ``!important`` keeps its value (a normal value never beats it).
- With ``priority: "important"``: every property is set ``!important`` and replaces whatever was there.
- ``resize``/``move``: ``px`` is added to bare numbers only (``"100"`` → ``100px``; ``"50%"`` and ``"auto"`` stay),
  where at.js appends it blindly and the browser then drops the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

__all__ = ["edit_style", "parse_style", "serialize_style"]

UNITLESS = frozenset({"column-count", "columns", "font-weight", "line-height", "opacity", "z-index", "zoom"})

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*$")

Declarations = dict[str, tuple[str, bool]]


def _split_declarations(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == ";" and not depth:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_style(text: str) -> Declarations:
    """``"color: red !important; margin: 0"`` → ``{"color": ("red", True), "margin": ("0", False)}``."""
    declarations: Declarations = {}
    for part in _split_declarations(text):
        name, colon, value = part.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            continue
        important = bool(_IMPORTANT.search(value))
        value = _IMPORTANT.sub("", value).strip()
        declarations[name] = (value, important)
    return declarations


def serialize_style(declarations: Declarations) -> str:
    return " ".join(
        f"{name}: {value}{' !important' if important else ''};" for name, (value, important) in declarations.items()
    )


@lru_cache(maxsize=1024)
def property_name(key: str) -> str:
    return key if key.startswith("--") else _CAMEL.sub(r"-\1", key).lower()


def _value(name: str, value: object, *, bare_numbers: bool) -> str | None:
    """The CSS text for a value, or None to remove the property."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, int | float):
        return f"{value}px" if name not in UNITLESS else str(value)
    text = str(value).strip()
    if bare_numbers and _BARE_NUMBER.match(text):
        return f"{text}px"
    return text or None


def edit_style(current: str | None, content: Mapping[str, object], *, dimensions: bool = False) -> str:
    """The new ``style`` attribute after a setStyle (or, with ``dimensions``, a resize/move) of ``content``."""
    declarations = parse_style(current or "")
    important = not dimensions and str(content.get("priority", "")).lower() == "important"
    for key, raw in content.items():
        if key == "priority":
            continue
        name = property_name(str(key))
        value = _value(name, raw, bare_numbers=dimensions)
        existing = declarations.get(name)
        if existing and existing[1] and not important:
            continue  # an inline !important wins over a normal value
        if value is None:
            declarations.pop(name, None)
        else:
            declarations[name] = (value, important)
    return serialize_style(declarations)
