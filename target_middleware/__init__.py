"""Server-side Adobe Target personalization for Starlette and FastAPI."""

from __future__ import annotations

from .analytics import AnalyticsLogging, AnalyticsPayload, AnalyticsSettings
from .decisioning import ArtifactError, ArtifactSource, DecisioningEngine, DecisioningNotReady, load_artifact
from .decisions import Decisions
from .delivery import (
    DecisioningMethod,
    DeliveryError,
    DeliveryFailed,
    DeliveryTimeout,
    LocalDecider,
    LocalDecision,
    Mbox,
    NotificationOutcome,
    OffersClient,
    OffersRequest,
    OffersResult,
    PageContext,
    ResponseParseError,
    TargetClient,
)
from .edgenetwork import EdgeNetworkClient
from .fastapi import target_decisions
from .html import ActionReport, ActionType, ApplyResult, SkipReason, apply_actions, apply_offer
from .identity import AuthenticatedState, CustomerId
from .middleware import TargetMiddleware, TargetStats
from .routing import MboxRule
from .visitor import Visitor

__version__ = "0.1.0"

__all__ = [
    "ActionReport",
    "ActionType",
    "AnalyticsLogging",
    "AnalyticsPayload",
    "AnalyticsSettings",
    "ApplyResult",
    "ArtifactError",
    "ArtifactSource",
    "AuthenticatedState",
    "CustomerId",
    "DecisioningEngine",
    "DecisioningMethod",
    "DecisioningNotReady",
    "Decisions",
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryTimeout",
    "EdgeNetworkClient",
    "LocalDecider",
    "LocalDecision",
    "Mbox",
    "MboxRule",
    "NotificationOutcome",
    "OffersClient",
    "OffersRequest",
    "OffersResult",
    "PageContext",
    "ResponseParseError",
    "SkipReason",
    "TargetClient",
    "TargetMiddleware",
    "TargetStats",
    "Visitor",
    "__version__",
    "apply_actions",
    "apply_offer",
    "load_artifact",
    "target_decisions",
]
