"""The experiment loop over real HTTP: the demo decides server-side against the local edge, which counts."""

from __future__ import annotations

import json
import re

import httpx

from demo_app.shopper import ecid_from_cookies
from demo_app.target import settings_from_env
from tests.demo.loop import HERO_ACTIVITY, demo_against_local_edge, hero_tokens, tnt_id_of

ORG = settings_from_env({}).organization_id


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


def test_the_edge_gets_the_ecid_the_customer_id_and_the_page_views_sdid() -> None:
    with demo_against_local_edge() as loop, httpx.Client(base_url=loop.shop) as visitor:
        page = visitor.get("/")
        ecid = ecid_from_cookies(dict(visitor.cookies), ORG)
        assert ecid is not None
        island = re.search(r'<script type="application/json" id="target-analytics">(.*?)</script>', page.text)
        assert island is not None
        sdid = json.loads(island.group(1))["supplementalDataId"]
        assert re.fullmatch(r"[0-7][0-9A-F]{15}-[0-7][0-9A-F]{15}", sdid)
        visitor.get("/login", params={"user": "alice"})
        again = visitor.get("/deals")
        island = re.search(r'<script type="application/json" id="target-analytics">(.*?)</script>', again.text)
        assert island is not None
        debug = visitor.get("/_target", params={"path": "/"}).text  # its decision is a page view of its own
        shown = re.search(r'<code class="sdid">([0-9A-F-]{33})</code>', debug)
        assert shown is not None
        assert f'<code class="ecid">{ecid}</code>' in debug
        assert '<code class="customer-id">alice</code>' in debug
        requests = httpx.get(loop.edge + "/requests").json()
    first, last, debugged = requests
    assert debugged["supplementalDataId"] == shown.group(1)
    assert debugged["id"]["customerIds"] == last["id"]["customerIds"]
    assert first["id"]["marketingCloudVisitorId"] == ecid
    assert first["supplementalDataId"] == sdid  # the page's Analytics hit and Target's request stitch together
    assert "customerIds" not in first["id"]
    assert last["id"]["marketingCloudVisitorId"] == ecid
    alice = {"id": "alice", "integrationCode": "trailhead", "authenticatedState": "authenticated"}
    assert last["id"]["customerIds"] == [alice]
    assert last["supplementalDataId"] == json.loads(island.group(1))["supplementalDataId"] != sdid  # per page view
    assert first["id"]["tntId"] == last["id"]["tntId"]
