"""What keeping and counting costs the local edge: EdgeRecorder.record against the decision it records, per request.

    python benchmarks/edge_record.py [--n 5000]

Three kinds of request over the demo's artifact, a new visitor (tntId + ECID) each, a recorder remembering
fewer visitors than are sent (so eviction is measured too): a page view (execute pageLoad, its impressions counted
by the edge), a click notification, an order conversion. Medians in microseconds and the ratio record/decide,
measured in the same run. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from target_middleware.decisioning import DecisioningEngine, load_artifact  # noqa: E402
from target_middleware.edgerecord import EdgeRecorder  # noqa: E402

ARTIFACT = ROOT / "demo_app" / "rules.json"
CONTEXT = {"channel": "web", "address": {"url": "https://shop.example/"}}
CLICK_TOKEN = "jNxXkFsE4tQfErLhRP3p7UN/d4Qovbv4Jk+qzhw0pWo="  # the hero's click metric, experience A


def _ids() -> dict[str, str]:
    return {"tntId": uuid.uuid4().hex, "marketingCloudVisitorId": f"{uuid.uuid4().int % 10**38:038d}"}


def _note(kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": kind, "timestamp": int(time.time() * 1000), **extra}


SCENARIOS = {
    "page view (execute pageLoad)": lambda: {"context": CONTEXT, "id": _ids(), "execute": {"pageLoad": {}}},
    "click notification": lambda: {
        "context": CONTEXT,
        "id": _ids(),
        "notifications": [_note("click", tokens=[CLICK_TOKEN], mbox={"name": "target-global-mbox"})],
    },
    "order conversion": lambda: {
        "context": CONTEXT,
        "id": _ids(),
        "notifications": [_note("display", mbox={"name": "orderConfirm"}, order={"id": uuid.uuid4().hex, "total": 9})],
    },
}


def measure(make: Any, n: int) -> tuple[float, float]:
    artifact = load_artifact(ARTIFACT)
    engine = DecisioningEngine(artifact, client_code="demoshop", telemetry_enabled=False)
    recorder = EdgeRecorder(remember=n // 4)
    requests = [make() for _ in range(n)]
    decide, record = [], []
    for request in requests:
        started = time.perf_counter()
        decision = engine.decide(request)
        decided = time.perf_counter()
        recorder.record(request, decision, artifact)
        decide.append(decided - started)
        record.append(time.perf_counter() - decided)
    skip = n // 10  # warm-up
    return statistics.median(decide[skip:]) * 1e6, statistics.median(record[skip:]) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    print(f"{'request':32} {'decide µs':>10} {'record µs':>10} {'record/decide':>14}")
    for name, make in SCENARIOS.items():
        decide, record = measure(make, args.n)
        print(f"{name:32} {decide:10.1f} {record:10.1f} {record / decide:13.2f}×")


if __name__ == "__main__":
    main()
