"""The Web SDK hand-off: alloy's ``responseBody`` without what the server applied, the script that queues
``applyResponse`` after the page's ``configure`` (run in node), and the middleware against the local edge over
real HTTP, where each proposition's display is counted once."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import subprocess
import time
from typing import Any

import httpx
import pytest

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.edgenetwork import read_answer
from target_middleware.edgenetwork.handoff import EdgeExchange, alloy_script, response_body
from tests.datafiles import DATA
from tests.edgenetwork.test_transport import Paths, edge_client
from tests.servers import serve
from tests.test_handoff import HOST, PAGE, QUOTE, page_app

SCHEMA = "https://ns.adobe.com/personalization/"
SCRIPT = re.compile(r"<script[^>]*>\(function\(w,n,o\).*?</script>", re.DOTALL)
OPTIONS = re.compile(r'\(window,"alloy",(.*)\);</script>', re.DOTALL)


def spa_answer() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / "alloy" / "personalizationSpaResponse.json").read_text())
    return body


def exchange(body: dict[str, Any]) -> EdgeExchange:
    return EdgeExchange(read_answer(body), body)


def item(kind: str, selector: str = "#a", schema: str = "dom-action", **extra: Any) -> dict[str, Any]:
    return {"id": f"{kind}{selector}", "schema": SCHEMA + schema, "data": {"type": kind, "selector": selector, **extra}}


def proposition(pid: str, scope: str, *items: dict[str, Any], view: bool = False) -> dict[str, Any]:
    characteristics = {"eventToken": f"{pid}-token", **({"scopeType": "view"} if view else {})}
    return {"id": pid, "scope": scope, "scopeDetails": {"characteristics": characteristics}, "items": list(items)}


STATE = {"type": "state:store", "payload": [{"key": "kndctr_O_AdobeOrg_identity", "value": "123", "maxAge": 9}]}
HINT = {"type": "locationHint:result", "payload": [{"scope": "EdgeNetwork", "hint": "or2", "ttlSeconds": 1800}]}


def mixed() -> dict[str, Any]:
    """A page-wide proposition of four items, a partly applied one, a regional mbox, a view and a broken one."""
    return {
        "requestId": "r",
        "handle": [
            STATE,
            {
                "type": "personalization:decisions",
                "payload": [
                    proposition(
                        "full",
                        "__view__",
                        item("setHtml", "#hero", content="Sale"),
                        item("click", "#cta"),
                        item("redirect", schema="redirect-item", content="https://elsewhere.example/"),
                    ),
                    proposition(
                        "part", "__view__", item("setHtml", "#a", content="1"), item("setText", "#b", content="2")
                    ),
                    proposition("hero", "hero", item("html", schema="html-content-item", content="<b>x</b>")),
                    proposition("cart", "cart", item("setHtml", "#cart", content="in cart"), view=True),
                    proposition("control", "__view__", {"id": "d", "schema": SCHEMA + "default-content-item"}),
                    {"id": "broken", "scope": "__view__"},
                ],
            },
            HINT,
        ],
    }


# -- responseBody ------------------------------------------------------------------------------------------------


def test_what_the_server_applied_leaves_the_answer_and_views_stay() -> None:
    body = spa_answer()
    edge = exchange(body)
    everything = set(edge.answer.sources)
    assert everything == {(0, 0)}  # the page-wide setHtml: option 0, action 0
    handed, counted = response_body(edge, everything, server_clicks=False)
    decisions = next(h for h in handed["handle"] if h["type"] == "personalization:decisions")
    assert [p["scope"] for p in decisions["payload"]] == ["products", "cart"]  # views as they came
    assert decisions["payload"] == body["handle"][1]["payload"][1:]
    assert [h for h in handed["handle"] if h["type"] != "personalization:decisions"] == [
        h for h in body["handle"] if h["type"] != "personalization:decisions"
    ]  # identity, location hint, state: alloy shares the visitor
    assert handed["requestId"] == body["requestId"]
    assert counted == set()  # alloy renders nothing of the page load: the server counts it


def test_nothing_applied_leaves_alloy_the_page_load_and_its_display() -> None:
    body = spa_answer()
    handed, counted = response_body(exchange(body), set(), server_clicks=False)
    assert handed == body
    assert counted == {(1, 0)}


def test_applied_redirect_and_click_items_leave_and_regional_mboxes_stay_on_the_server() -> None:
    body = mixed()
    edge = exchange(body)
    # Page-load options: 0 is "full"'s redirect, 1 its setHtml, 2 "part"'s two actions. The server applied
    # "full"'s setHtml and part's first action.
    assert edge.answer.sources == {(0, -1): (1, 0, 2), (1, 0): (1, 0, 0), (2, 0): (1, 1, 0), (2, 1): (1, 1, 1)}
    applied = {(1, 0), (2, 0)}
    handed, counted = response_body(edge, applied, server_clicks=False)
    payload = handed["handle"][1]["payload"]
    by_id = {p["id"]: p for p in payload}
    assert list(by_id) == ["full", "part", "cart", "control"]  # no regional mbox, no broken proposition
    assert [i["data"]["type"] for i in by_id["full"]["items"]] == ["click"]  # alloy owns the clicks
    assert [i["data"]["type"] for i in by_id["part"]["items"]] == ["setText"]
    assert by_id["cart"] == body["handle"][1]["payload"][3]
    assert handed["handle"][0] == STATE
    assert handed["handle"][2] == HINT
    # alloy counts "part" (it renders setText) and the control (default content is a display for alloy); a click
    # item alone is none: the server counts "full"
    assert counted == {(1, 1), (1, 4)}
    # When the server marks the clicks, alloy gets no click item: "full" has nothing left and goes.
    handed, counted = response_body(edge, applied, server_clicks=True)
    assert [p["id"] for p in handed["handle"][1]["payload"]] == ["part", "cart", "control"]
    assert counted == {(1, 1), (1, 4)}
    assert body == mixed()  # the answer itself is untouched


def test_an_html_item_counts_for_alloy_only_with_a_selector() -> None:
    body = {
        "handle": [
            {
                "type": "personalization:decisions",
                "payload": [
                    proposition("a", "__view__", item("setHtml", "#x", schema="html-content-item", content="<i>")),
                    proposition("b", "__view__", {"schema": SCHEMA + "html-content-item", "data": {"content": "<i>"}}),
                    proposition("c", "__view__", {"schema": SCHEMA + "json-content-item", "data": {"content": {}}}),
                ],
            }
        ]
    }
    handed, counted = response_body(exchange(body), set(), server_clicks=False)
    assert [p["id"] for p in handed["handle"][0]["payload"]] == ["a", "b", "c"]
    assert counted == {(0, 0)}


# -- the script ----------------------------------------------------------------------------------------------------


def test_the_script_is_escaped_and_carries_the_nonce() -> None:
    hostile = "</script><script>alert(1)</script><!-- \u2028"
    script = alloy_script({"responseBody": {"x": hostile}}, nonce="abc")
    assert script.startswith('<script nonce="abc">')
    assert script.endswith("</script>")
    assert script.count("</script>") == 1
    assert "<!--" not in script
    assert script.isascii()
    options = json.loads(OPTIONS.search(script).group(1))  # type: ignore[union-attr]
    assert options == {"responseBody": {"x": hostile}}
    with pytest.raises(ValueError, match="identifier"):
        alloy_script({}, instance="alloy);alert(1")


NODE_RUN = """
const window = {};
const code = process.argv[1];
const pageBaseCode = (w, n) => { if (!w[n]) { (w.__alloyNS = w.__alloyNS || []).push(n);
  const f = w[n] = function () { const a = arguments; return new Promise((s, j) => f.q.push([s, j, a])); };
  f.q = []; } };
if (process.argv[2] === "page-first") pageBaseCode(window, "alloy");
new Function("window", code)(window);
pageBaseCode(window, "alloy");
window.alloy("configure", {datastreamId: "ds"});
window.alloy("sendEvent", {});
window.alloy("configure", {datastreamId: "again"});
console.log(JSON.stringify({ns: window.__alloyNS, queue: window.alloy.q.map(i => [i[2][0], i[2][1]])}));
"""


@pytest.mark.parametrize("order", ["handoff-first", "page-first"])
def test_apply_response_is_queued_right_after_the_first_configure(order: str) -> None:
    node = shutil.which("node")
    if not node:
        pytest.skip("node is needed to run the hand-off script (Debian: apt-get install nodejs)")
    script = alloy_script({"renderDecisions": True, "responseBody": {"handle": []}})
    code = re.sub(r"^<script[^>]*>|</script>$", "", script)
    done = subprocess.run([node, "-e", NODE_RUN, code, order], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout)
    assert result["ns"] == ["alloy"]  # one instance, whoever set it up
    assert [name for name, _ in result["queue"]] == ["configure", "applyResponse", "sendEvent", "configure"]
    assert result["queue"][1][1] == {"renderDecisions": True, "responseBody": {"handle": []}}


# -- the middleware over real HTTP --------------------------------------------------------------------------------


def handed_of(html: str) -> dict[str, Any]:
    scripts = SCRIPT.findall(html)
    assert len(scripts) == 1, scripts
    found = OPTIONS.search(scripts[0])
    assert found is not None
    options: dict[str, Any] = json.loads(found.group(1))
    return options


def tokens_of(body: dict[str, Any]) -> set[str]:
    return {
        p["scopeDetails"]["characteristics"]["eventToken"]
        for h in body["handle"]
        if h["type"] == "personalization:decisions"
        for p in h["payload"]
    }


async def displays(received: list[dict[str, Any]], at_least: int) -> list[str]:
    deadline = time.monotonic() + 30
    while True:
        found = [t for r in received for n in r["notifications"] if n["type"] == "display" for t in n["tokens"]]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def fetch(app: Any, cookie: str = "", **headers: str) -> httpx.Response:
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=60, headers={**HOST, **headers}) as http:
            return await http.get(url + "/", headers={"cookie": cookie} if cookie else {})


async def test_a_fully_applied_page_hands_alloy_the_views_state_and_no_page_load(
    local_edge: tuple[str, Paths, list[dict[str, Any]]],
) -> None:
    domain, _paths, received = local_edge
    received.clear()
    stats = TargetStats()
    response = await fetch(page_app(edge_client(domain), handoff="websdk", stats=stats))
    assert stats["applied"] == 1
    assert QUOTE.search(response.text)
    start = response.text.index("(function(w,n,o)")
    assert start < response.text.index("<title>") < response.text.index("/at.js")  # first in <head>
    options = handed_of(response.text)
    assert options["renderDecisions"] is True
    assert options["responseHeaders"] == {}
    body = options["responseBody"]
    kinds = [h["type"] for h in body["handle"]]
    assert {"identity:result", "state:store", "locationHint:result", "personalization:decisions"} <= set(kinds)
    decisions = next(h for h in body["handle"] if h["type"] == "personalization:decisions")
    page_wide = [p for p in decisions["payload"] if p["scope"] == "__view__"]
    # All of it applied by the server; its click metrics are alloy's to count (clicks="atjs"), in their own proposition.
    assert [i["data"]["type"] for p in page_wide for i in p["items"]] == ["click"] * len(page_wide)
    written = dict(c.split(";")[0].split("=", 1) for c in response.headers.get_list("set-cookie"))
    state = next(h for h in body["handle"] if h["type"] == "state:store")["payload"]
    assert {s["key"]: s["value"] for s in state} == written  # alloy and the server share the visitor
    assert int(response.headers["content-length"]) == len(response.content)
    found = await displays(received, 1)
    await asyncio.sleep(0.3)  # a second, wrong display event would have arrived by now
    assert found  # the server counted what it rendered: one display event, for this one page view
    assert [n["type"] for r in received for n in r["notifications"]] == ["display"]


async def test_what_the_server_could_not_apply_goes_to_alloy_and_is_counted_by_it_only(
    local_edge: tuple[str, Paths, list[dict[str, Any]]],
) -> None:
    domain, _paths, received = local_edge
    no_offer = PAGE.replace("<div class='offer'><img src='a.png'></div>", "")  # Experience B's IMG is not there
    for visitor in range(8):  # both experiences of the A/B activity, by allocation
        received.clear()
        cookie = f"kndctr_ORG1_AdobeOrg_identity={10**37 + visitor}"
        response = await fetch(page_app(edge_client(domain), no_offer, handoff="websdk"), cookie)
        body = handed_of(response.text)["responseBody"]
        left = tokens_of(body)
        server = set(await displays(received, 1))
        assert server, "the server counts at least the quote it rendered"
        assert not server & left  # never counted by both
        if left:  # Experience B: its insertBefore is alloy's
            items = [
                i
                for h in body["handle"]
                if h["type"] == "personalization:decisions"
                for p in h["payload"]
                for i in p["items"]
            ]
            assert {i["data"]["type"] for i in items} - {"click"} == {"insertBefore"}  # and alloy's click metric
            return
    pytest.fail("no visitor fell into the experience whose offer the page lacks")


async def test_over_the_size_cap_no_script_and_the_server_counts_everything(
    local_edge: tuple[str, Paths, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    domain, _paths, received = local_edge
    received.clear()
    with caplog.at_level(logging.WARNING, logger="target_middleware"):
        response = await fetch(page_app(edge_client(domain), handoff="websdk", handoff_max_size=200))
    assert "applyResponse" not in response.text
    assert QUOTE.search(response.text)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "over handoff_max_size" in warnings[0].getMessage()
    assert await displays(received, 1)


async def test_a_rule_turns_the_web_sdk_hand_off_on_or_off(
    local_edge: tuple[str, Paths, list[dict[str, Any]]],
) -> None:
    domain, _paths, _received = local_edge
    on = [MboxRule("/{rest:path}", mboxes=["target-global-mbox"], handoff="websdk")]
    assert "applyResponse" in (await fetch(page_app(edge_client(domain), rules=on))).text
    off = [MboxRule("/{rest:path}", mboxes=["target-global-mbox"], handoff="off")]
    page = (await fetch(page_app(edge_client(domain), rules=off, handoff="websdk"))).text
    assert "applyResponse" not in page
    assert QUOTE.search(page)


def test_the_web_sdk_hand_off_needs_an_edge_network_client() -> None:
    delivery = TargetClient("c", "O@AdobeOrg")
    rules = [MboxRule("/", mboxes=["target-global-mbox"])]
    with pytest.raises(ValueError, match="EdgeNetworkClient"):
        TargetMiddleware(lambda *a: None, client=delivery, rules=rules, handoff="websdk")
    websdk_rule = [MboxRule("/", mboxes=["target-global-mbox"], handoff="websdk")]
    with pytest.raises(ValueError, match="EdgeNetworkClient"):
        TargetMiddleware(lambda *a: None, client=delivery, rules=websdk_rule)
    with pytest.raises(ValueError, match="websdk"):
        TargetMiddleware(lambda *a: None, client=delivery, rules=rules, handoff="alloy")
    with pytest.raises(ValueError, match="websdk"):
        MboxRule("/", mboxes=["m"], handoff="web-sdk")
