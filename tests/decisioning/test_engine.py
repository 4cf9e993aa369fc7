from __future__ import annotations

import copy
import gc
import tracemalloc
import uuid
from typing import Any

import pytest

from target_middleware.decisioning import DecisioningEngine, OnDeviceDecision, load_artifact, notification_request

from .conformance import ARTIFACTS


def engine(name: str, **kwargs: Any) -> DecisioningEngine:
    return DecisioningEngine(load_artifact(ARTIFACTS / f"{name}.json"), client_code="someClientId", **kwargs)


def request(*mboxes: str, mode: str = "execute", **extra: Any) -> dict[str, Any]:
    return {
        "context": {"channel": "web", "address": {"url": "http://local-target-test/"}},
        "id": {"tntId": "338e3c1e51f7416a8e1ccba4f81acea0.28_0"},
        mode: {"mboxes": [{"name": m, "index": i} for i, m in enumerate(mboxes)]},
        **extra,
    }


def test_remote_mboxes_are_reported_for_hybrid() -> None:
    decision = engine("TEST_ARTIFACT_FEATURE_FLAG").decide(
        request("mbox-feature-flags", "remote-only-mbox-a", "never-heard-of")
    )
    assert decision.remote_mboxes == ("never-heard-of", "remote-only-mbox-a")
    assert decision.response["status"] == 206
    local = engine("TEST_ARTIFACT_FEATURE_FLAG").decide(request("mbox-feature-flags"))
    assert local.remote_mboxes == ()
    assert local.response["status"] == 200


@pytest.mark.parametrize(
    ("artifact", "remote"),
    [
        ("TEST_ARTIFACT_GLOBAL_MBOX", ("target-global-mbox",)),  # listed in remoteMboxes
        ("TEST_ARTIFACT_BLANK", ("target-global-mbox",)),  # not in localMboxes
        ("TEST_ARTIFACT_AB_SIMPLE", ()),
    ],
)
def test_a_pageload_asks_for_the_global_mbox(artifact: str, remote: tuple[str, ...]) -> None:
    # As in Adobe's Node SDK: a pageLoad needs the edge where the artifact says the global mbox does.
    for mode in ("execute", "prefetch"):
        decision = engine(artifact).decide({**request(mode=mode), mode: {"pageLoad": {}}})
        assert decision.remote_mboxes == remote
        assert decision.response["status"] == (206 if remote else 200)
        assert "pageLoad" in decision.response[mode]  # still decided locally, for on-device mode


def test_execute_owes_display_notifications_prefetch_does_not() -> None:
    eng = engine("TEST_ARTIFACT_AB_SIMPLE", clock=lambda: 1_600_000_000.0)
    executed = eng.decide(request("mbox-magician"))
    (note,) = executed.notifications
    assert note["type"] == "display"
    assert note["mbox"] == {"name": "mbox-magician"}
    assert note["timestamp"] == 1_600_000_000_000
    assert len(note["tokens"]) == 1
    option = executed.response["execute"]["mboxes"][0]["options"][0]
    assert "eventToken" not in option
    assert option["responseTokens"]["activity.decisioningMethod"] == "on-device"
    prefetched = engine("TEST_ARTIFACT_AB_SIMPLE").decide(request("mbox-magician", mode="prefetch"))
    assert prefetched.notifications == ()
    assert prefetched.response["prefetch"]["mboxes"][0]["options"][0]["eventToken"]


def test_notification_request_shape() -> None:
    req = request("mbox-magician")
    decision = engine("TEST_ARTIFACT_AB_SIMPLE", telemetry_enabled=False).decide(req)
    body = notification_request(req, decision)
    assert body is not None
    assert body["id"] == req["id"]
    assert len(body["notifications"]) == 1
    assert "telemetry" not in body
    assert notification_request(req, OnDeviceDecision({}, (), ())) is None


def test_no_match_gives_a_blank_mbox() -> None:
    decision = engine("TEST_ARTIFACT_AB_SIMPLE").decide(request("unknown-mbox"))
    assert decision.response["execute"]["mboxes"] == [{"name": "unknown-mbox", "index": 0}]
    assert decision.notifications == ()


def test_pageload_is_not_decided_unless_asked() -> None:
    decision = engine("TEST_ARTIFACT_GLOBAL_MBOX").decide(request("mbox-magician"))
    assert "pageLoad" not in decision.response["execute"]
    assert decision.notifications == ()


def test_responses_do_not_share_state_with_the_artifact() -> None:
    eng = engine("TEST_ARTIFACT_AB_SIMPLE")
    first = eng.decide(request("mbox-magician", mode="prefetch")).response
    first["prefetch"]["mboxes"][0]["options"][0]["content"]["doMagic"] = "mutated"
    second = eng.decide(request("mbox-magician", mode="prefetch")).response
    assert second["prefetch"]["mboxes"][0]["options"][0]["content"]["doMagic"] is True


def test_request_is_not_mutated() -> None:
    req = request("mbox-magician", trace={})
    before = copy.deepcopy(req)
    engine("TEST_ARTIFACT_AB_SIMPLE").decide(req, session_id="s")
    assert req == before


def test_memory_does_not_grow_with_visitors() -> None:
    # A per-visitor cache (the SDKs memoize allocations) would keep >100 bytes a visitor: >1 MB here.
    eng = engine("TEST_ARTIFACT_AB_MULTI_SIMPLE", telemetry_enabled=False)

    def burst(n: int) -> None:
        for _ in range(n):
            req = request("mbox-magician", "mbox-salutations")
            req["id"] = {"tntId": f"{uuid.uuid4().hex}.28_0"}
            eng.decide(req)

    burst(500)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    burst(10_000)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 256 * 1024, grown


def test_a_request_must_be_an_object() -> None:
    with pytest.raises(TypeError):
        engine("TEST_ARTIFACT_AB_SIMPLE").decide([])  # type: ignore[arg-type]


def test_geo_lookup_only_for_a_lone_ip_address() -> None:
    looked_up: list[str] = []

    def lookup(ip: str) -> dict[str, Any]:
        looked_up.append(ip)
        return {
            "x-geo-country-code": "US",
            "x-geo-city": "SAN FRANCISCO",
            "x-geo-region-code": "CA",
            "x-geo-latitude": 37.75,
            "x-geo-longitude": -122.4,
        }

    eng = engine("TEST_ARTIFACT_GEO", geo_lookup=lookup)
    req = request("mbox-geography")
    req["context"]["geo"] = {"ipAddress": "203.0.113.9"}
    (option,) = eng.decide(req).response["execute"]["mboxes"][0]["options"]
    assert looked_up == ["203.0.113.9"]
    assert option["responseTokens"]["geo.city"] == "SAN FRANCISCO"
    req["context"]["geo"] = {"ipAddress": "203.0.113.9", "city": "TORONTO"}
    eng.decide(req)
    assert looked_up == ["203.0.113.9"]
    # No lookup of what is no address, as in Adobe's Node SDK; nor of at.js's "unknownIpAddress" (the caller's own
    # location, which on a server is the server's).
    for not_an_address in ("testclient", "999.1.2.3", "", "unknownIpAddress"):
        req["context"]["geo"] = {"ipAddress": not_an_address}
        assert eng.decide(req).response["execute"]["mboxes"][0] == {"name": "mbox-geography", "index": 0}
    req["context"]["geo"] = {"ipAddress": " 2001:db8::42 "}
    eng.decide(req)
    assert looked_up == ["203.0.113.9", "2001:db8::42"]


def test_a_failing_geo_lookup_decides_without_geo() -> None:
    def lookup(_ip: str) -> dict[str, Any]:
        raise OSError("offline")

    req = request("mbox-geography")
    req["context"]["geo"] = {"ipAddress": "203.0.113.9"}
    decision = engine("TEST_ARTIFACT_GEO", geo_lookup=lookup).decide(req)
    assert decision.response["execute"]["mboxes"] == [{"name": "mbox-geography", "index": 0}]


def test_property_token_filters_rules() -> None:
    token = "8ce2d3e9-b299-c0ea-2e0c-2e21255db6bb"
    base = {"context": {"channel": "web", "userAgent": "curl/8"}, "id": {"tntId": "a.1_0"}, "execute": {"pageLoad": {}}}
    without = engine("TEST_ARTIFACT_PROPERTIES").decide(base).response["execute"]["pageLoad"]["options"]
    scoped = engine("TEST_ARTIFACT_PROPERTIES").decide({**base, "property": {"token": token}})
    assert len(scoped.response["execute"]["pageLoad"]["options"]) > len(without)
