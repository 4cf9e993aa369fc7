"""An artifact URL that fails or serves garbage after a good one: decisions go on from the last good artifact,
each bad refresh is one warning, and polling carries on (a good artifact later is picked up)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from target_middleware import TargetClient
from target_middleware.decisioning.source import ArtifactSource
from target_middleware.delivery import OffersRequest
from tests.datafiles import ARTIFACTS
from tests.servers import serve

from .harness import assert_whole, call, page_app

AB_SIMPLE = ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json"

GARBAGE: dict[str, tuple[int, bytes]] = {
    "500": (500, b"oops"),
    "not-json": (200, b"<html>gateway</html>"),
    "truncated": (200, b'{"version":"1.0.0","rules":{"mboxes":'),
    "nested": (200, b"[" * 100_000 + b"]" * 100_000),
    "wrong-shape": (200, b'{"version": "1.0.0", "rules": 5}'),
    "array": (200, b"[1, 2, 3]"),
    "not-utf8": (200, b"\xff\xfe\x00garbage"),
}


@pytest.mark.parametrize("garbage", list(GARBAGE))
async def test_a_bad_refresh_keeps_the_last_good_artifact_and_polling_goes_on(
    garbage: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = AB_SIMPLE.read_bytes()
    served = {"status": 200, "body": good, "etag": '"1"'}

    async def rules(request: Request) -> Response:
        return Response(served["body"], status_code=served["status"], headers={"etag": served["etag"]})

    with serve(Starlette(routes=[Route("/rules.json", rules)])) as url:
        source = ArtifactSource.from_url(f"{url}/rules.json", interval=0.05)
        client = TargetClient(
            "targettesting", "O@AdobeOrg", decisioning="on-device", artifact=source, on_notifications=lambda n: None
        )
        try:
            await source.start()
            assert source.artifact is not None
            first = source.artifact
            served.update(status=GARBAGE[garbage][0], body=GARBAGE[garbage][1], etag='"2"')
            with caplog.at_level(logging.WARNING, logger="target_middleware"):
                for _ in range(600):  # two bad refreshes, however slow the machine (30 s at most)
                    await asyncio.sleep(0.05)
                    if sum(r.name.startswith("target_middleware") for r in caplog.records) >= 2:
                        break
            assert source.artifact is first
            warnings = [r for r in caplog.records if r.name.startswith("target_middleware")]
            assert warnings, "each bad refresh is logged"
            assert all("keeping the last good one" in r.getMessage() for r in warnings)
            result = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]))
            assert result.mboxes[0].options  # still deciding, from the last good artifact
            answer = await call(page_app(client))
            assert answer.status == 200
            assert_whole(answer)
            assert not source.trace_info()["pollingHalted"]
            served.update(status=200, body=good, etag='"3"')
            for _ in range(600):  # 30 s at most
                await asyncio.sleep(0.05)
                if source.artifact is not first:
                    break
            assert source.artifact is not first  # polling survived the garbage and picked up the new one
        finally:
            await client.aclose()
