"""Same offers as Adobe's target-python-sdk (on-device mode) on generated traffic.

The SDK cannot share our venv (no ``Requires-Dist``, pins from 2020, needs ``setuptools<81``: NOTES.md §5), so
it runs in a venv of its own that the ``target_python_sdk`` fixture makes once per session (conftest.py;
``$TARGET_SDK_PYTHON`` names an interpreter to use instead), through ``python_referee/sdk_runner.py``: offline,
geo lookup stubbed, clock mocked per request.

Compared: every requested mbox, view and pageLoad's options (type, content, event token, response tokens) and
the blank answers. Left out by design, where the SDK has a defect we do not copy: the global mbox decided when
the request did not ask for it (§5 "phantom" impressions), display metrics kept on execute when there is no
click metric, and hosts with a port that the Public Suffix List does not know (the SDK keeps the port in
``page.domain``), so the generator does not produce those.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from target_middleware.decisioning import DecisioningEngine, load_artifact

from .conformance import ARTIFACTS

RUNNER = Path(__file__).with_name("python_referee") / "sdk_runner.py"
pytestmark = pytest.mark.slow

URLS = [
    "http://local-target-test/",
    "http://local-target-test/home?bar=true#hello",
    "http://local-target-test/contact",
    "https://pied.piper.decentralized.test.hooli.com/?implementation=psl",
    "https://test.wayne-enterprises.us-east-1.elasticbeanstalk.com",
    "https://www.adobe.com/products?bar=1",
    "http://shop.example.co.uk:8080/cart#top",
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/80.0.3987.163 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:73.0) Gecko/20100101 Firefox/73.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
]
PARAMS = {
    "jason": ["correct", "wrong"],
    "greg": ["correct", "nope"],
    "foo": ["bar", "baz"],
    "favorite.color": ["Red", "blue"],
    "first.programming.language": ["Racket", "go"],
    "favorite.movie": ["The Big Lebowski", "Heat"],
}
GEOS = [
    {},
    {"city": "SAN FRANCISCO", "countryCode": "US", "stateCode": "CA", "latitude": 37.75, "longitude": -122.4},
    {"city": "TORONTO", "countryCode": "CANADA", "stateCode": "ON"},
    {"countryCode": "UNITED STATES"},
]
ARTIFACT_NAMES = [
    "TEST_ARTIFACT_AB_SIMPLE",
    "TEST_ARTIFACT_AB_MULTI_SIMPLE",
    "TEST_ARTIFACT_BROWSER",
    "TEST_ARTIFACT_ADDRESS",
    "TEST_ARTIFACT_GEO",
    "TEST_ARTIFACT_PARAMS",
    "TEST_ARTIFACT_PRIORITIES",
    "TEST_ARTIFACT_PROPERTIES",
    "TEST_ARTIFACT_TIMEFRAME",
    "TEST_ARTIFACT_PAGELOAD_VEC_AB",
    "TEST_ARTIFACT_PAGELOAD_VEC_XT",
    "TEST_ARTIFACT_GLOBAL_MBOX",
    "TEST_ARTIFACT_CAMPAIGN_MACROS",
    "TEST_ARTIFACT_VIEWS",
    "LARGE_PRODUCTION_LIKE_ARTIFACT",
]


def _traffic(rng: random.Random, payload: dict[str, Any], n: int) -> list[dict[str, Any]]:
    mboxes = [*sorted(set(payload["rules"].get("mboxes", {})) - {payload.get("globalMbox")}), "no-such-mbox"]
    views = sorted(payload["rules"].get("views", {}))
    tokens = sorted(
        {t for rs in payload["rules"].get("mboxes", {}).values() for r in rs for t in r.get("propertyTokens") or ()}
    )
    jobs = []
    for _ in range(n):
        hexid = f"{rng.getrandbits(128):032x}"
        visitor = rng.choice(
            [{"tntId": f"{hexid}.28_0"}, {"marketingCloudVisitorId": hexid[:26]}, {"thirdPartyId": hexid}]
        )
        context: dict[str, Any] = {
            "channel": "web",
            "userAgent": rng.choice(AGENTS),
            "address": {"url": rng.choice(URLS)},
            "geo": rng.choice(GEOS),
        }
        if rng.random() < 0.3:
            context["address"]["referringUrl"] = rng.choice(URLS)
        if not context["geo"]:
            context["geo"] = {"zip": "00000"}  # a geo field, so the SDK does no IP lookup (stubbed anyway)
        params = {k: rng.choice(v) for k, v in PARAMS.items() if rng.random() < 0.5}
        mode = rng.choice(["execute", "prefetch"])
        part: dict[str, Any] = {}
        chosen = rng.sample(mboxes, k=rng.randint(0, min(3, len(mboxes))))
        if chosen:
            part["mboxes"] = [{"name": m, "index": i, "parameters": params} for i, m in enumerate(chosen)]
        if rng.random() < 0.5 or not chosen:
            part["pageLoad"] = {"parameters": params}
        if mode == "prefetch" and views and rng.random() < 0.6:
            view_name = rng.choice([*views, None])
            view: dict[str, Any] = {"parameters": params}
            if view_name:
                view["name"] = view_name
            part["views"] = [view]
        request: dict[str, Any] = {"id": visitor, "context": context, mode: part}
        if tokens and rng.random() < 0.6:
            request["property"] = {"token": rng.choice([*tokens, "unknown-token"])}
        jobs.append({"request": request, "now_ms": rng.randrange(1_577_836_800_000, 1_672_531_200_000)})
    return jobs


def _offers(response: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """What a visitor would see: per requested item, the options (and, for prefetch, their event tokens)."""

    def options(item: dict[str, Any]) -> list[Any]:
        return [
            (
                o.get("type"),
                json.dumps(o.get("content"), sort_keys=True),
                o.get("eventToken"),
                json.dumps(o.get("responseTokens"), sort_keys=True),
            )
            for o in item.get("options") or ()
        ]

    result: dict[str, Any] = {}
    for mode in ("execute", "prefetch"):
        asked, got = request.get(mode) or {}, response.get(mode) or {}
        if "mboxes" in asked:
            result[f"{mode}.mboxes"] = [(m.get("name"), m.get("index"), options(m)) for m in got.get("mboxes") or ()]
        if "pageLoad" in asked:
            result[f"{mode}.pageLoad"] = options(got.get("pageLoad") or {})
        if "views" in asked:
            result[f"{mode}.views"] = [(v.get("name"), options(v)) for v in got.get("views") or ()]
    return result


@pytest.mark.parametrize("name", ARTIFACT_NAMES)
def test_same_offers_as_target_python_sdk(name: str, target_python_sdk: Path) -> None:
    path = ARTIFACTS / f"{name}.json"
    payload = json.loads(path.read_text())
    client = "someClientId"
    jobs = _traffic(random.Random(name), payload, 40 if name.startswith("LARGE") else 120)
    spec = {"artifact": str(path), "client": client, "jobs": jobs}
    done = subprocess.run(
        [str(target_python_sdk), str(RUNNER)],
        capture_output=True,
        text=True,
        timeout=600,
        input=json.dumps(spec),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout)["responses"]
    artifact = load_artifact(path)
    differences = []
    for job, their_response in zip(jobs, theirs, strict=True):
        now = job["now_ms"] / 1000
        engine = DecisioningEngine(artifact, client_code=client, telemetry_enabled=False, clock=lambda t=now: t)
        ours = _offers(engine.decide(job["request"]).response, job["request"])
        if ours != _offers(their_response, job["request"]):
            differences.append((job["request"], ours, _offers(their_response, job["request"])))
    assert not differences, json.dumps(differences[:2], indent=1)[:6000]
