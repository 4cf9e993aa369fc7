"""The one way the benchmarks time a piece of work: a warm-up call, then the median of ``rounds`` runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(run: Callable[[], object], rounds: int) -> float:
    run()  # warm up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
