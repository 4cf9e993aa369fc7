"""The bundled artifact's activities, decided by Target's on-device engine as the demo decides them."""

from __future__ import annotations

import uuid
from collections import Counter

from demo_app.target import ARTIFACT, GLOBAL_MBOX, client_for, settings_from_env
from target_middleware import Mbox, OffersResult, PageContext, Visitor, load_artifact

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def _decide(
    mboxes: list[Mbox | str], url: str, *, tnt_id: str | None = None, agent: str = CHROME
) -> OffersResult:
    client = client_for(settings_from_env({}))
    visitor = Visitor(session_id=uuid.uuid4().hex, tnt_id=tnt_id or uuid.uuid4().hex)
    async with client:
        return await client.get_offers(mboxes, visitor=visitor, page=PageContext(url=url, user_agent=agent))


def _experiences(result: OffersResult) -> set[str]:
    return {str(t.get("experience.name")) for t in result.response_tokens}


def test_the_artifact_is_a_valid_on_device_artifact() -> None:
    artifact = load_artifact(ARTIFACT)
    assert artifact.version.startswith("1.")
    assert artifact.global_mbox == GLOBAL_MBOX
    assert {"target-global-mbox", "product-detail", "category-promo", "summer-sale", "deals-config"} <= set(
        artifact.local_mboxes
    )


async def test_the_home_ab_test_splits_visitors_about_half_and_half() -> None:
    seen: Counter[str] = Counter()
    client = client_for(settings_from_env({}))
    async with client:
        for _ in range(1000):
            visitor = Visitor(session_id=uuid.uuid4().hex, tnt_id=uuid.uuid4().hex)
            result = await client.get_offers(
                [GLOBAL_MBOX], visitor=visitor, page=PageContext(url="http://127.0.0.1:8000/", user_agent=CHROME)
            )
            names = _experiences(result)
            assert len(names) == 1, names  # exactly one experience of the A/B activity
            seen.update(names)
    assert set(seen) == {"Experience A: Winter sale", "Experience B: Free shipping"}
    assert 430 <= seen["Experience A: Winter sale"] <= 570  # 50/50 within ~4.5 standard deviations


async def test_a_visitor_stays_in_its_experience() -> None:
    tnt_id = uuid.uuid4().hex
    first = await _decide([GLOBAL_MBOX], "http://127.0.0.1:8000/", tnt_id=tnt_id)
    for _ in range(5):
        again = await _decide([GLOBAL_MBOX], "http://127.0.0.1:8000/", tnt_id=tnt_id)
        assert _experiences(again) == _experiences(first)


async def test_the_experience_targeting_activity_triggers_on_its_url_parameter_or_browser() -> None:
    plain = await _decide([GLOBAL_MBOX], "http://127.0.0.1:8000/products/tent-2p")
    campaign = await _decide([GLOBAL_MBOX], "http://127.0.0.1:8000/products/tent-2p?utm_campaign=winter")
    firefox = await _decide([GLOBAL_MBOX], "http://127.0.0.1:8000/products/tent-2p", agent=FIREFOX)
    assert _experiences(plain) == set()
    assert _experiences(campaign) == {"Winter newsletter readers"}
    assert _experiences(firefox) == {"Firefox visitors"}


async def test_product_offers_follow_the_params_from_the_path() -> None:
    tent = await _decide(
        [Mbox("product-detail", {"productCategory": "tents", "productName": "X", "stock": 3})],
        "http://127.0.0.1:8000/products/tent-2p",
    )
    stove = await _decide(
        [Mbox("product-detail", {"productCategory": "kitchen", "stock": 3})], "http://127.0.0.1:8000/products/stove-ti"
    )
    sold_out = await _decide(
        [Mbox("product-detail", {"productCategory": "kitchen", "stock": 0})], "http://127.0.0.1:8000/products/x"
    )
    assert _experiences(tent) == {"Tent shoppers"}
    assert _experiences(stove) == {"Everyone"}
    assert _experiences(sold_out) == set()
