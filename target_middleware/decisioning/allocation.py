"""Allocation: which experience of an activity a visitor falls into.

Target buckets a visitor by hashing ``"{client}.{activityId}.{visitorId}.0"`` with MurmurHash3 x86_32 (seed 0)
over the string's UTF-16 code units, the way Guava's ``hashUnencodedChars`` does, and maps the hash onto 0.00
to 99.99. The rules compare that number with the experience splits (``{"<=": [0, {"var": "allocation"}]}``).

It is a pure function of its inputs, so every worker process and every machine decides alike, and nothing is
memoized: a cache keyed by visitor would grow without bound in a long-running server.
"""

from __future__ import annotations

import codecs
import uuid
from collections.abc import Mapping
from typing import Any

import mmh3

__all__ = ["BUCKETS", "allocation", "bucket", "visitor_id_for_allocation"]

BUCKETS = 10_000
_SALT = "0"
_utf_16_le = codecs.utf_16_le_encode  # str.encode("utf-16-le", errors) without the lookup


def bucket(device_id: str) -> int:
    """The bucket (0 to 9999) of ``"{client}.{activityId}.{visitorId}.0"``: the allocation is ``bucket / 100``."""
    # UTF-16LE bytes are exactly Guava's char-pair blocks: (c0 | c1 << 16) little-endian, odd tail char last. The
    # codec's encoder called directly: str.encode looks the codec up by name on every call (more than the hash).
    # mmh3.hash's defaults are seed 0, signed: not passed, not parsed.
    signed_hash: int = mmh3.hash(_utf_16_le(device_id, "surrogatepass")[0])
    return abs(signed_hash) % BUCKETS


def allocation(client_code: str, activity_id: object, visitor_id: str) -> float:
    """The visitor's allocation for an activity, a number in [0, 100) with two decimals."""
    # The bucket over 100 is already the two-decimal number: an integer k < 10_000 divided by 100 is the double
    # nearest to k/100, which is what round(k / 100, 2) gives (checked for every k in test_allocation); round()
    # with digits goes through a decimal string, and cost more than the rest together.
    return bucket(f"{client_code}.{activity_id}.{visitor_id}.{_SALT}") / 100


def visitor_id_for_allocation(visitor: Mapping[str, Any] | None) -> str:
    """The id Target allocates on: ECID, then tntId without its location hint, then thirdPartyId, else random.

    A random id (a visitor Target has never seen) is drawn once per request by the caller, so all activities
    in one request see the same visitor.
    """
    if visitor:
        ecid = visitor.get("marketingCloudVisitorId")
        if isinstance(ecid, str) and ecid:
            return ecid
        tnt_id = visitor.get("tntId")
        if isinstance(tnt_id, str) and tnt_id:
            return tnt_id.split(".", 1)[0]
        third_party = visitor.get("thirdPartyId")
        if isinstance(third_party, str) and third_party:
            return third_party
    return uuid.uuid4().hex
