"""The experiment loop over real HTTP: the demo decides server-side against the local edge, which counts."""

from __future__ import annotations

import re

import httpx

from tests.demo.loop import HERO_ACTIVITY, demo_against_local_edge, hero_tokens, tnt_id_of


def test_a_page_view_is_an_impression_of_the_visitors_experience_on_the_edges_report() -> None:
    experiences = {title: experience for experience, title in hero_tokens().values()}
    with demo_against_local_edge() as loop, httpx.Client(base_url=loop.shop) as visitor:
        page = visitor.get("/")
        title = re.search(r'<h1 class="hero-title">(.*?)</h1>', page.text)
        assert title is not None
        seen = experiences[title.group(1)]
        tnt_id = tnt_id_of(page.cookies["mbox"])
        visitor.get("/")
        report = loop.report()
        assert report[HERO_ACTIVITY, seen]["impressions"] == 2
        assert report[HERO_ACTIVITY, seen]["visitors"] == 1
        assert report[HERO_ACTIVITY, 1 - seen]["impressions"] == 0
        requests = httpx.get(loop.edge + "/requests").json()
        assert [r["id"].get("tntId") for r in requests] == [tnt_id, tnt_id]  # the edge minted it on the first
