"""Fields of frozen values made when first read: for what a result carries and the usual caller never reads.

An on-device answer to most pages' request carries the Delivery request it answers (``OffersResult.request``) and
the answer's JSON (``DeliveryResponse.raw``). The middleware reads neither on the usual page view (explain, the at.js
hand-off, the analytics island and an app's ``decisions()`` do), yet built both on every request. A field made
``deferrable`` may be given a :class:`Deferred` (the function that makes its value, and its arguments) where the value
goes: the first read of the field makes the value, keeps it in the field and returns it; every read after it, by any
thread, returns that one value. Everything that reads fields by attribute (``==``, ``repr``, ``dataclasses.replace``,
``asdict``, copy and pickle) sees only the value: a value with a deferred field is the value it would be built eagerly.
What a Deferred makes must depend on nothing that changes after it is made (its arguments are values kept for it).
"""

from __future__ import annotations

import functools
import threading
import types
from typing import Any

__all__ = ["Deferred", "deferrable"]

# Taken only by the first read of a deferred field (rare, never on the usual request): one thread makes the value.
# Re-entrant: making one deferred value may read another.
_making = threading.RLock()


class Deferred(functools.partial[Any]):
    """A field's value to make when first read: ``Deferred(make, *args)``, made by ``make(*args)``.

    A ``functools.partial`` of its own type (made in C, one call); only a field made :func:`deferrable` takes one."""

    __slots__ = ()


class _DeferredField:
    """The data descriptor that stands in a class for a slot's own (``slot``): reads make a Deferred value."""

    __slots__ = ("name", "slot")

    def __init__(self, name: str, slot: Any) -> None:
        self.name, self.slot = name, slot

    def __get__(self, obj: object, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        value = self.slot.__get__(obj, owner)
        if type(value) is Deferred:
            with _making:
                value = self.slot.__get__(obj, owner)  # another thread may have made it while this one waited
                if type(value) is Deferred:
                    value = value()
                    self.slot.__set__(obj, value)
        return value

    def __set__(self, obj: object, value: Any) -> None:  # what a frozen dataclass's __init__ stores through
        self.slot.__set__(obj, value)

    def __delete__(self, obj: object) -> None:
        self.slot.__delete__(obj)


def deferrable(cls: type[Any], name: str) -> None:
    """Let field ``name`` of ``cls`` (a slotted dataclass) hold a :class:`Deferred` until it is first read."""
    slot = cls.__dict__.get(name)
    if name not in getattr(cls, "__dataclass_fields__", {}) or not isinstance(slot, types.MemberDescriptorType):
        raise TypeError(f"{cls.__name__}.{name} is not a slotted dataclass field")
    setattr(cls, name, _DeferredField(name, slot))
