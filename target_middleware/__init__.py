"""Server-side Adobe Target personalization for Starlette and FastAPI."""

from __future__ import annotations

from .decisioning import (
    ArtifactError,
    ArtifactSource,
    Decision,
    DecisioningEngine,
    DecisioningNotReady,
    load_artifact,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ArtifactSource",
    "Decision",
    "DecisioningEngine",
    "DecisioningNotReady",
    "__version__",
    "load_artifact",
]
