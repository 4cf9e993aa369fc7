"""What the at.js hand-off costs beside the rewrite it follows, on the 100 KB shop page.

    python benchmarks/handoff.py [--rounds N]

The rewrite is ``apply_actions`` with the 5 VEC actions of ``pages.ACTIONS`` (lexbor); the hand-off is what the
middleware adds after it: ``server_state`` (the answer minus what was applied), the escaped script, and the splice
into the page's bytes. Two answers: the 5 actions alone, and the same with 20 prefetched views of 5 actions each
(an SPA). Prints medians and the hand-off's share of the apply time measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages import ACTIONS, shop_page
from timing import median_seconds

from target_middleware import apply_actions
from target_middleware.delivery import DecisioningMethod, OffersResult, parse_response
from target_middleware.handoff import handoff_script, insert_handoff, server_state
from target_middleware.visitor import Visitor


def result(views: int) -> OffersResult:
    tokens = {"activity.id": 1, "experience.id": 0, "option.id": 1}
    option = {"type": "actions", "content": ACTIONS, "responseTokens": tokens}
    raw: dict[str, Any] = {"status": 200, "execute": {"pageLoad": {"options": [option]}}}
    request: dict[str, Any] = {"context": {"channel": "web"}, "execute": {"pageLoad": {}}}
    if views:
        raw["prefetch"] = {"views": [{"name": f"view-{i}", "options": [option]} for i in range(views)]}
        request["prefetch"] = {"views": [{}]}
    visitor = Visitor.new()
    return OffersResult(parse_response(raw), visitor, visitor.mbox_cookie(), None, DecisioningMethod.ON_DEVICE, request)


def compare(label: str, hand_off_for: Callable[[int, bytes, set[tuple[int, int]]], Callable[[], bytes]]) -> None:
    """Time a hand-off beside the rewrite it follows: ``hand_off_for(views, rewritten page, applied)`` makes it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    page = shop_page(100_000).encode()
    applied = apply_actions(page, ACTIONS)
    body = applied.encode()
    done = {(0, r.index) for r in applied.applied}
    apply_time = median_seconds(lambda: apply_actions(page, ACTIONS).encode(), args.rounds)
    print(f"apply_actions, 100 KB page, 5 actions: {apply_time * 1e3:.2f} ms (median of {args.rounds})")
    for views in (0, 20):
        hand_off = hand_off_for(views, body, done)
        size = len(hand_off()) - len(body)
        cost = median_seconds(hand_off, args.rounds)
        print(
            f"{label}, {views:2d} views: {cost * 1e6:7.1f} µs, {size:6d} bytes of script, "
            f"{cost / apply_time:6.1%} of the apply time"
        )


def main() -> None:
    def hand_off_for(views: int, body: bytes, done: set[tuple[int, int]]) -> Callable[[], bytes]:
        offers = result(views)

        def hand_off() -> bytes:
            state = server_state(offers, applied=done)
            assert state is not None
            return insert_handoff(body, handoff_script(state, nonce="abc"), "utf-8")

        return hand_off

    compare("hand-off", hand_off_for)


if __name__ == "__main__":
    main()
