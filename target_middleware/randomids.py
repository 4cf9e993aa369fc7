"""Random ids as 32 hex digits, drawn many at a time: a request's ids cost a list pop each, not a draw.

A warm on-device decision needs three ids (the Delivery request's ``requestId``, its display notification's ``id``
and ``impressionId``); drawing each alone (a call into the generator, a bytes object, its hex) was a tenth of the
decision. Here one draw from ``os.urandom`` makes ``BATCH`` of them (its hex split in C: ``hex(" ", 16).split()``), and
each id is then a ``list.pop()`` (atomic under the GIL: threads never share an id). None of them is a secret: a pool of
them in memory is fine.

A forked worker must not hand out the ids its parent had drawn: both pools are emptied in the child
(``os.register_at_fork``).
"""

from __future__ import annotations

import os

__all__ = ["BATCH", "random_id", "uuid4_hex"]

BATCH = 64  # ids per draw

_random: list[str] = []
_uuid4: list[str] = []


# What makes 16 random bytes a version 4 UUID: the version in byte 6's high nibble, the RFC 4122 variant in byte 8.
_VERSION = bytes(b & 0x0F | 0x40 for b in range(256))
_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))


def random_id() -> str:
    """A random 128-bit id in UUID hex form (no version bits)."""
    while True:
        try:
            return _random.pop()
        except IndexError:  # once every BATCH ids (or a thread took the last ones meanwhile: draw again)
            _random.extend(os.urandom(16 * BATCH).hex(" ", 16).split())


def uuid4_hex() -> str:
    """A random (version 4) UUID as 32 hex digits, as ``uuid.uuid4().hex`` writes it, from ``os.urandom``."""
    while True:
        try:
            return _uuid4.pop()
        except IndexError:
            raw = bytearray(os.urandom(16 * BATCH))
            raw[6::16] = raw[6::16].translate(_VERSION)
            raw[8::16] = raw[8::16].translate(_VARIANT)
            _uuid4.extend(raw.hex(" ", 16).split())


def _forget() -> None:
    _random.clear()
    _uuid4.clear()


os.register_at_fork(after_in_child=_forget)
