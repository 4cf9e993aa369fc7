from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from target_middleware.decisioning import (
    ArtifactError,
    ArtifactSource,
    DecisioningEngine,
    DecisioningNotReady,
    artifact_url,
)

URL = "https://assets.adobetarget.com/acme/production/v1/rules.json"


def _payload(version: str = "1.0.0", content: str = "A") -> bytes:
    return json.dumps(
        {
            "version": version,
            "meta": {"clientCode": "acme"},
            "localMboxes": ["m"],
            "rules": {
                "mboxes": {
                    "m": [
                        {
                            "ruleKey": "1",
                            "activityId": 1,
                            "condition": True,
                            "consequence": {"name": "m", "options": [{"type": "html", "content": content}]},
                        }
                    ]
                }
            },
        }
    ).encode()


def test_cdn_url_layout() -> None:
    assert artifact_url("acme") == URL
    assert artifact_url("acme", "staging", "tok") == ("https://assets.adobetarget.com/acme/staging/v1/tok/rules.json")


def test_from_file_and_payload(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(_payload())
    assert ArtifactSource.from_file(path).artifact is not None
    assert ArtifactSource.from_payload(json.loads(_payload())).artifact is not None
    with pytest.raises(ArtifactError):
        ArtifactSource.from_payload(json.loads(_payload("2.0.0")))


def _content(engine: DecisioningEngine) -> str:
    request = {"context": {"channel": "web"}, "execute": {"mboxes": [{"name": "m", "index": 0}]}}
    return str(engine.decide(request).response["execute"]["mboxes"][0]["options"][0]["content"])


async def test_url_polling_with_etag_keeps_the_last_good_artifact() -> None:
    replies = iter(
        [
            httpx.Response(200, content=_payload(content="v1"), headers={"ETag": '"1"'}),
            httpx.Response(304),
            httpx.Response(500),
            httpx.Response(200, content=b"{broken"),
            httpx.Response(200, content=_payload("7.0.0")),
            httpx.Response(200, content=_payload(content="v2"), headers={"ETag": '"2"'}),
        ]
    )
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("If-None-Match"))
        return next(replies)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    source = ArtifactSource.from_url(URL, interval=0, client=client)
    engine = DecisioningEngine(source, client_code="acme")
    with pytest.raises(DecisioningNotReady):
        engine.decide({"context": {"channel": "web"}})
    async with source:
        assert _content(engine) == "v1"
        assert await source.refresh() is False  # 304
        for _ in range(3):  # 500, bad JSON, unknown major version
            assert await source.refresh() is False
            assert _content(engine) == "v1"
        assert await source.refresh() is True
        assert _content(engine) == "v2"
    assert seen == [None, '"1"', '"1"', '"1"', '"1"', '"1"']
    assert source.trace_info()["artifactRetrievalCount"] == 2
    await client.aclose()


async def test_background_polling_refreshes() -> None:
    versions = iter(["v1", "v2", "v3", "v4", "v5"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_payload(content=next(versions, "v5")))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    source = ArtifactSource.from_url(URL, interval=0.01, client=client)
    engine = DecisioningEngine(source, client_code="acme")
    await source.start()
    try:
        for _ in range(200):
            if _content(engine) != "v1":
                break
            await asyncio.sleep(0.01)
        assert _content(engine) != "v1"
        assert source.trace_info()["pollingHalted"] is False
    finally:
        await source.aclose()
        await client.aclose()
    assert source.trace_info()["pollingHalted"] is True


async def test_failed_first_download_does_not_raise() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(404)))
    async with ArtifactSource.from_url(URL, interval=0, client=client) as source:
        assert source.artifact is None
    await client.aclose()


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        ArtifactSource(url="file:///etc/passwd")


async def test_a_failed_first_download_is_retried_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    import target_middleware.decisioning.source as source_module

    monkeypatch.setattr(source_module, "_FIRST_RETRY", 0.01)
    replies = iter([httpx.Response(503), httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(replies, httpx.Response(200, content=_payload(content="late")))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    source = ArtifactSource.from_url(URL, interval=300, client=client)
    engine = DecisioningEngine(source, client_code="acme")
    async with source:
        assert source.artifact is None
        for _ in range(300):
            if source.artifact is not None:
                break
            await asyncio.sleep(0.01)
        assert _content(engine) == "late"
    await client.aclose()
