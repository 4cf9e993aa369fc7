"""JavaScript's ``String(value)`` for JSON values: what at.js writes when an offer's attribute value is no string,
and what json-logic compares when an artifact's rule meets a string (``in``, ``==`` against an array or object).

``setAttribute`` with ``{"data-n": 1.5, "hidden": true}`` sets ``data-n="1.5"`` and ``hidden="true"`` in a browser;
Python's ``str`` would write ``True``, ``1e+21`` as ``1e+21`` but ``1e20`` as ``1e+20``. Numbers follow
ECMAScript's Number::toString (the shortest digits that round-trip, which Python's ``repr`` finds too, placed by
the spec's rules); integers are JavaScript numbers, that is doubles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["js_string"]


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for what JSON can hold (arrays join, objects are ``[object Object]``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple):
        return ",".join("" if item is None else js_string(item) for item in value)
    return str(value)


def _number(value: int | float) -> str:
    try:
        number = float(value)  # a JavaScript number is a double: 2**53 + 1 is 9007199254740992 there
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"  # -0 too
    sign = "-" if number < 0 else ""
    # repr gives the shortest digits that round-trip, as Number::toString asks; place them by its rules.
    shortest = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, shortest.digits))
    k = len(digits)
    n = k + int(shortest.exponent)  # where the decimal point goes, counted from the first digit
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    power = n - 1
    tail = "." + digits[1:] if k > 1 else ""
    return f"{sign}{digits[0]}{tail}e{'+' if power >= 0 else '-'}{abs(power)}"
