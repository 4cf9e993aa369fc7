"""The at.js hand-off: serverState built from what the server fetched and did not apply, inserted safely.

Integration tests run the middleware under uvicorn against the local edge (``target_middleware.edge``, real HTTP,
Adobe's conformance artifacts) and in process on-device; the request and response handed to at.js validate
against Adobe's OpenAPI DeliveryRequest / DeliveryResponse schemas.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.delivery import OffersResult
from target_middleware.edge import create_edge_app
from target_middleware.handoff import handoff_script, insert_handoff, insertion_point, server_state
from target_middleware.pagebytes import script_json
from target_middleware.testing import StaticDecider, actions_option, static_client
from tests.datafiles import ARTIFACTS, OPENAPI
from tests.delivery.test_openapi import _validator
from tests.servers import serve

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")
referencing = pytest.importorskip("referencing")

# Matches the page-load VEC AB artifact: its "Experience B" inserts before the first IMG of the first DIV.offer,
# its quote goes after the first H1 of the first DIV; the third option styles what the second inserted.
PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>VEC</title>"
    "<script src='/at.js'></script></head><body>"
    "<div><h1>Quote</h1></div><div class='offer'><img src='a.png'></div></body></html>"
)
# The artifact's activities target the page https://local-target-test/ (page.domain, page.path).
HOST = {"host": "local-target-test"}
QUOTE = re.compile(r'</h1><p id="action_insert_\d+"')
SCRIPT = re.compile(r"<script[^>]*>window\.targetGlobalSettings=.*?;</script>", re.DOTALL)
STATE = re.compile(r"window\.targetGlobalSettings\.serverState=(.*?);</script>", re.DOTALL)


def response_validator() -> Any:
    from referencing.jsonschema import DRAFT4

    def retrieve(uri: str) -> Any:
        contents = yaml.safe_load(Path(uri.removeprefix("file://")).read_text())
        if uri.endswith("/ResponseTokens.yaml"):
            # The spec types each response token's value as an object, though its own description (and every
            # answer of Target's, and its examples) says "usually a string, or a list of strings".
            contents["ResponseTokens"]["additionalProperties"] = {}
        return referencing.Resource.from_contents(contents, default_specification=DRAFT4)

    registry: Any = referencing.Registry(retrieve=retrieve)
    root = (OPENAPI / "delivery" / "components" / "DeliveryResponse.yaml").resolve().as_uri()
    return jsonschema.Draft4Validator({"$ref": f"{root}#/DeliveryResponse"}, registry=registry)


@pytest.fixture(scope="module")
def schemas() -> tuple[Any, Any]:
    return _validator(OPENAPI), response_validator()


def state_of(html: str) -> dict[str, Any]:
    scripts = SCRIPT.findall(html)
    assert len(scripts) == 1, scripts
    found = STATE.search(scripts[0])
    assert found is not None
    state: dict[str, Any] = json.loads(found.group(1))
    return state


def page_app(client: TargetClient, page: str = PAGE, **options: Any) -> Starlette:
    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    app = Starlette(routes=[Route("/", home), Route("/{rest:path}", home)])
    rules = options.pop("rules", [MboxRule("/{rest:path}", mboxes=["target-global-mbox"])])
    app.add_middleware(TargetMiddleware, client=client, rules=rules, timeout=30, **options)
    return app


@pytest.fixture(scope="module")
def edge() -> Iterator[str]:
    engine = DecisioningEngine(
        load_artifact(ARTIFACTS / "TEST_ARTIFACT_PAGELOAD_VEC_AB.json"), client_code="targettesting"
    )
    with serve(create_edge_app(engine)) as url:
        yield url.removeprefix("http://")


def remote(domain: str) -> TargetClient:
    return TargetClient("targettesting", "O@AdobeOrg", server_domain=domain, secure=False, timeout=30)


# -- the state -------------------------------------------------------------------------------------------------


def result_of(request: dict[str, Any], raw: dict[str, Any]) -> OffersResult:
    from target_middleware.delivery import DecisioningMethod, parse_response
    from target_middleware.visitor import Visitor

    visitor = Visitor.new()
    return OffersResult(
        parse_response(raw), visitor, visitor.mbox_cookie(), None, DecisioningMethod.SERVER_SIDE, request
    )


REQUEST = {
    "requestId": "r1",
    "id": {
        "tntId": "t.35_0",
        "marketingCloudVisitorId": "0123",
        "thirdPartyId": "user-42",
        "customerIds": [{"id": "c1", "integrationCode": "crm", "authenticatedState": "authenticated"}],
    },
    "context": {"channel": "web", "geo": {"ipAddress": "203.0.113.9"}, "address": {"url": "https://s.example/"}},
    "trace": {"authorizationToken": "secret-token"},
    "execute": {
        "pageLoad": {"parameters": {"a": "1"}, "profileParameters": {"age": "44"}},
        "mboxes": [{"index": 0, "name": "hero", "profileParameters": {"age": "44"}}],
    },
    "prefetch": {"views": [{"parameters": {"a": "1"}, "profileParameters": {"age": "44"}}]},
}
RAW = {
    "status": 200,
    "requestId": "r1",
    "id": {"tntId": "t.35_0"},
    "execute": {
        "pageLoad": {
            "options": [
                {"type": "actions", "content": [{"type": "setHtml", "selector": "#a", "content": "A"}] * 2},
                {"type": "actions", "content": [{"type": "setHtml", "selector": "#b", "content": "B"}]},
                {"type": "html", "content": "<p>form</p>"},
            ],
            "metrics": [{"type": "click", "selector": "#a", "eventToken": "clk"}],
        },
        "mboxes": [{"index": 0, "name": "hero", "options": [{"type": "html", "content": "regional"}]}],
    },
    "prefetch": {"views": [{"name": "home", "options": [], "metrics": [{"type": "click", "eventToken": "v"}]}]},
}


def test_private_fields_and_regional_mboxes_stay_on_the_server() -> None:
    state = server_state(result_of(REQUEST, RAW))
    assert state is not None
    request, response = state["request"], state["response"]
    assert request["id"] == {"tntId": "t.35_0", "marketingCloudVisitorId": "0123"}
    assert "geo" not in request["context"]
    assert "trace" not in request
    assert request["execute"] == {"pageLoad": {"parameters": {"a": "1"}}}
    assert request["prefetch"] == {"views": [{"parameters": {"a": "1"}}]}
    assert "mboxes" not in response["execute"]
    text = json.dumps(state)
    for secret in ("secret-token", "user-42", "c1", "203.0.113.9", "44", "regional"):
        assert secret not in text
    kept = server_state(result_of(REQUEST, RAW), send_ip_address=True)
    assert kept is not None
    assert kept["request"]["context"]["geo"] == {"ipAddress": "203.0.113.9"}


def test_what_the_server_applied_is_left_out_and_the_rest_kept() -> None:
    state = server_state(result_of(REQUEST, RAW), applied={(0, 0), (2, -1)})
    assert state is not None
    options = state["response"]["execute"]["pageLoad"]["options"]
    assert [o["content"] for o in options] == [
        [{"type": "setHtml", "selector": "#a", "content": "A"}],  # the second of the two: not applied
        [{"type": "setHtml", "selector": "#b", "content": "B"}],
    ]
    everything = server_state(result_of(REQUEST, RAW), applied={(0, 0), (0, 1), (1, 0), (2, -1)})
    assert everything is not None
    assert everything["response"]["execute"]["pageLoad"]["options"] == []
    nothing = server_state(result_of(REQUEST, RAW))  # applied=None: the browser renders it all
    assert nothing is not None
    assert nothing["response"]["execute"] == {"pageLoad": RAW["execute"]["pageLoad"]}


def test_metrics_go_to_atjs_only_when_it_owns_the_clicks() -> None:
    owned = server_state(result_of(REQUEST, RAW), keep_metrics=True)
    ours = server_state(result_of(REQUEST, RAW), keep_metrics=False)
    assert owned is not None
    assert ours is not None
    assert owned["response"]["execute"]["pageLoad"]["metrics"][0]["eventToken"] == "clk"
    assert owned["response"]["prefetch"]["views"][0]["metrics"]
    assert "metrics" not in ours["response"]["execute"]["pageLoad"]
    assert "metrics" not in ours["response"]["prefetch"]["views"][0]


def test_nothing_to_hand_off_without_page_load_or_views() -> None:
    request = {"execute": {"mboxes": [{"index": 0, "name": "hero"}]}, "context": {"channel": "web"}}
    assert server_state(result_of(request, {"status": 200, "execute": {"mboxes": []}})) is None


@pytest.mark.parametrize(
    "content", ["</script><script>alert(1)</script>", "<!--<script>", "a\u2028b\u2029c", "&lt;&amp;", "é✓\U0001f600"]
)
def test_script_json_cannot_end_the_element_and_reads_back_the_same(content: str) -> None:
    state = {"response": {"execute": {"pageLoad": {"options": [{"type": "html", "content": content}]}}}}
    text = script_json(state)
    assert text.isascii()
    for unsafe in ("<", ">", "&", "\u2028", "\u2029"):
        assert unsafe not in text
    assert json.loads(text) == state
    script = handoff_script(state, nonce="n0nce")
    assert script.startswith('<script nonce="n0nce">')
    assert script.count("</script") == 1


@pytest.mark.parametrize(
    ("page", "before"),
    [
        (b"<!DOCTYPE html><html><head><title>t</title><script src=at.js></script>", b"<title>"),
        (b"<!doctype html><html lang=en><head data-x='1'>\n<script>", b"\n<script>"),
        (b"<html><header>h</header><head><title>", b"<title>"),  # <header> is not <head>
        (b"<!-- <head> --><html><head><title>", b"<title>"),  # a comment is skipped
        (b"<!DOCTYPE html><html><script>early()</script><head>", b"<script>early"),  # a script before <head>
        (b"<!DOCTYPE html><title>no head</title><p>", b"<title>"),
        (b"<!DOCTYPE html>\n<p>just a body", b"\n<p>"),
        (b"\xef\xbb\xbf<p>bom", b"<p>"),
        (b"plain text", b"plain"),
        (b"<html><head><meta charset=utf-8><title>", b"<title>"),  # the charset stays in the first bytes
        (b"<html><head><script>a()</script><meta charset=utf-8>", b"<script>"),
    ],
)
def test_insertion_point(page: bytes, before: bytes) -> None:
    at = insertion_point(page)
    assert page[at:].startswith(before), (page, at)


def test_wide_pages_are_spliced_in_their_own_charset() -> None:
    page = "<html><head><title>é</title></head></html>"
    for encoding, data in (("utf-16", page.encode("utf-16")), ("utf-16-le", page.encode("utf-16-le"))):
        out = insert_handoff(data, "<script>x</script>", encoding)
        assert out.decode(encoding).replace("\ufeff", "") == page.replace("<head>", "<head><script>x</script>")
    latin = page.encode("latin-1")
    assert insert_handoff(latin, "<script>x</script>", "iso-8859-1").decode("latin-1").count("é") == 1


# -- through the middleware -------------------------------------------------------------------------------------


async def test_server_side_page_hands_off_what_it_did_not_apply(edge: str, schemas: tuple[Any, Any]) -> None:
    page = PAGE.replace("<div class='offer'><img src='a.png'></div>", "")  # Experience B's target is missing
    stats = TargetStats()
    with serve(page_app(remote(edge), page, handoff="atjs", stats=stats)) as url:
        async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
            answer = await http.get(url + "/", headers={"cookie": "mbox=PC#vB.35_0#2000000000"})
    html = answer.text
    assert stats["applied"] == 1, (dict(stats), html)
    assert QUOTE.search(html)  # the quote activity (either experience): applied on the server
    state = state_of(html)
    # At the start of <head>, after its <meta charset> (it must stay in the first bytes), before at.js.
    assert html.index("<meta charset") < html.index("window.targetGlobalSettings") < html.index("/at.js")
    request_errors = list(schemas[0].iter_errors(state["request"]))
    response_errors = list(schemas[1].iter_errors(state["response"]))
    assert request_errors == []
    assert response_errors == []
    options = state["response"]["execute"]["pageLoad"]["options"]
    selectors = [a["selector"] for o in options for a in o["content"]]
    assert not any("H1" in s for s in selectors)  # applied: not again in the browser
    if any(o["responseTokens"]["experience.name"] == "Experience B" for o in options):
        assert any("IMG" in s for s in selectors)  # no match on the server: at.js applies it
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert "data-target-click" not in html
    assert "sendBeacon" not in html


def test_the_response_validator_can_fail(schemas: tuple[Any, Any]) -> None:
    assert list(schemas[1].iter_errors({"status": 200, "execute": {"pageLoad": {"options": []}}})) == []
    assert list(schemas[1].iter_errors({"execute": {"pageLoad": {"options": [{"type": "video"}]}}}))
    assert list(schemas[1].iter_errors({"prefetch": {"views": "home"}}))


async def test_everything_applied_leaves_at_js_empty_page_load_options(edge: str) -> None:
    stats = TargetStats()
    with serve(page_app(remote(edge), handoff="atjs", stats=stats)) as url:
        async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
            for visitor in range(6):  # both experiences of the AB activity, by allocation
                answer = await http.get(url + "/", headers={"cookie": f"mbox=PC#v{visitor}.35_0#2000000000"})
                assert state_of(answer.text)["response"]["execute"]["pageLoad"]["options"] == []
    assert stats["applied"] == 6


async def test_views_are_prefetched_and_handed_over(schemas: tuple[Any, Any]) -> None:
    engine = DecisioningEngine(load_artifact(ARTIFACTS / "TEST_ARTIFACT_VIEWS.json"), client_code="targettesting")
    with serve(create_edge_app(engine)) as edge_url:
        rules = [MboxRule("/{rest:path}", mboxes=["target-global-mbox"], views=True)]
        client = remote(edge_url.removeprefix("http://"))
        with serve(page_app(client, handoff="atjs", rules=rules)) as url:
            async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
                html = (await http.get(url + "/")).text
    state = state_of(html)
    assert state["request"]["prefetch"] == {"views": [{}]}
    assert {v["name"] for v in state["response"]["prefetch"]["views"]} == {"contact", "home"}
    assert list(schemas[0].iter_errors(state["request"])) == []
    assert list(schemas[1].iter_errors(state["response"])) == []


async def test_on_device_gives_the_same_shape_as_server_side(edge: str) -> None:
    artifact = str(ARTIFACTS / "TEST_ARTIFACT_PAGELOAD_VEC_AB.json")
    local = TargetClient("targettesting", "O@AdobeOrg", decisioning="on-device", artifact=artifact)
    cookie = {"cookie": "mbox=PC#same.35_0#2000000000"}
    async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
        with serve(page_app(local, handoff="atjs")) as url:
            on_device = state_of((await http.get(url + "/", headers=cookie)).text)
        with serve(page_app(remote(edge), handoff="atjs")) as url:
            server_side = state_of((await http.get(url + "/", headers=cookie)).text)

    def shape(state: dict[str, Any]) -> Any:
        page_load = state["response"]["execute"]["pageLoad"]
        return sorted(state["request"]), sorted(state["response"]), sorted(page_load), page_load["options"]

    assert shape(on_device) == shape(server_side)


@dataclass(frozen=True, slots=True)
class MetricDecider:
    """Static page-load offers with a click metric on H1, as Target sends one for a VEC click goal."""

    static: StaticDecider

    def decide(self, request: Any, *, session_id: str | None = None) -> Any:
        decision = self.static.decide(request, session_id=session_id)
        metric = {"type": "click", "selector": "H1", "eventToken": "clk-token"}
        decision.response["execute"]["pageLoad"]["metrics"] = [metric]
        return decision


def metric_client() -> TargetClient:
    offers = {"target-global-mbox": [actions_option({"type": "setHtml", "selector": "H1", "content": "Hi"})]}
    decider = MetricDecider(StaticDecider(offers))
    return TargetClient("test", "T@AdobeOrg", decisioning="on-device", decider=decider, on_notifications=list)


async def test_first_party_clicks_keep_our_listener_and_drop_the_metrics() -> None:
    async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
        with serve(page_app(metric_client(), handoff="atjs")) as url:
            atjs = (await http.get(url + "/")).text
        with serve(page_app(metric_client(), handoff="atjs", clicks="first-party")) as url:
            ours = (await http.get(url + "/")).text
        with serve(page_app(metric_client())) as url:
            no_handoff = (await http.get(url + "/")).text
    assert state_of(atjs)["response"]["execute"]["pageLoad"]["metrics"][0]["eventToken"] == "clk-token"
    assert "data-target-click" not in atjs
    assert "metrics" not in state_of(ours)["response"]["execute"]["pageLoad"]
    assert 'data-target-click="clk-token"' in ours
    assert 'data-target-click="clk-token"' in no_handoff
    assert "targetGlobalSettings" not in no_handoff


async def test_an_answer_over_the_cap_is_not_handed_off_but_the_page_is_personalized(
    edge: str, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(page_app(remote(edge), handoff="atjs", handoff_max_size=200)) as url:
        async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
            with caplog.at_level(logging.WARNING, "target_middleware"):
                html = (await http.get(url + "/")).text
    assert "targetGlobalSettings" not in html
    assert QUOTE.search(html)
    warnings = [r for r in caplog.records if "hand-off" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_rule_can_turn_the_hand_off_off_or_on(edge: str) -> None:
    rules = [
        MboxRule("/off", mboxes=["target-global-mbox"], handoff="off"),
        MboxRule("/{rest:path}", mboxes=["target-global-mbox"], handoff="atjs"),
    ]
    async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
        with serve(page_app(remote(edge), handoff="atjs", rules=rules)) as url:
            assert "targetGlobalSettings" not in (await http.get(url + "/off")).text
        with serve(page_app(remote(edge), rules=rules)) as url:  # the middleware's default is off
            assert "targetGlobalSettings" in (await http.get(url + "/on")).text


def test_bad_hand_off_options_are_refused() -> None:
    with pytest.raises(ValueError, match="handoff"):
        MboxRule("/", mboxes=["m"], handoff="alloy")
    app = Starlette()
    client = static_client({})
    for options, message in (
        ({"handoff": "yes"}, "handoff"),
        ({"clicks": "both"}, "clicks"),
        ({"handoff_max_size": 0}, "handoff_max_size"),
    ):
        with pytest.raises(ValueError, match=message):
            TargetMiddleware(app, client=client, rules=[MboxRule("/", mboxes=["m"])], **options)


async def test_decisions_server_state_for_apps_that_render_their_own_script(edge: str) -> None:
    seen: list[dict[str, Any] | None] = []

    async def home(request: Request) -> Response:
        decisions = await request.state.target.decisions()
        state = decisions.server_state()
        seen.append(state)
        return HTMLResponse(f"<html><head><script>var s={script_json(state)};</script></head><body></body></html>")

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(
        TargetMiddleware, client=remote(edge), rules=[MboxRule("/", mboxes=["target-global-mbox"])], timeout=30
    )
    with serve(app) as url:
        async with httpx.AsyncClient(timeout=60, headers=HOST) as http:
            html = (await http.get(url + "/")).text
    state = seen[0]
    assert state is not None
    assert state["response"]["execute"]["pageLoad"]["options"]  # all of it: the app's page renders none of it
    assert "targetGlobalSettings" not in html  # the middleware's own hand-off is off


async def test_the_demo_hands_off_to_the_at_js_of_the_account() -> None:
    from demo_app.app import create_app
    from demo_app.target import settings_from_env

    settings = settings_from_env({"TARGET_HANDOFF": "atjs", "TARGET_ATJS_URL": "https://cdn.example/at.js"})
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(timeout=60) as http:
            html = (await http.get(url + "/")).text
            plain = (await http.get(url + "/category/tents")).text
    state = state_of(html)
    assert state["request"]["prefetch"] == {"views": [{}]}  # the home rule prefetches views
    assert html.index("window.targetGlobalSettings") < html.index('<script src="https://cdn.example/at.js">')
    assert 'adobe.target.triggerView("home")' in html
    assert 'adobe.target.triggerView("home")' not in plain
    without = settings_from_env({})
    with serve(create_app(without)) as url:
        async with httpx.AsyncClient(timeout=60) as http:
            html = (await http.get(url + "/")).text
    assert "targetGlobalSettings" not in html
    assert "at.js" not in html
