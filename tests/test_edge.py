from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from target_middleware.decisioning import ArtifactSource, DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from tests.decisioning.conformance import ARTIFACTS, CASES_BY_ID, Case, check, engine_for, run
from tests.servers import serve

CASES = list(CASES_BY_ID.values())
DELIVERY = "/rest/v1/delivery"


def _normalized(value: Any, *, drop: frozenset[str] = frozenset()) -> Any:
    """Without what differs between two runs by design: fresh uuids and retrieval times."""
    volatile = {
        "impressionId",
        "artifactLastRetrieved",
        "timestamp",
        "current_timestamp",
        "current_time",
        "current_day",
        *drop,
    }
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items() if k not in volatile}
        if isinstance(out.get("notifications"), list):
            out["notifications"] = [{k: v for k, v in n.items() if k != "id"} for n in out["notifications"]]
        return out
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


@pytest.fixture(scope="module")
def suites_edge() -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """One real server; every conformance case's engine mounted under /case/<id>."""
    if not CASES:
        pytest.skip("conformance suites not found")
    sent: dict[str, list[dict[str, Any]]] = {}
    mounts = []
    for case in CASES:
        sink = sent.setdefault(case.id, [])
        # Adobe's suites are the SDKs' engine, which mints no tntId (the edge gives an ECID-only visitor one).
        edge = create_edge_app(engine_for(case), on_notifications=sink.append, mint_tnt_id=False)
        mounts.append(Mount(f"/case/{case.id}", app=edge))
    with serve(Starlette(routes=mounts)) as base:
        yield base, sent


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_edge_answers_suites_like_the_engine(
    case: Case, suites_edge: tuple[str, dict[str, list[dict[str, Any]]]]
) -> None:
    base, sent = suites_edge
    request = case.test["input"]["request"]
    session = case.test["input"].get("sessionId")
    async with httpx.AsyncClient(base_url=base) as client:
        reply = await client.post(
            f"/case/{case.id}{DELIVERY}", json=request, params={"sessionId": session} if session else None
        )
    assert reply.status_code == 200, reply.text
    over_http = reply.json()
    in_process, _ = run(case)
    drop = frozenset() if "requestId" in request else frozenset({"requestId"})
    assert _normalized(over_http, drop=drop) == _normalized(in_process, drop=drop)
    notes = sent[case.id]
    assert check(case, over_http, notes[-1] if notes else None) == []


@pytest.fixture
def app() -> Starlette:
    artifact = load_artifact(ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json") if ARTIFACTS.is_dir() else None
    if artifact is None:
        pytest.skip("conformance artifacts not found")
    return create_edge_app(DecisioningEngine(artifact, client_code="someClientId"))


async def _post(app: Starlette, body: Any, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://edge") as client:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await client.post(DELIVERY, content=content, **kwargs)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"{not json", "JSON"),
        ([], "request"),
        ({}, "context"),
        ({"context": {"channel": "tv"}}, "channel"),
        ({"context": {"channel": "web"}, "execute": {"mboxes": [{"index": 1}]}}, "name"),
        ({"context": {"channel": "web"}, "execute": {"mboxes": [{"name": "a", "index": "1"}]}}, "index"),
        ({"context": {"channel": "web"}, "id": {"tntId": "x" * 129}}, "tntId"),
        ({"context": {"channel": "web"}, "execute": {"pageLoad": {"parameters": {"profile.a": "1"}}}}, "profile"),
        ({"context": {"channel": "web"}, "notifications": [{"id": "n", "type": "view", "timestamp": 1}]}, "type"),
    ],
)
async def test_bad_requests_get_400_with_status_and_message(app: Starlette, body: Any, where: str) -> None:
    reply = await _post(app, body)
    assert reply.status_code == 400
    error = reply.json()
    assert error["status"] == 400
    assert where in error["message"]


async def test_bad_session_id_is_rejected(app: Starlette) -> None:
    reply = await _post(app, {"context": {"channel": "web"}}, params={"sessionId": "a b"})
    assert reply.status_code == 400


async def test_text_plain_body_as_atjs_sends_it(app: Starlette) -> None:
    body = {
        "context": {"channel": "web"},
        "id": {"tntId": "abc.28_0"},
        "execute": {"mboxes": [{"name": "mbox-magician", "index": 0}]},
    }
    reply = await _post(app, body, headers={"Content-Type": "text/plain", "Origin": "https://shop.example"})
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == "https://shop.example"
    assert reply.json()["execute"]["mboxes"][0]["options"][0]["type"] == "json"


async def test_visitor_without_id_gets_a_tnt_id_and_notifications_are_echoed(app: Starlette) -> None:
    body = {
        "context": {"channel": "web"},
        "notifications": [{"id": "n1", "type": "display", "timestamp": 1, "mbox": {"name": "x"}}],
    }
    reply = await _post(app, body)
    payload = reply.json()
    assert payload["id"]["tntId"]
    assert payload["notifications"] == [{"id": "n1"}]


@pytest.mark.parametrize(
    ("ids", "minted"),
    [
        ({"marketingCloudVisitorId": "08612452381766932593549873413590416262"}, True),  # the ECID allocates
        ({"thirdPartyId": "crm-7"}, False),  # a tntId would take over allocation on the next call
        ({"tntId": "abc.28_0"}, False),
    ],
)
async def test_a_tnt_id_is_minted_unless_it_would_move_the_visitor(
    app: Starlette, ids: dict[str, str], minted: bool
) -> None:
    body = {"context": {"channel": "web"}, "id": ids, "execute": {"mboxes": [{"name": "mbox-magician", "index": 0}]}}
    answered = (await _post(app, body)).json()["id"]
    assert {k: v for k, v in answered.items() if k != "tntId"} == {k: v for k, v in ids.items() if k != "tntId"}
    if minted:
        assert re.fullmatch(r"[0-9a-f]{32}", answered["tntId"])
    else:
        assert answered.get("tntId") == ids.get("tntId")


async def test_503_until_the_artifact_loads() -> None:
    app = create_edge_app(DecisioningEngine(ArtifactSource(url="https://cdn.invalid/rules.json"), client_code="c"))
    reply = await _post(app, {"context": {"channel": "web"}})
    assert reply.status_code == 503
    assert set(reply.json()) == {"status", "message"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_command_line_serves_an_artifact_file() -> None:
    if not ARTIFACTS.is_dir():
        pytest.skip("conformance artifacts not found")
    port = _free_port()
    artifact = str(ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json")
    command = [
        sys.executable,
        "-m",
        "target_middleware.edge",
        "--artifact",
        artifact,
        "--client",
        "someClientId",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = {
            "context": {"channel": "web"},
            "id": {"tntId": "338e3c1e51f7416a8e1ccba4f81acea0.28_0"},
            "execute": {"mboxes": [{"name": "mbox-magician", "index": 2}]},
        }
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}{DELIVERY}", json=body, timeout=30)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the edge did not start"
                time.sleep(0.1)
        assert reply.status_code == 200
        (mbox,) = reply.json()["execute"]["mboxes"]
        assert mbox["options"][0]["content"] == {"doMagic": True, "importantValue": 150}
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr:
            process.stderr.close()


def test_command_line_rejects_an_unknown_major_version() -> None:
    if not ARTIFACTS.is_dir():
        pytest.skip("conformance artifacts not found")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "target_middleware.edge",
            "--artifact",
            str(ARTIFACTS / "TEST_ARTIFACT_UNSUPPORTED.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unsupported artifact version 99.0.0" in done.stderr
