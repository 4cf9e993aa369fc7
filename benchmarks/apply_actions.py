"""How fast offers are applied: lexbor and soup beside a bs4 + html.parser parse-and-serialize baseline.

    python benchmarks/apply_actions.py [--rounds N]

For shop pages of about 15 KB, 100 KB and 1 MB, with 5 VEC-style actions each, prints the median time per page,
the throughput, the ratio to the baseline measured in the same run, and the peak memory one page costs (in a fresh
process per engine and page, as a multiple of the page size). "lexbor floor" is selectolax's own parse + serialize
with no actions: what any lexbor-based rewrite costs at least; "x floor" is the median, over rounds, of each
round's lexbor time over the floor's measured right before it, so that the machine's load hits both alike.
"lexbor, no match" applies the same actions with selectors the page does not hold (an absent id and class):
the pre-check returns such a page without parsing it. "lexbor calls only" is the five edits written by hand as
the fewest selectolax calls that make them (same output, checked): no normalizing, no reports, no general
selector engine; the least any rewrite through selectolax can cost on this page. Run by hand; the machine is
noisy, so medians.
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
from timing import median_seconds

from target_middleware import apply_actions

SIZES = {"15 KB": 15_000, "100 KB": 100_000, "1 MB": 1_000_000}


def baseline(page: str) -> object:
    return BeautifulSoup(page, "html.parser").decode()


def lexbor_calls_only(page: str) -> str:
    """ACTIONS as the fewest selectolax calls that apply them (the :eq path through a marker attribute)."""
    tree = LexborHTMLParser(page, scripting=True)
    wrapper = tree.css_first("HTML > BODY > DIV.wrapper")
    assert wrapper is not None
    wrapper.attrs["data-scope"] = ""
    hero = wrapper.css_first("[data-scope] > SECTION.hero")
    del wrapper.attrs["data-scope"]
    assert hero is not None
    hero.attrs["data-scope"] = ""
    title = hero.css_first("[data-scope] > H1.title")
    del hero.attrs["data-scope"]
    assert title is not None
    for child in list(title.iter(include_text=True)):
        child.decompose()
    title.insert_child("Winter sale: 30% off tents")
    styled = tree.css_first("#hero")
    grid = tree.css_first("#grid")
    assert styled is not None
    assert grid is not None
    styled.attrs["style"] = "background-color: #fde !important;"
    banner = tree.create_node("div")
    banner.inner_html = '<div class="banner">Members get free shipping</div>'
    for node in list(banner.iter(include_text=True)):
        grid.insert_before(node, move=True)
    for link in tree.css("A.cta"):
        link.attrs["href"] = "/winter-sale"
    for menu in tree.css("UL.menu"):
        items = list(menu.iter())
        items[0].insert_before(items[3], move=True)
    return tree.html or ""


NO_MATCH = [{**action, "selector": f"#absent-{i} .missing"} for i, action in enumerate(ACTIONS)]


def paired(first: Callable[[], object], second: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """Median seconds of each, and the median of the per-round ratio second / first (run back to back)."""
    first()
    second()
    times: tuple[list[float], list[float]] = ([], [])
    ratios = []
    for _ in range(rounds):
        for run, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
        ratios.append(times[1][-1] / times[0][-1])
    return statistics.median(times[0]), statistics.median(times[1]), statistics.median(ratios)


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
    print(
        f"{'page':>7} {'engine':>17} {'median ms':>10} {'MB/s':>7} {'x baseline':>11} {'x floor':>8}"
        f" {'peak mem / page':>16}"
    )
    for label, size in SIZES.items():
        page = shop_page(size)
        for action in ACTIONS:  # every action must really apply, or the figure is a lie
            assert apply_actions(page, [action]).applied, action
        assert not apply_actions(page, NO_MATCH).applied
        assert lexbor_calls_only(page) == apply_actions(page, ACTIONS).html
        rounds = args.rounds or max(5, int(30_000_000 / size))  # ~30 rounds of the 1 MB page: the median holds
        base = median_seconds(lambda page=page: baseline(page), max(3, rounds // 100))
        rows = {"baseline": base}
        ratios = {}

        # The floor for any lexbor-based rewrite: parse and serialize, nothing else.
        def floor(page: str = page) -> object:
            return LexborHTMLParser(page).html

        rows["lexbor floor"], rows["lexbor"], ratios["lexbor"] = paired(
            floor, lambda page=page: apply_actions(page, ACTIONS), rounds
        )
        _, rows["lexbor calls only"], ratios["lexbor calls only"] = paired(
            floor, lambda page=page: lexbor_calls_only(page), rounds
        )
        _, rows["lexbor, no match"], ratios["lexbor, no match"] = paired(
            floor, lambda page=page: apply_actions(page, NO_MATCH), rounds
        )
        rows["soup"] = median_seconds(
            lambda page=page: apply_actions(page, ACTIONS, engine="soup"), max(3, rounds // 100)
        )
        for engine, seconds in rows.items():
            measured = engine in {"baseline", "lexbor", "soup"}
            memory = peak_memory(engine, size) / len(page.encode()) if measured else float("nan")
            mbps = len(page.encode()) / seconds / 1e6
            ratio = base / seconds
            to_floor = ratios.get(engine, float("nan"))
            figures[f"{label} {engine}"] = {
                "ms": seconds * 1e3,
                "MB/s": mbps,
                "speedup": ratio,
                "x floor": to_floor,
                "memory": memory,
            }
            print(
                f"{label:>7} {engine:>17} {seconds * 1e3:10.3f} {mbps:7.1f} {ratio:10.1f}x {to_floor:7.2f}x"
                f" {memory:15.1f}x"
            )
    if args.json:
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
