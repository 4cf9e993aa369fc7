"""What ``Personalizer.personalize`` costs on a warm rewrite-cache hit, counted in instructions (valgrind).

    python benchmarks/personalize_hit.py [--calls N]

The middleware part after the app in benchmarks/hit_path.py, alone: the same app (bench_app.py, on-device A/B over
abtest.py, 1000 returning visitors, signed click tokens, rewrite cache warm) serves WARM requests while the
arguments of each ``personalize`` call are kept; then ``personalize`` is called again on them in turn, each time
with a fresh copy of the start message (it edits its headers). Two runs under cachegrind, N calls and 0: the
difference over N is the instructions per call, the copy of the start message and a ``time.perf_counter()`` for
``started`` included (a few hundred).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import cachegrind

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WARM = 300


def serve(calls: int) -> None:
    sys.path[:0] = [str(ROOT), str(HERE)]
    os.environ["BENCH_MODE"] = "on-device"
    import hit_path

    from target_middleware.personalize import Personalizer

    kept: list[tuple[Any, ...]] = []
    personalize = Personalizer.personalize

    async def keeping(self: Personalizer, *args: Any, **kw: Any) -> Any:
        scope, start, body, result, rule = args
        kept.append((self, scope, {**start, "headers": list(start["headers"])}, body, result, rule))
        return await personalize(self, *args, **kw)

    Personalizer.personalize = keeping  # type: ignore[method-assign]
    hit_path.serve("on-device", 0)
    Personalizer.personalize = personalize  # type: ignore[method-assign]

    async def run() -> None:
        for i in range(calls):
            personalizer, scope, start, body, result, rule = kept[i % len(kept)]
            message = {**start, "headers": list(start["headers"])}
            # When the page was complete: just before, as the middleware reads it (Server-Timing's few tenths).
            await personalizer.personalize(scope, message, body, result, rule, started=time.perf_counter())

    asyncio.run(run())


def instructions(calls: int) -> float:
    return cachegrind.per_call(lambda n: [sys.executable, __file__, "--serve", "--calls", str(n)], calls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.calls)
        return
    print(
        f"Personalizer.personalize on a warm hit, instructions per call over {args.calls}: "
        f"{instructions(args.calls):,.0f}"
    )


if __name__ == "__main__":
    main()
