"""Per-decision p50 of the on-device engine, a new visitor on every call; Adobe's Python SDK in the same run.

    python benchmarks/decisioning.py [--n 5000] [--rounds 5] [--sdk-python /path/to/python-with-target-python-sdk]

Each round decides ``n`` requests; p50 and p90 are the medians over the rounds (a busy machine moves single
rounds by tens of percent).

The SDK comparison runs when ``--sdk-python`` (or $TARGET_SDK_PYTHON) names an interpreter where
``target-python-sdk`` 1.1.0 imports (a venv of its own with ``pip install -r
tests/decisioning/python_referee/requirements.txt``); it runs in that interpreter through
tests/decisioning/python_referee/sdk_runner.py with the same requests. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from target_middleware.decisioning import DecisioningEngine, load_artifact  # noqa: E402

ARTIFACTS = ROOT / "tests" / "data" / "conformance" / "artifacts"
RUNNER = ROOT / "tests" / "decisioning" / "python_referee" / "sdk_runner.py"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/80.0.3987.163 Safari/537.36"
)


def _request(part: dict[str, Any], url: str) -> dict[str, Any]:
    return {
        "context": {
            "channel": "web",
            "address": {"url": url},
            "userAgent": CHROME,
            "geo": {"countryCode": "US", "stateCode": "CA", "city": "SAN FRANCISCO"},
        },
        "id": {"tntId": f"{uuid.uuid4().hex}.28_0"},
        "execute": part,
    }


PAGE = "http://local-target-test/"
LARGE_MBOXES = ["mbox-magician", "perf-mbox", "super-duper"]
SCENARIOS: dict[str, tuple[str, str, Any]] = {
    "AB simple (1 mbox)": (
        "TEST_ARTIFACT_AB_SIMPLE",
        "someClientId",
        lambda: _request({"mboxes": [{"name": "mbox-magician", "index": 0}]}, PAGE),
    ),
    "pageLoad VEC AB": (
        "TEST_ARTIFACT_PAGELOAD_VEC_AB",
        "someClientId",
        lambda: _request({"pageLoad": {"parameters": {"jason": "correct", "greg": "correct"}}}, PAGE),
    ),
    "large artifact (pageLoad + 3 mboxes)": (
        "LARGE_PRODUCTION_LIKE_ARTIFACT",
        "targettesting",
        lambda: _request(
            {"pageLoad": {}, "mboxes": [{"name": n, "index": i} for i, n in enumerate(LARGE_MBOXES)]}, PAGE
        ),
    ),
}


def ours(name: str, client: str, make: Any, n: int) -> list[float]:
    engine = DecisioningEngine(load_artifact(ARTIFACTS / f"{name}.json"), client_code=client, telemetry_enabled=False)
    requests = [make() for _ in range(n)]
    for request in requests[:200]:  # warm the bounded URL / user-agent caches, as a running server has
        engine.decide(request)
    times = []
    for request in requests:
        started = time.perf_counter()
        engine.decide(request)
        times.append(time.perf_counter() - started)
    return times


def sdk(python: str, name: str, client: str, make: Any, n: int) -> list[float] | None:
    spec = {
        "artifact": str(ARTIFACTS / f"{name}.json"),
        "client": client,
        "jobs": [{"request": make()} for _ in range(n)],
    }
    done = subprocess.run(
        [python, str(RUNNER)], input=json.dumps(spec), capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        print(f"  target-python-sdk failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    seconds: list[float] = json.loads(done.stdout)["seconds"]
    return seconds[min(100, len(seconds) // 10) :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sdk-n", type=int, default=500)
    parser.add_argument("--sdk-python", default=os.environ.get("TARGET_SDK_PYTHON"))
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, n={args.n} (ours), {args.sdk_n} (target-python-sdk)")
    print(f"{'scenario':40} {'ours p50':>10} {'ours p90':>10} {'sdk p50':>10} {'ratio':>8}")
    for label, (name, client, make) in SCENARIOS.items():
        rounds = [ours(name, client, make, args.n) for _ in range(args.rounds)]
        p50 = statistics.median(statistics.median(mine) for mine in rounds)
        p90 = statistics.median(statistics.quantiles(mine, n=10)[-1] for mine in rounds)
        theirs = sdk(args.sdk_python, name, client, make, args.sdk_n) if args.sdk_python else None
        sdk_p50 = statistics.median(theirs) if theirs else None
        ratio = f"{sdk_p50 / p50:7.0f}x" if sdk_p50 else "     n/a"
        sdk_text = f"{sdk_p50 * 1e6:8.0f}us" if sdk_p50 else "       n/a"
        print(f"{label:40} {p50 * 1e6:8.1f}us {p90 * 1e6:8.1f}us {sdk_text} {ratio}")
    if not args.sdk_python:
        print("target-python-sdk not compared: pass --sdk-python or set TARGET_SDK_PYTHON")


if __name__ == "__main__":
    main()
