from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter

import mmh3
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from target_middleware.decisioning import (
    DecisioningEngine,
    allocation,
    load_artifact,
    visitor_id_for_allocation,
)
from target_middleware.decisioning.allocation import bucket

from .conformance import ARTIFACTS


def test_the_checked_example() -> None:
    # NOTES.md §4: someClientId.125873.338e…a0.28_0.0 hashes to 1237814844, i.e. 48.44 (the trace suite).
    assert allocation("someClientId", 125873, "338e3c1e51f7416a8e1ccba4f81acea0.28_0") == 48.44


def test_visitor_id_priority() -> None:
    full = {"marketingCloudVisitorId": "ecid", "tntId": "tnt.28_0", "thirdPartyId": "3p.1"}
    assert visitor_id_for_allocation(full) == "ecid"
    assert visitor_id_for_allocation({"tntId": "tnt.28_0", "thirdPartyId": "3p.1"}) == "tnt"
    assert visitor_id_for_allocation({"thirdPartyId": "3p.1"}) == "3p.1"
    random_ids = {visitor_id_for_allocation({}) for _ in range(3)} | {visitor_id_for_allocation(None)}
    assert len(random_ids) == 4


def test_non_ascii_ids_hash_over_utf16_code_units() -> None:
    value = allocation("c", 1, "visitor-ü-😀")
    assert 0 <= value < 100
    assert allocation("c", 1, "visitor-ü-😀") == value


@pytest.mark.parametrize("splits", [(50, 50), (25, 25, 50), (34, 33, 33), (10, 90)])
def test_distribution_over_100k_visitors_is_within_1_percent(splits: tuple[int, ...]) -> None:
    bounds = [sum(splits[: i + 1]) for i in range(len(splits))]
    counts: Counter[int] = Counter()
    total = 100_000
    for _ in range(total):
        value = allocation("someClientId", 125873, uuid.uuid4().hex)
        counts[next(i for i, bound in enumerate(bounds) if value <= bound)] += 1
    for i, share in enumerate(splits):
        assert abs(counts[i] / total * 100 - share) < 1.0, (i, counts)


def test_engine_splits_100k_new_visitors_50_50() -> None:
    path = ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json"
    engine = DecisioningEngine(load_artifact(path), client_code="someClientId", telemetry_enabled=False)
    counts: Counter[int] = Counter()
    total = 100_000
    for _ in range(total):
        request = {
            "context": {"channel": "web"},
            "id": {"tntId": f"{uuid.uuid4().hex}.28_0"},
            "prefetch": {"mboxes": [{"name": "mbox-magician", "index": 0}]},
        }
        option = engine.decide(request).response["prefetch"]["mboxes"][0]["options"][0]
        counts[option["content"]["importantValue"]] += 1
    assert set(counts) == {150, 75}
    assert abs(counts[150] / total - 0.5) < 0.01


def test_same_visitor_same_allocation_in_another_process() -> None:
    visitors = [uuid.uuid4().hex for _ in range(500)] + ["ünïcode", "338e3c1e51f7416a8e1ccba4f81acea0"]
    here = [allocation("client", 4242, v) for v in visitors]
    script = (
        "import json, sys\n"
        "from target_middleware.decisioning import allocation\n"
        "ids = json.loads(sys.stdin.read())\n"
        "print(json.dumps([allocation('client', 4242, v) for v in ids]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(visitors),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONHASHSEED": "random", "PATH": ""},
    )
    assert json.loads(done.stdout) == here


def test_a_bucket_over_100_is_already_rounded_to_two_decimals() -> None:
    """allocation() divides the bucket by 100 without round(): the same double, for every bucket there is."""
    for k in range(10_000):
        assert (k / 100).hex() == round(k / 100, 2).hex()


@given(st.text(alphabet=st.characters(), max_size=80))
@example("someClientId.125873.338e3c1e51f7416a8e1ccba4f81acea0.28_0.0")
@example("c.1.\ud800lone-surrogate.0")
def test_the_bucket_hashes_the_utf16_code_units_as_str_encode_gives_them(device_id: str) -> None:
    encoded = device_id.encode("utf-16-le", "surrogatepass")
    assert bucket(device_id) == abs(mmh3.hash(encoded, 0, signed=True)) % 10_000
