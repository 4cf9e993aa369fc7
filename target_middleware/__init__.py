"""Server-side Adobe Target personalization for Starlette and FastAPI."""

from __future__ import annotations

from .delivery import (
    DecisioningMethod,
    DeliveryError,
    DeliveryFailed,
    DeliveryTimeout,
    LocalDecider,
    LocalDecision,
    Mbox,
    OffersRequest,
    OffersResult,
    PageContext,
    ResponseParseError,
    TargetClient,
)
from .visitor import Visitor

__version__ = "0.1.0"

__all__ = [
    "DecisioningMethod",
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryTimeout",
    "LocalDecider",
    "LocalDecision",
    "Mbox",
    "OffersRequest",
    "OffersResult",
    "PageContext",
    "ResponseParseError",
    "TargetClient",
    "Visitor",
    "__version__",
]
