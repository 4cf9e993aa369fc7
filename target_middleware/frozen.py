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


def builder(cls: type[T], **fixed: Any) -> Callable[..., T]:
    """A constructor of ``cls`` values (every field, in order or by name) that skips the frozen stores.

    One generated function, as ``dataclasses`` makes ``__init__``: an empty instance of a class of the twin's slots
    alone (``_bare``: called, it is made in C, ~300 instructions less than ``object.__new__`` called from Python),
    each field stored through those slots, then its class set to ``cls`` (one call, not a wrapper around a
    constructor).
    ``fixed`` fields are not parameters: each value built holds the value given here (an immutable one: it is
    shared), e.g. ``builder(Entry, done=None)`` takes every field of ``Entry`` but ``done``.
    """
    twin = _bare(unfrozen(cls))
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if any(name.startswith("_frozen_") for name in names):
        raise TypeError(f"{cls.__name__} has a field named like one of the builder's own (_frozen_*)")
    if not set(fixed) <= set(names):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(fixed) - set(names))}")
    stores = "".join(
        f"    _frozen_value_.{name} = {'_frozen_fixed_' if name in fixed else ''}{name}\n" for name in names
    )
    source = (
        f"def new_{cls.__name__}({', '.join(name for name in names if name not in fixed)}):\n"
        f"    _frozen_value_ = _frozen_twin_()\n{stores}"
        f"    _frozen_value_.__class__ = _frozen_cls_\n"
        f"    return _frozen_value_\n"
    )
    namespace: dict[str, Any] = {"_frozen_twin_": twin, "_frozen_cls_": cls}
    namespace.update({f"_frozen_fixed_{name}": value for name, value in fixed.items()})
    exec(source, namespace)  # our own source, of field names a dataclass accepted
    build: Callable[..., T] = namespace[f"new_{cls.__name__}"]
    return build


def _bare(twin: type[Any]) -> type[Any]:
    """A class of ``twin``'s slots and nothing else (the same layout, so its instances may be given ``cls`` as
    their class): no ``__init__`` of its own, so calling it makes an empty instance in C."""
    bare: type[Any] = type(f"Bare{twin.__name__}", (), {"__slots__": twin.__slots__})
    return bare
