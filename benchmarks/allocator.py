"""What glibc's habit of giving freed memory back costs a rewrite, and what keeping it saves.

    python benchmarks/allocator.py [--rounds 3]

lexbor builds each page's tree in memory it frees when the page is done; glibc returns the top of its heap to the
kernel when more than M_TRIM_THRESHOLD lies free there, so the next page faults every one of those pages back in.
For the 15 KB, 100 KB and 1 MB shop pages and the 5 actions of benchmarks/apply_actions.py, this runs
apply_actions (and lexbor's bare parse + serialize) in fresh processes with glibc's defaults and with
``MALLOC_TOP_PAD_`` (64 MiB kept at the top of the heap), and prints the CPU time and the page faults per call,
medians over the rounds, and the ratio of the two settings in the same run. glibc only: other allocators ignore the
variable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"15 KB": 15_000, "100 KB": 100_000, "1 MB": 1_000_000}
KEEP = {"MALLOC_TOP_PAD_": str(64 << 20)}

# A fresh interpreter per measurement: the allocator's settings are read once, at start.
PROGRAM = """
import json, resource, sys, time
sys.path[:0] = [{root!r}, {here!r}]
from pages import ACTIONS, shop_page
from selectolax.lexbor import LexborHTMLParser
from target_middleware import apply_actions
page = shop_page({size})
run = (lambda: apply_actions(page, ACTIONS)) if {apply!r} else (lambda: LexborHTMLParser(page).html)
for _ in range(20):
    run()
faults, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
for _ in range({calls}):
    run()
cpu, faults = time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(json.dumps([cpu / {calls}, faults / {calls}]))
"""


def measure(size: int, *, apply: bool, keep: bool) -> tuple[float, float]:
    """(CPU seconds, page faults) per call, in a fresh process."""
    calls = max(10, 20_000_000 // size)
    code = PROGRAM.format(root=str(HERE.parent), here=str(HERE), size=size, apply=apply, calls=calls)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | (KEEP if keep else {})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    cpu, faults = json.loads(out.stdout)
    return float(cpu), float(faults)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'page':>7} {'run':>13} {'default ms':>11} {'faults':>8} {'kept ms':>8} {'faults':>7} {'kept / default':>15}"
    )
    for label, size in SIZES.items():
        for run, apply in (("lexbor floor", False), ("apply_actions", True)):
            rows: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            ratios = []
            for _ in range(args.rounds):  # the two settings back to back, so the machine's load hits both alike
                for keep in (False, True):
                    rows[keep].append(measure(size, apply=apply, keep=keep))
                ratios.append(rows[True][-1][0] / rows[False][-1][0])
            default = [statistics.median(x) for x in zip(*rows[False], strict=True)]
            kept = [statistics.median(x) for x in zip(*rows[True], strict=True)]
            print(
                f"{label:>7} {run:>13} {default[0] * 1e3:11.3f} {default[1]:8.0f} {kept[0] * 1e3:8.3f} {kept[1]:7.0f}"
                f" {statistics.median(ratios):14.2f}x"
            )


if __name__ == "__main__":
    main()
