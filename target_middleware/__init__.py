"""Server-side Adobe Target personalization for Starlette and FastAPI."""

from __future__ import annotations

from .html import ActionReport, ActionType, ApplyResult, SkipReason, apply_actions, apply_offer

__version__ = "0.1.0"

__all__ = [
    "ActionReport",
    "ActionType",
    "ApplyResult",
    "SkipReason",
    "__version__",
    "apply_actions",
    "apply_offer",
]
