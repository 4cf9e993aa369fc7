"""The clock as the ``mbox`` cookie reads and writes it: the current second, in the forms the cookie holds.

The cookie's expiries are whole seconds (``math.ceil`` of the clock): a part is live while its expiry is at or
after the current second, and a part written now expires a fixed time after it. Every visitor served in one second
reads and writes against the same second: its forms are made once for that second (:func:`second_of`) and kept in
:data:`last`, and the next reading in the same second takes them as they are after a check that it is within it.
"""

from __future__ import annotations

import math

__all__ = ["PC_MAX_AGE", "SESSION_MAX_AGE", "Second", "last", "second_of"]

SESSION_MAX_AGE = 1860  # 31 minutes, as at.js and the SDKs
PC_MAX_AGE = 63_244_800  # 732 days

# One second of the clock and what the mbox cookie makes of it, a plain tuple (unpacked on every request):
# - the second before and the second, as floats: a reading ``now`` is in this second when ``before < now <= second``
# - the second as ten digits (2001 to 2286), comparable as text with a cookie's ten-digit expiry; else "~", after
#   every such expiry (a clock outside those years finds no cookie live here, and the general path decides)
# - "%23<the session part's expiry>" and "%23<the PC part's expiry>", as the escaped cookie writes them
Second = tuple[float, float, str, str, str]


def second_of(now: float) -> Second:
    """The forms of the second ``now`` is in (``ceil(now)``), made now and kept in :data:`last`."""
    second = math.ceil(now)
    text = str(second)
    made = last[0] = (
        float(second - 1),
        float(second),
        text if len(text) == 10 else "~",
        f"%23{second + SESSION_MAX_AGE}",
        f"%23{second + PC_MAX_AGE}",
    )
    return made


# The last second made, replaced whole (no torn read across threads): a reading in it takes it as it is.
last: list[Second] = [(0.0, -1.0, "~", "", "")]
