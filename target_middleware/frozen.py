"""Frozen dataclass values built at the cost of plain ones, for the few built on every request.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its own ``__setattr__``
refuses): many times the cost of a plain attribute store. On the Delivery client's path (an answer's options,
actions and metrics, the visitor after it, its cookies, the result) that was a third of the client's own work.
``unfrozen(cls)`` is a plain slotted dataclass with the same fields, so the same slots: an instance of it that is
given ``cls`` as its class *is* a ``cls`` (equal, hashed, printed and frozen like one built by ``cls(...)``), made
without the frozen stores. ``builder(cls)`` wraps the two steps::

    _new_option = builder(Option)
    option = _new_option(kind, content, token, tokens)  # an Option

Only for values whose fields the caller has already checked: ``cls.__post_init__`` does not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass, make_dataclass
from typing import Any, TypeVar

__all__ = ["builder", "unfrozen"]

T = TypeVar("T")


def unfrozen(cls: type[Any]) -> type[Any]:
    """The plain slotted twin of ``cls``, a frozen slotted dataclass: its ``__init__`` takes every field, in order."""
    params = getattr(cls, "__dataclass_params__", None)
    slots = cls.__dict__.get("__slots__")
    if not is_dataclass(cls) or params is None or not params.frozen or slots is None:
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    names = [f.name for f in fields(cls)]
    twin: type[Any] = make_dataclass(f"Unfrozen{cls.__name__}", names, slots=True, repr=False, eq=False)
    if twin.__slots__ != tuple(slots):  # the layouts must match for the class assignment to be allowed
        raise TypeError(f"{cls.__name__} has slots beyond its fields")
    return twin


def builder(cls: type[T]) -> Callable[..., T]:
    """A constructor of ``cls`` values (every field, in order or by name) that skips the frozen stores.

    Generated like a dataclass's ``__init__``: a bare instance of the twin, one slot store per field, the class swap,
    all in one call (a third cheaper than calling the twin and swapping after). The source holds only the field
    names, which are identifiers.
    """
    twin = unfrozen(cls)
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if any(name.startswith("__") for name in names):  # would clash with the generated function's own names

        def build(*values: Any, **named: Any) -> T:
            value: T = twin(*values, **named)
            value.__class__ = cls
            return value

    else:
        stores = "".join(f"    __value.{name} = {name}\n" for name in names)
        source = f"def build({', '.join(names)}):\n    __value = __new(__twin)\n{stores}"
        source += "    __value.__class__ = __cls\n    return __value\n"
        namespace: dict[str, Any] = {"__new": object.__new__, "__twin": twin, "__cls": cls}
        exec(source, namespace)  # our own source: field names only
        build = namespace["build"]
    build.__qualname__ = build.__name__ = f"new_{cls.__name__}"
    return build
