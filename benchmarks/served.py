"""Issue 14's served goal, alone: the personalized page through uvicorn against the bare app, in server CPU time.

    python benchmarks/served.py [--rounds K] [--requests N] [--concurrency C] [--where SECONDS] [--stack h11|standard]
                                [--modes bare,floor,on-device] [--instructions N [--pinned]]

The load of benchmarks/rewrite_cache.py (bench_app.py's 100 KB page; Target's on-device engine over abtest.py's
A/B activity for 1000 returning visitors in turn, each its own mbox cookie and signed click tokens, the rewrite cache
warm), through uvicorn on CPU 0 with the load on CPU 1. ``K`` rounds, each serving ``N`` requests from a fresh bare
server and then from a fresh personalized one, so both modes meet the same moments of a shared machine; per round,
the server's CPU per request (user + system, from /proc) and req/s; printed: the medians and the ratios of the
medians. CPU time is the throughput a server has to give: on this machine req/s also moves with the load generator.
``--stack`` names uvicorn's HTTP parser and loop (middleware.STACKS): ``h11`` (plain ``pip install uvicorn``, the
default and the goal's figure so far) or ``standard`` (httptools and uvloop, as ``uvicorn[standard]`` installs).

``--where S`` also samples each server for S seconds with py-spy (``py-spy`` on PATH; it ships in the benchmark's
venv here) and prints where its time goes, by layer, per request: our package, h11 and uvicorn, Starlette, asyncio,
the rest; self time of the innermost Python frame (C calls count for the Python function that made them).

``--instructions N`` counts instead the instructions each mode's server executes per request under valgrind
(rewrite_cache.instructions: N requests more than a run warmed alike), the figure a shared machine does not move;
``--pinned`` runs the servers with glibc's memmove held to its vector loop (``GLIBC_TUNABLES``): valgrind counts a
``rep movsb`` copy one instruction a byte, and which of the two glibc picks for the page's 100 KB copies depends on
their addresses, so pinned counts are steadier and closer to what the copies cost in time.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import abtest  # noqa: E402
from middleware import STACKS, load  # noqa: E402
from rewrite_cache import VISITORS, instructions, serve_and_load  # noqa: E402

MODES = ("bare", "on-device")
GOAL = 0.7
PINNED = "glibc.cpu.x86_rep_movsb_threshold=16777216"  # memmove's vector loop up to 16 MiB, no rep movsb
REST = "the rest (stdlib, generated code, ...)"
LAYERS = (
    ("/target_middleware/", "target-middleware"),
    ("/h11/", "h11 + uvicorn"),
    ("/uvicorn/", "h11 + uvicorn"),
    ("/starlette/", "starlette"),
    ("/asyncio/", "asyncio + selectors"),
    ("/selectors.py", "asyncio + selectors"),
)


def layer(frame: str) -> str:
    """The layer of a py-spy frame ``function (path:line)``: the first of LAYERS its path names, else the rest."""
    path = "/" + frame.rsplit("(", 1)[-1]
    return next((name for part, name in LAYERS if part in path), REST)


def where(mode: str, seconds: float, concurrency: int, stack: str) -> tuple[collections.Counter[str], int]:
    """Self samples per layer over ``seconds`` of load on a fresh server of ``mode``, and the requests served."""
    from middleware import server

    cookies = abtest.visitor_cookies(VISITORS)
    served = 0
    with server(mode, stack=stack) as port, tempfile.TemporaryDirectory() as folder:
        load(port, "/page", 600, concurrency, cookies)  # warm
        pid = _listener(port)
        out = Path(folder) / "samples.txt"
        spy = ["py-spy", "record", "--pid", str(pid), "--rate", "1000", "--format", "raw", "--nonblocking"]
        sampler = subprocess.Popen(
            [*spy, "-o", str(out), "--duration", str(int(seconds))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while sampler.poll() is None:
            load(port, "/page", 1000, concurrency, cookies)
            served += 1000
        layers: collections.Counter[str] = collections.Counter()
        for line in out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():  # not a sample: py-spy's note of a stack it could not read
                print(f"  (skipped from py-spy: {line[:80]!r})")
                continue
            layers[layer(stack.rsplit(";", 1)[-1])] += int(count)
    return layers, served


def _listener(port: int) -> int:
    """The pid of the process listening on ``port`` (the uvicorn under taskset)."""
    listing = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"pid=(\d+)", listing)
    if found is None:
        raise RuntimeError(f"no process listens on {port}")
    return int(found.group(1))


def count_instructions(modes: list[str], requests: int, concurrency: int, stack: str, *, pinned: bool) -> None:
    """Print each mode's instructions per request through uvicorn and its ratio to the first mode's."""
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind on PATH")
    if pinned:  # the servers inherit the environment
        os.environ["GLIBC_TUNABLES"] = ":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"), PINNED)))
    counts = {mode: instructions(mode, requests, concurrency, stack) for mode in modes}
    how = "memmove pinned to its vector loop" if pinned else "memmove as glibc picks it"
    print(f"through uvicorn ({stack}) under valgrind, instructions per request over {requests} ({how})")
    base = counts[modes[0]]
    for mode, count in counts.items():
        ratio = "-" if mode == modes[0] else f"{base / count:.3f}x"
        print(f"{mode:<34} {count:>12,.0f} {ratio:>9}")
    print(f"goal: personalized at >= {GOAL}x the {modes[0]} app, so at most {base / GOAL:,.0f} instructions")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--where", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--modes", default=",".join(MODES), help="bench_app modes, the first the baseline")
    parser.add_argument("--stack", default="h11", choices=sorted(STACKS), help="uvicorn's parser and loop")
    parser.add_argument("--instructions", type=int, default=0, metavar="N", help="count instructions (valgrind)")
    parser.add_argument("--pinned", action="store_true", help="with --instructions: memmove's vector loop pinned")
    args = parser.parse_args()
    if args.pinned and not args.instructions:
        parser.error("--pinned pins memmove for --instructions N: give both")
    modes = args.modes.split(",")
    base = modes[0]
    if args.instructions:
        count_instructions(modes, args.instructions, args.concurrency, args.stack, pinned=args.pinned)
        return
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    rps: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            (rate, _p50, _p99), seconds = serve_and_load(mode, args.requests, args.concurrency, args.stack)
            cpu[mode].append(seconds * 1e6)
            rps[mode].append(rate)
    print(
        f"through uvicorn ({args.stack}: {' '.join(STACKS[args.stack])}), {args.rounds} rounds of {args.requests}"
        f" requests, {args.concurrency} at a time, medians"
    )
    print(f"{'case':<34} {'cpu us/request':>15} {'x ' + base:>9} {'req/s':>8} {'x ' + base:>9}   cpu us per round")
    base_cpu, base_rps = statistics.median(cpu[base]), statistics.median(rps[base])
    for mode in modes:
        mcpu, mrps = statistics.median(cpu[mode]), statistics.median(rps[mode])
        ratios = ("-", "-") if mode == base else (f"{base_cpu / mcpu:.2f}x", f"{mrps / base_rps:.2f}x")
        rounds = " ".join(f"{c:.0f}" for c in cpu[mode])
        print(f"{mode:<34} {mcpu:15.0f} {ratios[0]:>9} {mrps:8.0f} {ratios[1]:>9}   {rounds}")
    print(f"goal: personalized at >= {GOAL}x the {base} app, so at most {base_cpu / GOAL:.0f} us of CPU per request")
    if args.where:
        if shutil.which("py-spy") is None:
            sys.exit("--where needs py-spy on PATH")
        print(f"\nwhere the server's time goes, py-spy samples per 1000 requests ({args.where:.0f} s each)")
        found = {mode: where(mode, args.where, args.concurrency, args.stack) for mode in modes}
        names = [*dict.fromkeys(name for _, name in LAYERS), REST]
        print(f"{'layer':<40}" + "".join(f"{mode:>12}" for mode in modes))
        for name in names:
            print(f"{name:<40}" + "".join(f"{1000 * ls[name] / n:12.0f}" for ls, n in found.values()))
        print(f"{'all':<40}" + "".join(f"{1000 * sum(ls.values()) / n:12.0f}" for ls, n in found.values()))


if __name__ == "__main__":
    main()
