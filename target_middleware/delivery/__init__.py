"""Talking to Adobe Target's Delivery API: the async client, its typed values and its error tree."""

from __future__ import annotations

from .atjs import to_atjs_actions
from .client import NotificationsCallback, TargetClient
from .context import PageContext
from .decider import DecisioningMethod, LocalDecider, LocalDecision
from .errors import (
    DeliveryError,
    DeliveryFailed,
    DeliveryTimeout,
    ErrorStatus,
    LocalDecisionError,
    MboxRejected,
    ResponseParseError,
    UpstreamConnectError,
    UpstreamStatusError,
)
from .models import (
    Action,
    DeliveryResponse,
    MboxResult,
    Metric,
    MetricType,
    Option,
    OptionType,
    PageLoadResult,
    ViewResult,
    parse_response,
)
from .notifications import NotificationOutcome
from .offers import OffersClient, OffersRequest, OffersResult
from .params import GLOBAL_MBOX, Mbox, map_params

__all__ = [
    "GLOBAL_MBOX",
    "Action",
    "DecisioningMethod",
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryResponse",
    "DeliveryTimeout",
    "ErrorStatus",
    "LocalDecider",
    "LocalDecision",
    "LocalDecisionError",
    "Mbox",
    "MboxRejected",
    "MboxResult",
    "Metric",
    "MetricType",
    "NotificationOutcome",
    "NotificationsCallback",
    "OffersClient",
    "OffersRequest",
    "OffersResult",
    "Option",
    "OptionType",
    "PageContext",
    "PageLoadResult",
    "ResponseParseError",
    "TargetClient",
    "UpstreamConnectError",
    "UpstreamStatusError",
    "ViewResult",
    "map_params",
    "parse_response",
    "to_atjs_actions",
]
