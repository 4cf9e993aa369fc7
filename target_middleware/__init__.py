"""Server-side Adobe Target personalization for Starlette and FastAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .analytics import AnalyticsLogging, AnalyticsPayload, AnalyticsSettings
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
from .delivery.decider import set_artifact_decider_factory
from .delivery.params import GLOBAL_MBOX
from .edgenetwork import EdgeNetworkClient
from .explain import Explanation, explain
from .fastapi import target_decisions
from .html import ActionReport, ActionType, ApplyResult, SkipReason, apply_actions, apply_offer
from .identity import AuthenticatedState, CustomerId
from .middleware import TargetMiddleware, TargetStats
from .routing import MboxRule
from .visitor import Visitor

if TYPE_CHECKING:
    from .decisioning import ArtifactError, ArtifactSource, DecisioningEngine, DecisioningNotReady, load_artifact

# The on-device engine is imported when it is first used: server-side decisioning never loads it.
_FROM_DECISIONING = frozenset(
    {"ArtifactError", "ArtifactSource", "DecisioningEngine", "DecisioningNotReady", "load_artifact"}
)


def __getattr__(name: str) -> Any:
    if name in _FROM_DECISIONING:
        from . import decisioning

        return getattr(decisioning, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _on_device_engine(artifact: Any, *, client_code: str) -> LocalDecider:
    from .decisioning import engine_for_artifact

    return engine_for_artifact(artifact, client_code=client_code)


# TargetClient(artifact=...) decides with Target's on-device engine: the one place the two packages are joined.
set_artifact_decider_factory(_on_device_engine)

__version__ = "0.1.0"

__all__ = [
    "GLOBAL_MBOX",
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
    "Explanation",
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
    "explain",
    "load_artifact",
    "target_decisions",
]
