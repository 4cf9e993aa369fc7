"""What the middleware's own plumbing costs on a warm hit: hit_path.py's request with the decision and the rewrite
stubbed out, counted in instructions.

    python benchmarks/hit_plumbing.py [--requests N]

The on-device app of hit_path.py, with ``client.get_offers`` answering a result decided once (the real one, for the
first visitor) and ``personalizer.personalize`` answering the page unchanged: what is left over the bare app is the
middleware's own work around the two (route match, page view, visitor, watch, responder, counters).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import cachegrind

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from hit_path import drive, one_request  # noqa: E402


def _middleware(app: Any) -> Any:
    from target_middleware import TargetMiddleware

    stack = app.middleware_stack = app.build_middleware_stack()
    while not isinstance(stack, TargetMiddleware):
        stack = stack.app
    return stack


def serve(mode: str, requests: int) -> None:
    os.environ["BENCH_MODE"] = "bare" if mode == "bare" else "on-device"
    import bench_app

    app = bench_app.app
    one = one_request(app)

    async def run() -> None:
        if mode != "bare":
            middleware = _middleware(app)
            real = middleware.client.get_offers
            decided: list[Any] = []

            async def get_offers(request: Any, **named: Any) -> Any:
                if not decided:
                    decided.append(await real(request, **named))
                return decided[0]

            async def personalize(scope: Any, start: Any, body: bytes, result: Any, rule: Any, **named: Any) -> Any:
                return start, body, "applied", None

            middleware.client.get_offers = get_offers
            middleware.personalizer.personalize = personalize
        await drive(one, requests)

    asyncio.run(run())


def instructions(mode: str, requests: int) -> float:
    return cachegrind.per_call(lambda n: [sys.executable, __file__, "--serve", mode, "--requests", str(n)], requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.requests)
        return
    bare, plumbing = instructions("bare", args.requests), instructions("plumbing", args.requests)
    print(f"in process, instructions per request over {args.requests}")
    print(f"bare      {bare:12,.0f}")
    print(f"plumbing  {plumbing:12,.0f}  middleware's own work adds {plumbing - bare:12,.0f}")


if __name__ == "__main__":
    main()
