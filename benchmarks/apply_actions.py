"""How fast offers are applied: lexbor and soup beside a bs4 + html.parser parse-and-serialize baseline.

    python benchmarks/apply_actions.py [--rounds N]

For shop pages of about 15 KB, 100 KB and 1 MB, with 5 VEC-style actions each, prints the median time per page,
the throughput, the ratio to the baseline measured in the same run, and the peak memory one page costs (in a fresh
process per engine and page, as a multiple of the page size). "lexbor floor" is selectolax's own parse + serialize
with no actions: what any lexbor-based rewrite costs at least. Run by hand; the machine is noisy, so medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bs4 import BeautifulSoup
from pages import ACTIONS, shop_page
from selectolax.lexbor import LexborHTMLParser

from target_middleware import apply_actions

SIZES = {"15 KB": 15_000, "100 KB": 100_000, "1 MB": 1_000_000}


def baseline(page: str) -> object:
    return BeautifulSoup(page, "html.parser").decode()


def median_seconds(run: Callable[[], object], rounds: int) -> float:
    run()  # warm up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory(engine: str, size: int) -> float:
    """Peak resident memory that applying the actions to one page adds, in bytes (in a fresh process).

    The kernel's high-water mark (VmHWM) is reset just before the run through /proc/self/clear_refs.
    """
    root, here = str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)
    run = (
        f"apply_actions(page, ACTIONS, engine={engine!r})"
        if engine != "baseline"
        else "BeautifulSoup(page, 'html.parser').decode()"
    )
    code = f"""
import sys
sys.path[:0] = [{root!r}, {here!r}]
from bs4 import BeautifulSoup
from pages import ACTIONS, shop_page
from target_middleware import apply_actions
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
page = shop_page({size})
apply_actions(shop_page(5000), ACTIONS, engine={engine!r} if {engine!r} != "baseline" else None)
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
result = {run}
print(status("VmHWM") - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=0, help="rounds per measurement (default: by page size)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    figures = {}
    print(f"{'page':>7} {'engine':>13} {'median ms':>10} {'MB/s':>7} {'x baseline':>11} {'peak mem / page':>16}")
    for label, size in SIZES.items():
        page = shop_page(size)
        for action in ACTIONS:  # every action must really apply, or the figure is a lie
            assert apply_actions(page, [action]).applied, action
        rounds = args.rounds or max(5, int(3_000_000 / size))
        base = median_seconds(lambda page=page: baseline(page), max(3, rounds // 10))
        rows = {"baseline": base}
        # The floor for any lexbor-based rewrite: parse and serialize, nothing else.
        rows["lexbor floor"] = median_seconds(lambda page=page: LexborHTMLParser(page).html, rounds)
        for engine in ("lexbor", "soup"):
            rounds_here = rounds if engine == "lexbor" else max(3, rounds // 10)
            rows[engine] = median_seconds(
                lambda page=page, engine=engine: apply_actions(page, ACTIONS, engine=engine), rounds_here
            )
        for engine, seconds in rows.items():
            memory = peak_memory(engine, size) / len(page.encode()) if engine != "lexbor floor" else float("nan")
            mbps = len(page.encode()) / seconds / 1e6
            ratio = base / seconds
            figures[f"{label} {engine}"] = {"ms": seconds * 1e3, "MB/s": mbps, "speedup": ratio, "memory": memory}
            print(f"{label:>7} {engine:>13} {seconds * 1e3:10.3f} {mbps:7.1f} {ratio:10.1f}x {memory:15.1f}x")
    if args.json:
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
