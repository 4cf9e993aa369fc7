"""Run Adobe's target-python-sdk (on-device mode) over a batch of Delivery requests, offline. Executed by an
interpreter that has ``target-python-sdk`` 1.1.0 and its pinned dependencies (NOTES.md §5), never imported by
our own code or tests. Reads ``{"artifact": path, "client": code, "jobs": [{"request", "now_ms"}], "repeat":
n}`` as JSON on stdin; writes ``{"responses": [...], "seconds": [...]}``. The geo lookup is stubbed (it would
call Adobe's CDN and can hang offline), notifications are dropped, and the clock is mocked per job.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from typing import Any


def main() -> None:
    from delivery_api_client import ApiClient, DeliveryRequest, Geo
    from target_decisioning_engine import context_provider
    from target_decisioning_engine.geo_provider import GeoProvider
    from target_python_sdk import TargetClient

    spec = json.load(sys.stdin)
    with open(spec["artifact"]) as handle:
        artifact = json.load(handle)
    clock: dict[str, Any] = {"now_ms": None}
    original_timing = context_provider._create_timing_context

    def timing() -> Any:
        if clock["now_ms"] is None:
            return original_timing()
        now = datetime.datetime.utcfromtimestamp(clock["now_ms"] / 1000)
        return {
            "current_timestamp": clock["now_ms"],
            "current_time": f"{now.hour:02d}{now.minute:02d}",
            "current_day": now.weekday() + 1,
        }

    context_provider._create_timing_context = timing
    GeoProvider.valid_geo_request_context = lambda self, geo=None: geo or Geo()  # type: ignore[method-assign]
    TargetClient.send_notifications = lambda self, options: None  # type: ignore[method-assign]
    client = TargetClient.create(
        {
            "client": spec["client"],
            "organization_id": "someOrgId",
            "decisioning_method": "on-device",
            "artifact_payload": artifact,
            "polling_interval": 0,
            "target_location_hint": "28",
            "telemetry_enabled": False,
        }
    )
    api = ApiClient()

    class _Raw:
        def __init__(self, data: Any) -> None:
            self.data = json.dumps(data)

    responses, seconds = [], []
    for _ in range(spec.get("repeat", 1)):
        for job in spec["jobs"]:
            request = api.deserialize(_Raw(job["request"]), DeliveryRequest)
            clock["now_ms"] = job.get("now_ms")
            started = time.perf_counter()
            result = client.get_offers({"request": request, "session_id": "s"})
            seconds.append(time.perf_counter() - started)
            if len(responses) < len(spec["jobs"]):
                responses.append(api.sanitize_for_serialization(result["response"]))
    json.dump({"responses": responses, "seconds": seconds}, sys.stdout)


if __name__ == "__main__":
    main()
