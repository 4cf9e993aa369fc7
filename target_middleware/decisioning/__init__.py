"""On-device decisioning from an Adobe Target rules artifact (``rules.json``)."""

from __future__ import annotations

from .allocation import allocation, visitor_id_for_allocation
from .artifact import Artifact, ArtifactError, Rule, load_artifact, parse_artifact
from .engine import (
    DecisioningEngine,
    DecisioningNotReady,
    GeoLookup,
    OnDeviceDecision,
    engine_for_artifact,
    notification_request,
)
from .source import ArtifactSource, artifact_url, source_of

__all__ = [
    "Artifact",
    "ArtifactError",
    "ArtifactSource",
    "Decision",
    "DecisioningEngine",
    "DecisioningNotReady",
    "GeoLookup",
    "OnDeviceDecision",
    "Rule",
    "allocation",
    "artifact_url",
    "engine_for_artifact",
    "load_artifact",
    "notification_request",
    "parse_artifact",
    "source_of",
    "visitor_id_for_allocation",
]

Decision = OnDeviceDecision  # its name until 0.1: kept for one release
