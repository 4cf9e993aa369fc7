"""Applying Adobe Target offers to an HTML document: every action type, Target's selector dialect, two engines."""

from __future__ import annotations

from .actions import ActionType, SkipReason
from .apply import ENGINES, ActionReport, ApplyResult, Engine, apply_actions, apply_offer
from .selectors import InvalidSelector, compile_selector

__all__ = [
    "ENGINES",
    "ActionReport",
    "ActionType",
    "ApplyResult",
    "Engine",
    "InvalidSelector",
    "SkipReason",
    "apply_actions",
    "apply_offer",
    "compile_selector",
]
