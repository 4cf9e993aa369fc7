"""Checks for configuration options, so a mistake fails at construction with a message naming the option.

A wrong type raises ``TypeError``, a value of the right type that cannot work raises ``ValueError``; both say
what to pass instead. A bare ``str`` where a collection is expected is refused: iterated, it would be its letters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

__all__ = [
    "check_bool",
    "check_host",
    "check_hosts",
    "check_number",
    "check_optional_str",
    "check_positive_int",
    "check_strings",
    "describe_choices",
]

_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def _kind(value: object) -> str:
    return type(value).__name__


def check_bool(value: object, option: str) -> bool:
    """``value`` when it is ``True`` or ``False`` (``"false"`` would be true)."""
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be True or False, not {_kind(value)} {value!r}")
    return value


def check_number(value: object, option: str, unit: str, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """A finite number above ``minimum`` (or at it, with ``inclusive``), as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{option} must be a number of {unit}, not {_kind(value)} {value!r}")
    low_enough = value < minimum if inclusive else value <= minimum
    if not math.isfinite(value) or low_enough:
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise ValueError(f"{option} must be a finite number of {unit} {bound}, not {value!r}")
    return float(value)


def check_positive_int(value: object, option: str, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option} must be a whole number of {unit}, not {_kind(value)} {value!r}")
    if value <= 0:
        raise ValueError(f"{option} must be a positive number of {unit}, not {value!r}")
    return value


def check_optional_str(value: object, option: str, example: str) -> str | None:
    """None, or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{option} must be a string like {example!r} or None, not {_kind(value)}")
    if not value.strip():
        raise ValueError(f"{option} must not be empty; leave it out (None) for the default")
    return value


def check_strings(value: object, option: str, example: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    """A collection of non-empty strings as a tuple; a bare string is refused (it would be read letter by letter).

    ``example`` is a literal collection shown in the message, e.g. ``["/api/{rest:path}"]``.
    """
    if isinstance(value, str | bytes):
        raise TypeError(f"{option} must be a collection of strings like {example}, not a bare string {value!r}")
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"{option} must be a collection of strings like {example}, not {_kind(value)}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{option} must hold non-empty strings like {example}; got {item!r}")
    if not items and not allow_empty:
        raise ValueError(f"{option} must not be empty: give at least one, like {example}")
    return items


def check_host(name: str, option: str) -> str:
    """A host name (no scheme, path or port), lower-cased."""
    if not _HOST_NAME.fullmatch(name):
        raise ValueError(f"{option} holds host names like 'shop.example' (no scheme, path or port), not {name!r}")
    return name.lower()


def check_hosts(value: Collection[str] | None, option: str) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(check_host(h, option) for h in check_strings(value, option, '["shop.example"]'))


def describe_choices(choices: Iterable[Any]) -> str:
    return ", ".join(repr(c) for c in sorted(choices))
