"""JavaScript's value semantics for json-logic, restricted to JSON values.

Adobe's reference engine evaluates the artifacts with json-logic-js, so comparisons follow JavaScript: loose
``==`` converts strings and booleans to numbers, ``<`` compares two strings as strings and anything else as
numbers (NaN compares false), and truthiness is json-logic's (an empty list is false).
"""

from __future__ import annotations

import math
import operator
from typing import Any

from ..jsstring import js_string

__all__ = [
    "NUMBER",
    "contains",
    "generic_order",
    "less",
    "loose_equals",
    "strict_equals",
    "truthy",
]


def truthy(value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, list | dict | str):
        return len(value) > 0
    return bool(value)


SAME_TYPE_FAST = (str, int, float)


def to_number(value: Any) -> float:
    """JavaScript ToNumber, for the primitives JSON has."""
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def loose_equals(a: Any, b: Any) -> bool:
    """JavaScript ``==`` restricted to JSON values."""
    if type(a) is type(b) and type(a) in SAME_TYPE_FAST:
        return bool(a == b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        if isinstance(a, list | dict) and isinstance(b, list | dict):
            return a is b
        # An object against a primitive compares its string form: "1,2" for [1, 2], "[object Object]" for {}.
        obj, prim = (a, b) if isinstance(a, list | dict) else (b, a)
        return loose_equals(js_string(obj), prim)
    return to_number(a) == to_number(b)


NUMBER = (int, float)


def less(a: Any, b: Any, *, or_equal: bool) -> bool:
    if type(a) in NUMBER and type(b) in NUMBER:
        return bool(a <= b if or_equal else a < b)
    if isinstance(a, str) and isinstance(b, str):
        return a <= b if or_equal else a < b
    x, y = to_number(a), to_number(b)
    return x <= y if or_equal else x < y  # NaN compares false either way, as in JavaScript


def strict_equals(a: Any, b: Any) -> bool:
    """JavaScript ``===``: numbers by value (1 === 1.0), everything else by type and value."""
    a_num = isinstance(a, int | float) and not isinstance(a, bool)
    b_num = isinstance(b, int | float) and not isinstance(b, bool)
    if a_num or b_num:
        return a_num and b_num and a == b
    return type(a) is type(b) and a == b


def contains(needle: Any, haystack: Any) -> bool:
    if isinstance(haystack, str):
        return js_string(needle) in haystack if needle is not None else False
    if isinstance(haystack, list):
        return any(strict_equals(item, needle) for item in haystack)
    return False


ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def generic_order(op: str, a: Any, b: Any) -> bool:
    if op in ("<", "<="):
        return less(a, b, or_equal=op == "<=")
    return less(b, a, or_equal=op == ">=")
