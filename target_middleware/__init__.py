"""Server-side Adobe Target personalization for Starlette and FastAPI."""

from __future__ import annotations

from .decisioning import (
    ArtifactError,
    ArtifactSource,
    DecisioningEngine,
    DecisioningNotReady,
    engine_for_artifact,
    load_artifact,
)
from .decisions import Decisions
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
from .delivery.decider import set_artifact_decider_factory
from .delivery.params import GLOBAL_MBOX
from .explain import Explanation, explain
from .fastapi import target_decisions
from .html import ActionReport, ActionType, ApplyResult, SkipReason, apply_actions, apply_offer
from .middleware import TargetMiddleware, TargetStats
from .routing import MboxRule
from .visitor import Visitor

# TargetClient(artifact=...) decides with Target's on-device engine: the one place the two packages are joined.
set_artifact_decider_factory(engine_for_artifact)

__version__ = "0.1.0"

__all__ = [
    "GLOBAL_MBOX",
    "ActionReport",
    "ActionType",
    "ApplyResult",
    "ArtifactError",
    "ArtifactSource",
    "DecisioningEngine",
    "DecisioningMethod",
    "DecisioningNotReady",
    "Decisions",
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryTimeout",
    "Explanation",
    "LocalDecider",
    "LocalDecision",
    "Mbox",
    "MboxRule",
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
