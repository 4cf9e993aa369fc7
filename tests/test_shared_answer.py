"""The middleware reads a shared on-device answer; what the app gets from decisions() is its own to change.

The middleware asks with ``OffersRequest(read_only=True)``, so every visitor of one experience gets the one
``SharedPageLoad`` of it (``delivery.shared``). An app that changes what ``decisions()`` gives it (a JSON offer, an
action's content) changes its own copy: not the next visitor's decisions, not the page the middleware writes, not
the at.js hand-off, not the answer a caller of ``get_offers`` gets.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware
from target_middleware.delivery.offers import OffersRequest
from target_middleware.delivery.shared import SharedPageLoad
from target_middleware.visitor import Visitor
from tests.asgi import asgi_get
from tests.decisioning.artifacts import GLOBAL, global_mbox_artifact

STYLE = {"background-color": "#def", "priority": "important"}
BANNER = {"banner": {"text": "Free shipping"}, "items": [1, 2]}
PAGE = '<html><head><title>Shop</title></head><body><h1 id="hero">Welcome</h1><p id="offer">-</p></body></html>'


def artifact() -> Any:
    rule = {
        "ruleKey": "1-0",
        "activityId": 1,
        "meta": {"activity.id": 1, "experience.id": 0},
        "condition": {"and": [{"<=": [0, {"var": "allocation"}]}, {">=": [100, {"var": "allocation"}]}]},
        "consequence": {
            "name": GLOBAL,
            "options": [
                {
                    "type": "actions",
                    "content": [
                        {"type": "setStyle", "selector": "#hero", "content": dict(STYLE)},
                        {"type": "setHtml", "selector": "#hero", "content": "Hello from Target"},
                    ],
                    "eventToken": "display-token",
                },
                {"type": "json", "content": json.loads(json.dumps(BANNER)), "eventToken": "json-token"},
            ],
            "metrics": [],
        },
    }
    return global_mbox_artifact([rule])


def shop(client: TargetClient, seen: list[Any], **options: Any) -> Any:
    async def page(request: Request) -> Response:
        decisions = await request.state.target.decisions()
        offer = decisions.json_offers()[0]
        style = decisions.page_load.options[0].content[0].content
        seen.append((json.loads(json.dumps(offer)), dict(style)))
        # What an app may well do with what it is given: change it in place.
        offer["banner"]["text"] = "changed by the app"
        offer["items"].append(3)
        style["background-color"] = "#000"
        again = await request.state.target.decisions()
        assert again.json_offers()[0] is offer  # one copy per request, the same each time it asks
        return HTMLResponse(PAGE)

    app = Starlette(routes=[Route("/", page)])
    return TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=[GLOBAL])], **options)


def on_device() -> TargetClient:
    return TargetClient("acme", "O@AdobeOrg", decisioning="on-device", artifact=artifact(), on_notifications=list)


async def test_what_the_app_changes_stays_in_its_own_request() -> None:
    client = on_device()
    seen: list[Any] = []
    app = shop(client, seen)
    bodies = []
    for visitor in range(3):
        cookie = f"mbox=PC#{visitor:032x}.35_0#2000000000"
        start, body = await asgi_get(app, "/", cookie)
        assert start["status"] == 200
        bodies.append(body["body"])
    assert seen == [(BANNER, STYLE)] * 3  # each visitor's decisions as Target answered them
    assert bodies[0] == bodies[1] == bodies[2]
    assert b"background-color: #def !important" in bodies[2]
    assert b"Hello from Target" in bodies[2]
    # A caller of get_offers gets the answer as Target gave it, and its own: not the middleware's shared one.
    result = await client.get_offers([GLOBAL], visitor=Visitor("s", tnt_id="00ff.35_0"))
    assert result.page_load is not None
    assert type(result.page_load) is not SharedPageLoad
    assert result.raw["execute"]["pageLoad"]["options"][1]["content"] == BANNER
    assert result.page_load.options[0].content[0].content == STYLE
    await client.aclose()


async def test_the_hand_off_hands_at_js_the_answer_as_target_gave_it() -> None:
    client = on_device()
    seen: list[Any] = []
    app = shop(client, seen, handoff="atjs")
    states = []
    for visitor in range(2):
        _, body = await asgi_get(app, "/", f"mbox=PC#{visitor:032x}.35_0#2000000000")
        found = re.search(rb"serverState=(\{.*?\});</script>", body["body"])
        assert found is not None
        states.append(json.loads(found.group(1)))
    for state in states:
        options = state["response"]["execute"]["pageLoad"]["options"]
        assert options[-1]["content"] == BANNER  # the json offer, as Target answered it
    await client.aclose()


async def test_the_middleware_asks_for_a_read_only_answer_and_shares_it() -> None:
    """The middleware's own requests are read-only, and two visitors of one experience get the one answer."""
    client = on_device()
    asked: list[Any] = []
    ask = client.get_offers

    async def recording(request: OffersRequest, **options: Any) -> Any:
        result = await ask(request, **options)
        asked.append((request.read_only, result.page_load))
        return result

    client.get_offers = recording  # type: ignore[method-assign]
    app = shop(client, [])
    for visitor in range(2):
        await asgi_get(app, "/", f"mbox=PC#{visitor:032x}.35_0#2000000000")
    assert [read_only for read_only, _ in asked] == [True, True]
    assert type(asked[0][1]) is SharedPageLoad
    assert asked[0][1] is asked[1][1]
    await client.aclose()
