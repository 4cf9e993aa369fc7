"""The local edge keeps what it receives: /notifications, /requests and /report, over real HTTP."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from target_middleware.edgerecord import EdgeRecorder
from tests.datafiles import ARTIFACTS
from tests.servers import serve

DELIVERY = "/rest/v1/delivery"
VEC_AB = ARTIFACTS / "TEST_ARTIFACT_PAGELOAD_VEC_AB.json"
CONTEXT = {"channel": "web", "address": {"url": "http://local-target-test/"}}
TARGETING, QUOTE = 125903, 125902  # the artifact's two A/B activities, two experiences each
CLICK = {TARGETING: "mA0vg/B/tr+Xc8w5W5hKZg==", QUOTE: "sut3ennRTzxjSDUsIWzO4Q=="}  # one per activity


def _display_tokens(path: Path) -> dict[str, tuple[int, int]]:
    """Each option token of the artifact file, read here independently: (activity id, experience id)."""
    raw = json.loads(path.read_text())
    found = {}
    for rules in raw["rules"]["mboxes"].values():
        for rule in rules:
            for option in rule["consequence"]["options"]:
                found[option["eventToken"]] = (rule["meta"]["activity.id"], rule["meta"]["experience.id"])
    return found


DISPLAY = _display_tokens(VEC_AB)


def _engine(path: Path = VEC_AB) -> DecisioningEngine:
    return DecisioningEngine(load_artifact(path), client_code="someClientId")


@pytest.fixture
def edge() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real edge over the VEC_AB artifact, and what it owes Target (the execute impressions) as sent."""
    owed: list[dict[str, Any]] = []
    with serve(create_edge_app(_engine(), on_notifications=owed.append)) as url:
        yield url, owed


def _note(kind: str, tokens: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"n-{time.monotonic_ns()}",
        "type": kind,
        "timestamp": int(time.time() * 1000),
        "tokens": tokens,
        **extra,
    }


def _post(base: str, ids: dict[str, Any] | None, **parts: Any) -> dict[str, Any]:
    body = {"context": CONTEXT, **({"id": ids} if ids is not None else {}), **parts}
    reply = httpx.post(base + DELIVERY, json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _page_view(base: str, ids: dict[str, Any]) -> dict[str, Any]:
    return _post(base, ids, execute={"pageLoad": {"parameters": {"greg": "correct"}}})


def _rows(base: str) -> dict[tuple[int, int], dict[str, Any]]:
    report = httpx.get(base + "/report", timeout=10).json()
    return {(a["id"], e["id"]): e for a in report["activities"] for e in a["experiences"]}


def _seen(owed: list[dict[str, Any]], tnt_id: str) -> dict[int, int]:
    """activity → experience, from the display tokens the edge owed Target for this visitor."""
    seen = {}
    for request in owed:
        if request["id"].get("tntId") == tnt_id:
            for note in request.get("notifications", ()):
                if note["type"] != "display":
                    continue
                for token in note["tokens"]:
                    activity, experience = DISPLAY[token]
                    seen[activity] = experience
    return seen


def test_an_execute_counts_impressions_and_a_click_counts_for_the_experience_the_visitor_saw(
    edge: tuple[str, list[dict[str, Any]]],
) -> None:
    base, owed = edge
    answer = _page_view(base, {"tntId": "visitor3.28_0"})
    assert {m["eventToken"] for m in answer["execute"]["pageLoad"]["metrics"]} == set(CLICK.values())
    seen = _seen(owed, "visitor3.28_0")
    assert set(seen) == {TARGETING, QUOTE}
    click = _note("click", [CLICK[TARGETING]], pageLoad={})
    _post(base, {"tntId": "visitor3.28_0"}, notifications=[click])

    (received,) = httpx.get(base + "/notifications").json()
    assert received["notification"] == click
    assert received["id"] == {"tntId": "visitor3.28_0"}
    assert isinstance(received["receivedAt"], int)
    rows = _rows(base)
    assert len(rows) == 4  # every experience of the artifact, zeros included
    clicked = rows[TARGETING, seen[TARGETING]]
    assert (clicked["visitors"], clicked["impressions"], clicked["clicks"], clicked["conversions"]) == (1, 1, 1, 0)
    other = rows[TARGETING, 1 - seen[TARGETING]]
    assert (other["visitors"], other["impressions"], other["clicks"]) == (0, 0, 0)
    quote = rows[QUOTE, seen[QUOTE]]
    assert (quote["visitors"], quote["impressions"], quote["clicks"]) == (1, 1, 0)


def test_display_notifications_count_once_per_impression_id_and_unknown_tokens_count_for_nothing(
    edge: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = edge
    ids = {"tntId": "visitor0.28_0"}
    answer = _post(base, ids, prefetch={"pageLoad": {"parameters": {"greg": "correct"}}})
    tokens = [o["eventToken"] for o in answer["prefetch"]["pageLoad"]["options"]]
    assert len({DISPLAY[token] for token in tokens}) == 2  # one experience of each activity (several rules each)
    assert all(row["impressions"] == 0 for row in _rows(base).values())  # prefetched, not displayed yet
    shown = _note("display", tokens, impressionId="imp-1", pageLoad={})
    again = {**_note("display", tokens, pageLoad={}), "impressionId": "imp-1"}
    later = _note("display", tokens, impressionId="imp-2", pageLoad={})
    forged = _note("display", ["not-a-token-of-this-artifact"], pageLoad={})
    _post(base, ids, notifications=[shown, again, later, forged])
    rows = _rows(base)
    for token in tokens:
        assert rows[DISPLAY[token]]["impressions"] == 2
        assert rows[DISPLAY[token]]["visitors"] == 1
    report = httpx.get(base + "/report").json()
    assert report["totals"] == {"requests": 2, "notifications": 4, "unattributed": 1}


def test_conversions_count_for_every_experience_the_visitor_saw_once_per_order(
    edge: tuple[str, list[dict[str, Any]]],
) -> None:
    base, owed = edge
    ids = {"tntId": "visitor2.28_0"}
    _page_view(base, ids)
    seen = _seen(owed, "visitor2.28_0")
    order = {"id": "order-1", "total": 42.5, "purchasedProductIds": ["tent-2p"]}
    converted = _note("display", [], mbox={"name": "orderConfirmPage"}, order=order)
    _post(base, ids, notifications=[converted, {**converted, "id": "again"}])
    _post(base, {"tntId": "never-seen"}, notifications=[{**converted, "id": "stranger"}])
    rows = _rows(base)
    for activity, experience in seen.items():
        assert (rows[activity, experience]["conversions"], rows[activity, experience]["revenue"]) == (1, 42.5)
        assert rows[activity, experience]["conversionRate"] == 1.0
        assert rows[activity, 1 - experience]["conversions"] == 0
    # An mbox executed under the conversion name converts too (getOffer on the confirmation page), no order needed.
    _post(base, ids, execute={"mboxes": [{"name": "orderConfirmPage", "index": 0}]})
    assert all(_rows(base)[pair]["conversions"] == 2 for pair in seen.items())
    # A notification for another mbox, with no order, is not a conversion.
    _post(base, ids, notifications=[_note("display", [], mbox={"name": "some-mbox"})])
    assert all(_rows(base)[pair]["conversions"] == 2 for pair in seen.items())
    assert httpx.get(base + "/report").json()["totals"]["unattributed"] == 2  # the stranger's, some-mbox


def test_the_conversion_mboxes_are_configurable() -> None:
    recorder = EdgeRecorder(conversion_mboxes=["thank-you"])
    with serve(create_edge_app(_engine(), recorder=recorder)) as base:
        ids = {"tntId": "visitor1.28_0"}
        _page_view(base, ids)
        _post(base, ids, notifications=[_note("display", [], mbox={"name": "orderConfirmPage"})])
        assert sum(row["conversions"] for row in _rows(base).values()) == 0
        _post(base, ids, notifications=[_note("display", [], mbox={"name": "thank-you"})])
        assert sum(row["conversions"] for row in _rows(base).values()) == 2  # both activities' experiences
        assert httpx.get(base + "/report").json()["conversionMboxes"] == ["thank-you"]


def test_a_visitor_is_one_visitor_under_all_its_ids_and_requests_list_them(
    edge: tuple[str, list[dict[str, Any]]],
) -> None:
    base, owed = edge
    ecid = "08612452381766932593549873413590416262"
    customers = [{"id": "u-1", "integrationCode": "shop", "authenticatedState": "authenticated"}]
    _page_view(base, {"tntId": "visitor3.28_0"})
    seen = _seen(owed, "visitor3.28_0")
    signed_in = {"tntId": "visitor3.34_0", "marketingCloudVisitorId": ecid, "customerIds": customers}
    _post(base, signed_in, notifications=[_note("click", [CLICK[TARGETING]], pageLoad={})])
    analytics = {"logging": "server_side", "supplementalDataId": "0123456789ABCDEF-0123456789ABCDEF"}
    _post(  # another device of the same person: only its ECID in common; its click still finds the experience
        base,
        {"marketingCloudVisitorId": ecid, "thirdPartyId": "crm-7"},
        notifications=[_note("click", [CLICK[QUOTE]], pageLoad={})],
        experienceCloud={"analytics": analytics},
    )
    rows = _rows(base)
    assert rows[TARGETING, seen[TARGETING]]["visitors"] == 1
    assert (rows[TARGETING, seen[TARGETING]]["impressions"], rows[TARGETING, seen[TARGETING]]["clicks"]) == (1, 1)
    assert (rows[QUOTE, seen[QUOTE]]["visitors"], rows[QUOTE, seen[QUOTE]]["clicks"]) == (1, 1)
    listed = httpx.get(base + "/requests").json()
    assert [r["id"] for r in listed] == [
        {"tntId": "visitor3.28_0"},
        signed_in,
        {"marketingCloudVisitorId": ecid, "thirdPartyId": "crm-7"},
    ]
    assert listed[0]["execute"] == {"pageLoad": True, "mboxes": []}
    assert listed[2]["notifications"] == 1
    assert listed[2]["supplementalDataId"] == analytics["supplementalDataId"]
    two = _page_view(base, {"tntId": "visitor2.28_0"})
    assert two["id"] == {"tntId": "visitor2.28_0"}
    assert sum(row["visitors"] for (activity, _), row in _rows(base).items() if activity == TARGETING) == 2


def test_what_is_kept_is_bounded_newest_last() -> None:
    with serve(create_edge_app(_engine(), recorder=EdgeRecorder(keep=3))) as base:
        for i in range(5):
            _post(base, {"tntId": f"v{i}"}, notifications=[{**_note("display", [], mbox={"name": "x"}), "id": f"n{i}"}])
        assert [n["notification"]["id"] for n in httpx.get(base + "/notifications").json()] == ["n2", "n3", "n4"]
        assert [r["id"]["tntId"] for r in httpx.get(base + "/requests").json()] == ["v2", "v3", "v4"]
        assert httpx.get(base + "/report").json()["totals"]["notifications"] == 5


def test_a_token_handed_out_still_counts_after_the_artifact_changes() -> None:
    recorder = EdgeRecorder()
    before, after = _engine(), _engine(ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json")
    ids = {"tntId": "visitor0.28_0"}
    request = {"context": CONTEXT, "id": ids, "prefetch": {"pageLoad": {"parameters": {"greg": "correct"}}}}
    decision = before.decide(request)
    recorder.record(request, decision, before.artifact)
    token = decision.response["prefetch"]["pageLoad"]["options"][0]["eventToken"]
    notify = {"context": CONTEXT, "id": ids, "notifications": [_note("display", [token])]}
    recorder.record(notify, after.decide(notify), after.artifact)
    assert recorder.totals["unattributed"] == 0
    counted = {(e.activity_id, e.experience_id): t.impressions for e, t in recorder.tallies().items() if t.impressions}
    assert counted == {DISPLAY[token]: 1}


def test_bad_recorder_options_are_refused() -> None:
    with pytest.raises(TypeError, match="not one string"):
        EdgeRecorder(conversion_mboxes="orderConfirmPage")
    with pytest.raises(ValueError, match="at least 1"):
        EdgeRecorder(keep=0)


def test_a_notification_token_that_is_not_a_string_is_a_400(edge: tuple[str, list[dict[str, Any]]]) -> None:
    base, _ = edge
    body = {"context": CONTEXT, "notifications": [_note("click", [{"x": 1}])]}
    reply = httpx.post(base + DELIVERY, json=body)
    assert reply.status_code == 400
    assert "tokens" in reply.json()["message"]
    assert httpx.get(base + "/notifications").json() == []


def test_the_report_is_json_or_an_escaped_html_page(tmp_path: Path) -> None:
    raw = json.loads(VEC_AB.read_text())
    hostile = '<script>alert("a")</script>'
    for rule in raw["rules"]["mboxes"]["target-global-mbox"]:
        rule["meta"]["activity.name"] = hostile
        rule["meta"]["experience.name"] = '"><img src=x onerror=alert(1)>'
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(raw))
    owed: list[dict[str, Any]] = []
    with serve(create_edge_app(_engine(path), on_notifications=owed.append)) as base:
        _page_view(base, {"tntId": "visitor3.28_0"})
        _post(base, {"tntId": "visitor3.28_0"}, notifications=[_note("click", [CLICK[TARGETING]])])
        experience = _seen(owed, "visitor3.28_0")[TARGETING]
        page = httpx.get(base + "/report", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.headers["content-type"].startswith("text/html")
        assert "<script>" not in page.text
        assert "<img" not in page.text
        assert "&lt;script&gt;alert(&quot;a&quot;)&lt;/script&gt;" in page.text
        row = re.search(rf'<tr data-activity="{TARGETING}" data-experience="{experience}">(.*?)</tr>', page.text)
        assert row is not None
        assert '<td class="visitors">1</td><td class="impressions">1</td><td class="clicks">1</td>' in row.group(1)
        assert httpx.get(base + "/report?format=html").headers["content-type"].startswith("text/html")
        for asked in ({}, {"Accept": "application/json"}, {"Accept": "application/json, text/html"}):
            assert httpx.get(base + "/report", headers=asked).json()["activities"][0]["name"] == hostile
        forced = httpx.get(base + "/report?format=json", headers={"Accept": "text/html"})
        assert forced.json()["totals"]["requests"] == 2
        assert forced.headers["cache-control"] == "no-store"
        bad = httpx.get(base + "/report?format=xml")
        assert bad.status_code == 400
        assert "format" in bad.json()["message"]


def test_before_any_request_the_report_lists_the_artifacts_experiences_at_zero() -> None:
    with serve(create_edge_app(_engine())) as base:
        rows = _rows(base)
        assert set(rows) == {(TARGETING, 0), (TARGETING, 1), (QUOTE, 0), (QUOTE, 1)}
        assert all(row["visitors"] == row["clicks"] == 0 for row in rows.values())
        assert "No activities yet" not in httpx.get(base + "/report?format=html").text
    blank = DecisioningEngine(load_artifact(ARTIFACTS / "TEST_ARTIFACT_BLANK.json"), client_code="c")
    with serve(create_edge_app(blank)) as base:
        assert "No activities yet" in httpx.get(base + "/report?format=html").text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_line_edge_records_and_a_client_that_leaves_is_not_an_error() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "target_middleware.edge", "--artifact", str(VEC_AB), "--port", str(port)]
    command += ["--client", "someClientId", "--keep", "2", "--conversion-mbox", "thank-you"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/report", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the edge did not start"
                time.sleep(0.1)
        # A client that gives up mid-request (its time budget spent): headers and half a body, then gone.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /rest/v1/delivery HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
                b"Content-Length: 400\r\n\r\n" + b'{"context": {"channel": "web"}'
            )
            time.sleep(0.2)
        ids = {"tntId": "visitor3.28_0"}
        _page_view(base, ids)
        for name in ("orderConfirmPage", "thank-you", "thank-you"):
            _post(base, ids, notifications=[_note("display", [], mbox={"name": name})])
        assert [n["notification"]["mbox"]["name"] for n in httpx.get(base + "/notifications").json()] == [
            "thank-you",
            "thank-you",
        ]
        report = httpx.get(base + "/report").json()
        assert report["conversionMboxes"] == ["thank-you"]
        assert sum(e["conversions"] for a in report["activities"] for e in a["experiences"]) == 4
    finally:
        process.terminate()
        process.wait(10)
        log = process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    assert "ClientDisconnect" not in log
    assert "ERROR" not in log
    assert "Traceback" not in log


def test_the_command_line_refuses_keep_below_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "target_middleware.edge", "--artifact", str(VEC_AB), "--keep", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--keep must be at least 1" in done.stderr
