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
from .html import ActionReport, ActionType, ApplyResult, SkipReason, apply_actions, apply_offer
from .visitor import Visitor

__version__ = "0.1.0"

__all__ = [
    "ActionReport",
    "ActionType",
    "ApplyResult",
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
    "SkipReason",
    "TargetClient",
    "Visitor",
    "__version__",
    "apply_actions",
    "apply_offer",
]
