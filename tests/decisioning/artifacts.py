"""Rules artifacts for tests: rules on the global mbox, wrapped as Target ships them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from target_middleware.decisioning.artifact import Artifact, parse_artifact

GLOBAL = "target-global-mbox"


def global_mbox_artifact(rules: Sequence[Any], *, response_tokens: Sequence[str] = ()) -> Artifact:
    """An on-device artifact of client ``acme`` (production, no geo) whose only local mbox, the global one, has
    ``rules``."""
    return parse_artifact(
        {
            "version": "1.0.0",
            "meta": {"clientCode": "acme", "environment": "production"},
            "globalMbox": GLOBAL,
            "geoTargetingEnabled": False,
            "responseTokens": list(response_tokens),
            "remoteMboxes": [],
            "remoteViews": [],
            "localMboxes": [GLOBAL],
            "localViews": [],
            "rules": {"mboxes": {GLOBAL: list(rules)}, "views": {}},
        }
    )
