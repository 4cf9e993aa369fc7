"""One error tree for everything that can go wrong talking to Target.

Every leaf carries ``status``, the value at.js hands to ``getOffer``'s ``error(status, error)`` callback::

    DeliveryError                 (base; never raised itself)
    ├── DeliveryTimeout           status "timeout"    no complete answer within the deadline
    ├── ResponseParseError        status "parseerror" not JSON, or JSON that does not fit the response schema
    └── DeliveryFailed            status "error"
        ├── UpstreamStatusError   an HTTP status other than 200/204, or a ``{"status", "message"}`` error body
        ├── UpstreamConnectError  refused, reset, DNS, TLS, a broken HTTP exchange
        ├── MboxRejected          the answer has no entry for a requested mbox
        └── LocalDecisionError    the on-device decider raised

Third-party exceptions (httpx, json) are translated into these in one place, ``transport.py``.
Bad arguments are a ``ValueError`` at once, not part of this tree.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryTimeout",
    "ErrorStatus",
    "LocalDecisionError",
    "MboxRejected",
    "ResponseParseError",
    "UpstreamConnectError",
    "UpstreamStatusError",
]


class ErrorStatus(StrEnum):
    TIMEOUT = "timeout"
    PARSEERROR = "parseerror"
    ERROR = "error"


class DeliveryError(Exception):
    status: ErrorStatus = ErrorStatus.ERROR


class DeliveryTimeout(DeliveryError):
    status = ErrorStatus.TIMEOUT


class ResponseParseError(DeliveryError):
    status = ErrorStatus.PARSEERROR


class DeliveryFailed(DeliveryError):
    status = ErrorStatus.ERROR


class UpstreamStatusError(DeliveryFailed):
    def __init__(self, message: str, *, status_code: int, upstream_message: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.upstream_message = upstream_message


class UpstreamConnectError(DeliveryFailed):
    pass


class MboxRejected(DeliveryFailed):
    def __init__(self, message: str, *, mbox: str) -> None:
        super().__init__(message)
        self.mbox = mbox


class LocalDecisionError(DeliveryFailed):
    pass
