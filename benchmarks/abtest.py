"""A realistic A/B activity for the benchmarks: Target's rules artifact, and the visitors that ask for it.

The artifact holds one VEC A/B activity on the global mbox (``execute.pageLoad``) for the shop page: experience A
applies the five actions of ``pages.ACTIONS``, experience B the same five with other content; allocation is 50/50
by the visitor's id, as Target's on-device engine hashes it, with response tokens and a click metric as the VEC
writes them. ``visitor_cookies(n)`` gives ``n`` returning visitors' Cookie headers (an ``mbox`` cookie with a session
and a tntId each, and the ``mboxEdgeCluster`` cookie sent back beside it), so a request's experience depends on who
sends it.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from pages import ACTIONS

GLOBAL_MBOX = "target-global-mbox"
TOKENS = ["activity.id", "activity.name", "experience.id", "experience.name", "offer.id", "offer.name"]


def _experience_b() -> list[dict[str, Any]]:
    actions = copy.deepcopy(ACTIONS)
    actions[0]["content"] = "Free shipping on every order"
    actions[1]["content"] = {"background-color": "#def", "priority": "important"}
    actions[2]["content"] = '<div class="banner">Free returns for 60 days</div>'
    actions[3]["content"] = {"href": "/free-shipping"}
    actions[4]["content"] = {"from": 1, "to": 0}
    return actions


def _rule(experience: int, low: int, high: int, actions: list[dict[str, Any]]) -> dict[str, Any]:
    name = "AB"[experience]
    return {
        "ruleKey": f"777001-{experience}",
        "activityId": 777001,
        "meta": {
            "activity.id": 777001,
            "activity.name": "Home hero: winter sale vs free shipping",
            "activity.type": "ab",
            "experience.id": experience,
            "experience.name": f"Experience {name}",
            "location.name": GLOBAL_MBOX,
            "location.type": "view",
            "location.id": 0,
            "audience.ids": [],
            "offer.id": 880001 + experience,
            "offer.name": f"Hero {name}",
            "option.id": experience + 1,
            "option.name": f"Offer{experience + 1}",
        },
        "condition": {
            "and": [
                {"<=": [low, {"var": "allocation"}]},
                {">=": [high, {"var": "allocation"}]},
                {"==": ["/page", {"var": "page.path"}]},
            ]
        },
        "consequence": {
            "name": GLOBAL_MBOX,
            "options": [
                {"type": "actions", "content": actions, "eventToken": f"bench-display-token-{name}=="},
            ],
            "metrics": [{"type": "click", "selector": "A.cta", "eventToken": f"bench-click-token-{name}=="}],
        },
    }


def artifact() -> dict[str, Any]:
    """A rules.json payload (artifact version 1.0.0) with the one A/B activity."""
    return {
        "version": "1.0.0",
        "meta": {"clientCode": "bench", "environment": "production"},
        "globalMbox": GLOBAL_MBOX,
        "geoTargetingEnabled": False,
        "responseTokens": TOKENS,
        "remoteMboxes": [],
        "remoteViews": [],
        "localMboxes": [GLOBAL_MBOX],
        "localViews": [],
        "rules": {
            "mboxes": {GLOBAL_MBOX: [_rule(0, 0, 50, copy.deepcopy(ACTIONS)), _rule(1, 50, 100, _experience_b())]},
            "views": {},
        },
    }


def visitor_cookies(count: int, *, seed: int = 1) -> list[str]:
    """``count`` returning visitors' Cookie headers: the ``mbox`` and ``mboxEdgeCluster`` cookies as at.js or the
    middleware wrote them, in the order a browser sends them back (the older cookie first)."""
    now = int(time.time())
    ids = [uuid.UUID(int=(seed << 64) + i).hex for i in range(count)]
    session, pc = now + 1800, now + 60_000_000
    return [f"mbox=session%23{i}s%23{session}%7CPC%23{i}.35_0%23{pc}; mboxEdgeCluster=35" for i in ids]
