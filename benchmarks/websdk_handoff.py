"""What the Web SDK hand-off costs beside the rewrite it follows, on the 100 KB shop page.

    python benchmarks/websdk_handoff.py [--rounds N]

The rewrite is ``apply_actions`` with the 5 VEC actions of ``pages.ACTIONS`` (lexbor); the hand-off is what the
middleware adds after it: ``response_body`` (the interact answer minus what was applied), the escaped
``applyResponse`` script, and the splice into the page's bytes. Two answers: the 5 actions as one ``__view__``
proposition alone, and with 20 view propositions of 5 actions each (an SPA). Prints medians and the hand-off's share
of the apply time measured in the same run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from handoff import compare
from pages import ACTIONS

from target_middleware.edgenetwork import EdgeExchange, read_answer
from target_middleware.edgenetwork.handoff import alloy_script, response_body
from target_middleware.handoff import insert_handoff

DOM_ACTION = "https://ns.adobe.com/personalization/dom-action"


def proposition(scope: str, view: bool) -> dict[str, Any]:
    characteristics = {"eventToken": f"{scope}-token", **({"scopeType": "view"} if view else {})}
    items = [
        {
            "id": f"{scope}-{i}",
            "schema": DOM_ACTION,
            "data": {k: v for k, v in {**a, "prehidingSelector": a.get("cssSelector")}.items() if k != "cssSelector"},
        }
        for i, a in enumerate(ACTIONS)
    ]
    details = {"decisionProvider": "TGT", "activity": {"id": "1"}, "characteristics": characteristics}
    return {"id": f"AT:{scope}", "scope": scope, "scopeDetails": details, "items": items}


def exchange(views: int) -> EdgeExchange:
    payload = [proposition("__view__", False)] + [proposition(f"view-{i}", True) for i in range(views)]
    state = [{"key": "kndctr_O_AdobeOrg_identity", "value": "1" * 38, "maxAge": 34128000}]
    body: dict[str, Any] = {
        "requestId": "r",
        "handle": [
            {"type": "personalization:decisions", "payload": payload, "eventIndex": 0},
            {"type": "state:store", "payload": state},
        ],
    }
    return EdgeExchange(read_answer(body), body)


def main() -> None:
    def hand_off_for(views: int, body: bytes, done: set[tuple[int, int]]) -> Callable[[], bytes]:
        edge = exchange(views)

        def hand_off() -> bytes:
            handed, _counted = response_body(edge, done, server_clicks=False)
            options = {"renderDecisions": True, "responseHeaders": {}, "responseBody": handed}
            return insert_handoff(body, alloy_script(options, nonce="abc"), "utf-8")

        return hand_off

    compare("Web SDK hand-off", hand_off_for)


if __name__ == "__main__":
    main()
