"""TargetClient(artifact=...): on-device decisioning from a rules artifact, with no decider written by hand."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route

from target_middleware import TargetClient, Visitor
from target_middleware.delivery import LocalDecisionError, OffersRequest
from target_middleware.testing import StaticDecider
from tests.datafiles import ARTIFACTS
from tests.servers import serve

ARTIFACT = ARTIFACTS
AB_SIMPLE = ARTIFACT / "TEST_ARTIFACT_AB_SIMPLE.json"


async def test_an_artifact_file_decides_in_process() -> None:
    owed: list[object] = []
    async with TargetClient(
        "targettesting", "O@AdobeOrg", decisioning="on-device", artifact=str(AB_SIMPLE), on_notifications=owed.extend
    ) as client:
        result = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]))
    [mbox] = result.mboxes
    assert mbox.name == "mbox-magician"
    assert mbox.options
    assert mbox.options[0].type.value == "json"
    assert owed  # the display notification an on-device decision owes Target


async def test_an_artifact_url_is_fetched_in_the_background_and_decides_once_loaded() -> None:
    async def rules(request: object) -> FileResponse:
        return FileResponse(AB_SIMPLE)

    with serve(Starlette(routes=[Route("/rules.json", rules)])) as url:
        client = TargetClient(
            "targettesting",
            "O@AdobeOrg",
            decisioning="on-device",
            artifact=f"{url}/rules.json",
            on_notifications=lambda n: None,
        )
        try:
            with pytest.raises(LocalDecisionError):
                await client.get_offers(OffersRequest(mboxes=["mbox-magician"]))  # not loaded yet: fails (open)
            for _ in range(100):
                await asyncio.sleep(0.05)
                try:
                    result = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]))
                    break
                except LocalDecisionError:
                    continue
            assert result.mboxes[0].options
        finally:
            await client.aclose()


def test_a_bad_artifact_or_both_decider_and_artifact_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "rules.json"
    bad.write_text('{"version": "99.0.0"}')
    with pytest.raises(ValueError, match="artifact"):
        TargetClient("acme", "O@AdobeOrg", decisioning="on-device", artifact=str(bad))
    with pytest.raises(ValueError, match="not both"):
        TargetClient("acme", "O@AdobeOrg", decisioning="on-device", artifact={}, decider=StaticDecider({}))


async def test_a_first_time_visitor_gets_a_tnt_id_and_keeps_its_experience() -> None:
    async with TargetClient(
        "targettesting", "O@AdobeOrg", decisioning="on-device", artifact=str(AB_SIMPLE), on_notifications=list
    ) as client:
        first = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]))
        assert first.visitor.tnt_id
        assert f"PC%23{first.visitor.tnt_id}" in first.mbox_cookie.value
        again = [
            await client.get_offers(OffersRequest(mboxes=["mbox-magician"]), visitor=first.visitor) for _ in range(5)
        ]
    assert {r.visitor.tnt_id for r in again} == {first.visitor.tnt_id}
    assert {str(r.mboxes[0].options[0].content) for r in again} == {str(first.mboxes[0].options[0].content)}


async def test_on_device_gives_a_visitor_with_an_ecid_a_tnt_id_but_allocates_on_the_ecid() -> None:
    ecid = "08612452381766932593549873413590416262"
    async with TargetClient("targettesting", "O@AdobeOrg", decisioning="on-device", artifact=str(AB_SIMPLE)) as client:
        with_ecid = Visitor(session_id="s1", marketing_cloud_visitor_id=ecid)
        first = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]), visitor=with_ecid)
        assert first.visitor.tnt_id is not None  # in the mbox cookie: the visitor's own for two years
        assert first.visitor.marketing_cloud_visitor_id == ecid
        for _ in range(5):  # another tntId each time, the same experience: the ECID allocates
            again = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]), visitor=with_ecid)
            assert again.mboxes[0].options[0].content == first.mboxes[0].options[0].content
        third_party = Visitor(session_id="s2", third_party_id="crm-7")
        alone = await client.get_offers(OffersRequest(mboxes=["mbox-magician"]), visitor=third_party)
        assert alone.visitor.tnt_id is None  # a tntId would take allocation from the thirdPartyId next time
