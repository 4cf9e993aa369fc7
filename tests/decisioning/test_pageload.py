"""The engine's page-load fast path (``pageload``) against the general path it stands in for.

The general path is ``DecisioningEngine.decide`` and then ``parse_response``; the fast one is
``decide_page_load``. On the conformance artifacts and on generated ones (rules of every option and action kind,
click and display metrics, response tokens, property tokens, conditions on the page, the user, the mbox's params,
the time and the allocation), for generated requests, the two give the same answer (the typed value, its JSON with
key order, the notifications and the telemetry), or the fast path says None and leaves it to the general one.
Through the client, the results and the notifications queued are the same with the fast path and without.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from target_middleware import TargetClient
from target_middleware.decisioning import DecisioningEngine, load_artifact, pageload, procedure
from target_middleware.decisioning import engine as engine_module
from target_middleware.decisioning.artifact import Artifact
from target_middleware.delivery import params
from target_middleware.delivery.context import PageContext
from target_middleware.delivery.models import PageLoadResult, parse_response
from target_middleware.delivery.offers import OffersRequest
from target_middleware.delivery.params import Mbox, build_request
from target_middleware.delivery.shared import SharedPageLoad, owned_response
from target_middleware.visitor import Visitor
from tests.datafiles import ARTIFACTS
from tests.decisioning.artifacts import GLOBAL, global_mbox_artifact

NOW = 1_700_000_000.0
URLS = [
    "http://local-target-test/",
    "http://local-target-test/home?bar=true#hello",
    "https://www.adobe.com/products?bar=1",
    "https://shop.example.co.uk/cart",
    "http://127.0.0.1/page",
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:73.0) Gecko/20100101 Firefox/73.0",
    "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
]
PARAMS = {"jason": ["correct", "wrong"], "foo": ["bar", "baz"], "favorite.color": ["Red", "blue"]}
PROPERTY_TOKENS = ["8ce2d3e9-b299-c0ea-2e0c-2e21255db6bb", "f12c912a-792f-6c01-4977-65d39558c82e", "other"]


def conformance_artifacts() -> list[Artifact]:
    found = []
    for path in sorted(ARTIFACTS.glob("*.json")):
        try:
            found.append(load_artifact(path))
        except ValueError:  # the suites' deliberately unsupported artifact
            continue
    return found


# -- generated artifacts --------------------------------------------------------------------------------------------


def _action(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choice(["setContent", "setStyle", "setAttribute", "rearrange", "remove", "setHtml", "insertAfter"])
    action: dict[str, Any] = {"type": kind, "selector": f"#a{index}"}
    if rng.random() < 0.5:
        action["cssSelector"] = f"#a{index}"
    if kind == "setStyle":
        action["content"] = {"background-color": rng.choice(["#fff", "red"]), "priority": "important"}
    elif kind == "setAttribute":
        action["content"] = {"href": f"/x{index}", "data-n": {"deep": [index]}}
    elif kind == "rearrange":
        action["content"] = {"from": 0, "to": index}
    elif kind != "remove":
        action["content"] = rng.choice(["<b>hi</b>", "plain text", f"offer {index}"])
    return action


def _option(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choice(["html", "json", "actions", "actions", "redirect"])
    option: dict[str, Any] = {"type": kind}
    if kind == "json":
        option["content"] = {"flag": rng.random() < 0.5, "items": [1, 2.5, "x", None], "nested": {"k": "v"}}
    elif kind == "actions":
        option["content"] = [_action(rng, i) for i in range(rng.randint(0, 4))]
    elif kind == "redirect":
        option["content"] = f"https://example.com/{index}"
    else:
        option["content"] = rng.choice(["<div>A</div>", "", "<p>B</p>"])  # a blank option is dropped on execute
    if rng.random() < 0.8:
        option["eventToken"] = rng.choice([f"display-{index}", "shared-token", ""])
    return option


def _condition(rng: random.Random, low: int, high: int) -> dict[str, Any]:
    parts: list[Any] = [{"<=": [low, {"var": "allocation"}]}, {">=": [high, {"var": "allocation"}]}]
    extra = rng.choice(
        [
            None,
            {"==": ["/products", {"var": "page.path"}]},
            {"in": ["adobe", {"var": "page.domain"}]},
            {"==": [{"var": "user.browserType"}, "chrome"]},
            {"==": [{"var": "user.platform"}, "windows"]},
            {"==": [{"var": "mbox.jason"}, "correct"]},
            {"==": [{"var": "mbox.favorite.color_lc"}, "red"]},
            {"<": [{"var": "current_timestamp"}, 1_800_000_000_000]},
            {"==": [{"var": "current_day"}, 2]},
            {"<": [{"var": "current_time"}, "1230"]},
            {"unknown-operator": [1]},  # never compiles: the rule never matches
            {"var": "mbox.missing.deep.path"},
        ]
    )
    if extra is not None:
        parts.append(extra)
    return {"and": parts}


def _rule(rng: random.Random, activity: int, experience: int, low: int, high: int) -> dict[str, Any]:
    options = [_option(rng, i) for i in range(rng.randint(0, 3))]
    metrics: list[dict[str, Any]] = []
    for i in range(rng.randint(0, 3)):
        metrics.append(
            {
                "type": rng.choice(["click", "display"]),
                "selector": f"a.cta{i}",
                "eventToken": rng.choice([f"click-{activity}-{i}", "shared-click"]),
            }
        )
    rule: dict[str, Any] = {
        "ruleKey": f"{activity}-{experience}",
        "activityId": activity,
        "meta": {
            "activity.id": activity,
            "activity.name": f"Activity {activity}",
            "experience.id": experience,
            "offer.id": activity * 10 + experience,
            "audience.ids": [activity],
            "option.name": f"Offer{experience}",
        },
        "condition": _condition(rng, low, high),
        "consequence": {"name": GLOBAL, "options": options, "metrics": metrics},
    }
    if rng.random() < 0.2:
        rule["propertyTokens"] = [rng.choice(PROPERTY_TOKENS)]
    return rule


def generated_artifact(seed: int) -> Artifact:
    rng = random.Random(seed)
    rules = []
    for activity in range(rng.randint(1, 3)):
        cut = rng.choice([50, 30, 100])
        rules.append(_rule(rng, 1000 + activity, 0, 0, cut))
        if cut < 100:
            rules.append(_rule(rng, 1000 + activity, 1, cut, 100))
        if rng.random() < 0.2:
            rules.append(dict(rules[-1]))  # the same rule key twice: answered once
    tokens = ["activity.id", "experience.id", "offer.id", "audience.ids", "geo.city", "option.name"]
    return global_mbox_artifact(rules, response_tokens=rng.sample(tokens, rng.randint(0, len(tokens))))


# -- generated requests ---------------------------------------------------------------------------------------------


def visitors(rng: random.Random) -> Visitor:
    return Visitor(
        session_id=f"s{rng.randrange(10**6)}",
        tnt_id=f"{rng.getrandbits(64):016x}.35_0" if rng.random() < 0.9 else None,
        third_party_id=rng.choice([None, None, "crm-7"]),
        marketing_cloud_visitor_id=rng.choice([None, None, "08743421337245362392147962341223"]),
    )


def request_for(rng: random.Random, *, property_token: str | None = None) -> dict[str, Any]:
    mbox_params: dict[str, Any] = {k: rng.choice(v) for k, v in PARAMS.items() if rng.random() < 0.5}
    if rng.random() < 0.2:
        mbox_params["at_property"] = rng.choice(PROPERTY_TOKENS)
    if rng.random() < 0.1:
        mbox_params["mbox3rdPartyId"] = "from-a-param"
    page = PageContext(
        url=rng.choice(URLS),
        referring_url=rng.choice([None, *URLS]),
        user_agent=rng.choice([None, *AGENTS]),
        client_hints=rng.choice([None, {"mobile": False, "platform": "macOS"}, {"platform": "Windows"}]),
        ip_address="203.0.113.9",
        time_offset_minutes=0,
    )
    return build_request(
        execute=[Mbox(GLOBAL, mbox_params)],
        visitor=visitors(rng),
        context=page.to_json(send_ip_address=rng.random() < 0.1),  # a geo value: the general path's
        property_token=property_token if rng.random() < 0.8 else None,
        environment_id=rng.choice([None, 7]),
    )


# -- the comparison -------------------------------------------------------------------------------------------------


def _telemetry(entries: Any) -> list[dict[str, Any]]:
    assert all(isinstance(e["execution"], float) and e["execution"] >= 0 for e in entries)
    return [{**entry, "execution": 0} for entry in entries]


def run_both(engine: DecisioningEngine, request: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch) -> bool:
    """Assert the two paths agree on ``request``; whether the fast path answered. Both draw the same ids (the
    notifications', and a visitor's without ids, which allocation draws at random)."""

    def fresh() -> None:
        counter = itertools.count()
        for module in (procedure, pageload, engine_module):  # a request without a requestId draws one too
            monkeypatch.setattr(module, "new_id", lambda: f"{next(counter):032x}")
        monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=len(json.dumps(request))))

    fresh()
    general = engine.decide(request)
    fresh()
    fast = engine.decide_page_load(request)
    if fast is None:
        return False
    assert fast.response == parse_response(general.response)
    assert json.dumps(fast.response.raw) == json.dumps(general.response)  # key order included
    assert fast.notifications == general.notifications
    assert _telemetry(fast.telemetry) == _telemetry(general.telemetry)
    return True


def test_the_fast_path_answers_as_the_general_one_on_the_conformance_artifacts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(14)
    answered = 0
    for artifact in conformance_artifacts():
        engine = DecisioningEngine(artifact, client_code="acme", clock=lambda: NOW)
        for _ in range(60):
            answered += run_both(engine, request_for(rng, property_token=rng.choice(PROPERTY_TOKENS)), monkeypatch)
    assert answered > 200  # the fast path did answer: the comparison compared something


def test_the_fast_path_answers_as_the_general_one_on_generated_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(41)
    answered = 0
    for seed in range(150):
        artifact = generated_artifact(seed)
        clock = rng.choice([NOW, NOW + 86_400 * 3, 1_900_000_000.0])
        engine = DecisioningEngine(
            artifact, client_code="acme", telemetry_enabled=seed % 4 != 0, clock=lambda c=clock: c
        )
        for _ in range(12):
            answered += run_both(engine, request_for(rng, property_token=rng.choice(PROPERTY_TOKENS)), monkeypatch)
    assert answered > 1000


def _containers(value: Any) -> list[Any]:
    """Every dict and list in decoded JSON ``value``."""
    if isinstance(value, dict):
        return [value, *(c for item in value.values() for c in _containers(item))]
    if isinstance(value, list):
        return [value, *(c for item in value for c in _containers(item))]
    return []


def test_two_visitors_share_no_mutable_part_of_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each answer is its own: JSON objects and lists (action contents, response tokens) are never shared between
    requests, and the models hold the request's own, as parse_response's do."""
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))  # a visitor without ids: allocated alike twice
    rng = random.Random(7)
    for seed in range(40):
        engine = DecisioningEngine(generated_artifact(seed), client_code="acme", clock=lambda: NOW)
        request = request_for(rng)
        first, second = engine.decide_page_load(request), engine.decide_page_load(request)
        if first is None or second is None:
            continue
        assert first.response == second.response
        mine = {id(c) for c in _containers(first.response.raw)}
        assert not mine & {id(c) for c in _containers(second.response.raw)}
        assert first.response.execute_page_load is not None
        for option in first.response.execute_page_load.options:
            assert id(option.response_tokens) in mine
            contents = [a.content for a in option.content] if option.type == "actions" else [option.content]
            assert all(id(c) in mine for c in contents if isinstance(c, dict | list))
        assert not {id(n) for n in first.notifications} & {id(n) for n in second.notifications}


async def test_through_the_client_results_and_notifications_are_the_general_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """get_offers with the fast path and without (the same engine, the seam's decide alone): the same results,
    request included, and the same notifications handed on."""
    rng = random.Random(3)
    notified = 0
    for seed in range(30):
        artifact = generated_artifact(seed)
        sent: dict[bool, list[Any]] = {True: [], False: []}
        clients = {
            fast: TargetClient(
                "acme",
                "O@AdobeOrg",
                decisioning="on-device",
                decider=DecisioningEngine(artifact, client_code="acme", clock=lambda: NOW),
                on_notifications=sent[fast].extend,
                property_token=rng.choice([None, *PROPERTY_TOKENS]),
            )
            for fast in (True, False)
        }
        clients[False]._page_load = None
        for client in clients.values():
            client.notifications.interval = 3600  # sent at aclose, in one flush each: batched alike
        clients[False]._property_token = clients[True]._property_token
        assert clients[True]._page_load is not None
        for _ in range(8):
            page = PageContext(url=rng.choice(URLS), user_agent=rng.choice(AGENTS), time_offset_minutes=0)
            mbox_params = {k: rng.choice(v) for k, v in PARAMS.items() if rng.random() < 0.5}
            request = OffersRequest(mboxes=[Mbox(GLOBAL, mbox_params)], page=page)
            visitor = visitors(rng)
            results = {}
            for fast in (True, False):
                counter = itertools.count()
                monkeypatch.setattr(procedure, "new_id", lambda c=counter: f"{next(c):032x}")
                monkeypatch.setattr(pageload, "new_id", lambda c=counter: f"{next(c):032x}")
                monkeypatch.setattr(params, "_request_id", lambda: "f" * 32)
                monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
                monkeypatch.setattr(time, "time", lambda: NOW)  # the cookies' expiry: the same second
                results[fast] = await clients[fast].get_offers(request, visitor=visitor)
            assert results[True] == results[False]
            assert json.dumps(results[True].raw) == json.dumps(results[False].raw)
        for client in clients.values():
            await client.aclose()
        assert sent[True] == sent[False]
        notified += len(sent[True])
    assert notified > 50  # notifications were sent: the comparison compared something


def test_the_time_of_day_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Across minutes and days (the fast path keeps the time of day per minute), the same answers."""
    now = [NOW]
    rng = random.Random(9)
    answered = 0
    for seed in range(20):
        engine = DecisioningEngine(generated_artifact(seed), client_code="acme", clock=lambda: now[0])
        request = request_for(rng)
        for step in (0, 30, 29.9, 0.2, 3600 * 11.5, 86_400, 59.99, 0.01, 86_400 * 3):
            now[0] += step
            answered += run_both(engine, request, monkeypatch)
    assert answered > 100


def test_the_remembered_answers_and_pages_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pageload, "_MAX_ANSWERS", 2)
    monkeypatch.setattr(pageload, "_MAX_PAGES", 2)
    rng = random.Random(11)
    answered = 0
    for seed in range(10):
        engine = DecisioningEngine(generated_artifact(seed), client_code="acme", clock=lambda: NOW)
        for _ in range(30):
            answered += run_both(engine, request_for(rng), monkeypatch)
            assert len(engine._page_load._pages) <= 2
            prepared = engine._page_load._prepared
            assert prepared is None or len(prepared.answers) <= 2
    assert answered > 100


def test_the_conformance_suites_own_page_load_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adobe's suites' requests that execute pageLoad alone, on their artifacts, clocks and geo: the same answers."""
    from .conformance import cases, engine_for

    answered = asked = 0
    for case in cases():
        request = case.test["input"]["request"]
        execute = request.get("execute")
        if not isinstance(execute, dict) or set(execute) != {"pageLoad"} or "prefetch" in request:
            continue
        asked += 1
        engine = engine_for(case)
        if not case.test.get("mockDate"):  # the same millisecond for both paths
            geo = case.test.get("mockGeo")
            engine = DecisioningEngine(
                engine.artifact,
                client_code=engine.client_code,
                telemetry_enabled=engine.telemetry_enabled,
                geo_lookup=(lambda _ip, geo=geo: geo) if geo is not None else None,
                clock=lambda: NOW,
            )
        answered += run_both(engine, request, monkeypatch)
    assert asked > 5
    assert answered > 0


def test_client_hints_are_part_of_the_remembered_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chromium sends client hints on every request: the page's context is remembered with them (not rebuilt per
    request), and the same user agent and URL with other hints is another entry, whose rules see its own
    platform."""
    rule = _rule(random.Random(2), 1000, 0, 0, 100)
    rule["condition"] = {"==": [{"var": "user.platform"}, "windows"]}
    rule["consequence"]["options"] = [{"type": "html", "content": "<b>Windows</b>", "eventToken": "t"}]
    rule.pop("propertyTokens", None)
    artifact = global_mbox_artifact([rule])
    engine = DecisioningEngine(artifact, client_code="acme", clock=lambda: NOW)
    built: list[Any] = []
    general = pageload.base_context
    monkeypatch.setattr(pageload, "base_context", lambda *a: built.append(a) or general(*a))
    rng = random.Random(5)
    variants = [{"mobile": False, "platform": "macOS"}, {"mobile": False, "platform": "Windows"}, None]
    windows = []
    for hints in [*variants, *variants]:
        page = PageContext(url=URLS[0], user_agent=AGENTS[0], client_hints=hints, time_offset_minutes=0)
        request = build_request(
            execute=[Mbox(GLOBAL, {})], visitor=visitors(rng), context=page.to_json(send_ip_address=False)
        )
        assert run_both(engine, request, monkeypatch)
        answer = engine.decide_page_load(request)
        assert answer is not None
        assert answer.response.execute_page_load is not None
        windows.append(bool(answer.response.execute_page_load.options))
    assert windows == [False, True, False, False, True, False]  # AGENTS[0] is a Mac: only the hint says Windows
    assert len(built) == 3  # once per set of hints, the second round from the table


def test_a_hint_of_another_type_is_not_read_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only hints whose values are strings and booleans are remembered: ``1`` equals ``True`` (and hashes alike), so a
    request whose ``mobile`` is ``1`` is given its own context, never the one kept for ``True``."""
    engine = DecisioningEngine(generated_artifact(1), client_code="acme", clock=lambda: NOW)
    built: list[Any] = []
    general = pageload.base_context
    monkeypatch.setattr(pageload, "base_context", lambda *a: built.append(a) or general(*a))
    page = PageContext(url=URLS[0], user_agent=AGENTS[0], client_hints={"mobile": True}, time_offset_minutes=0)
    rng = random.Random(7)
    for mobile in (True, True, 1, 1, 1.0, "?1"):
        context = page.to_json(send_ip_address=False)
        context["clientHints"] = {"mobile": mobile}
        engine.decide_page_load(build_request(execute=[Mbox(GLOBAL, {})], visitor=visitors(rng), context=context))
    kinds = [type(args[0]["clientHints"]["mobile"]) for args in built]
    assert kinds == [bool, int, int, float, str]  # True once, then from the table; the others each time but "?1"


# -- the shared answer (read-only callers: the middleware) ----------------------------------------------------------


def test_a_shared_answer_is_the_general_paths_once_owned(monkeypatch: pytest.MonkeyPatch) -> None:
    """``shared=True``: the same answer for every request that matched the same rules (the one object, never a copy),
    and ``owned_response`` of it is the answer a caller that may change it gets (typed value, JSON with key order),
    with the same notifications and telemetry; its own copy shares no dict or list with the shared answer."""
    rng = random.Random(23)
    answered = 0
    for seed in range(60):
        engine = DecisioningEngine(generated_artifact(seed), client_code="acme", clock=lambda: NOW)
        for _ in range(6):
            request = request_for(rng, property_token=rng.choice(PROPERTY_TOKENS))
            decisions = []
            for shared in (False, True, True):
                counter = itertools.count()
                monkeypatch.setattr(pageload, "new_id", lambda c=counter: f"{next(c):032x}")
                monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
                decisions.append(engine.decide_page_load(request, shared=shared))
            mine, first, second = decisions
            if mine is None:
                assert first is None
                assert second is None
                continue
            answered += 1
            assert first is not None
            assert second is not None
            page_load = first.response.execute_page_load
            assert type(page_load) is SharedPageLoad
            assert second.response.execute_page_load is page_load  # the same answer, not a copy
            assert first.response.raw["execute"]["pageLoad"] is page_load.json
            owned = owned_response(first.response)
            assert owned == mine.response
            assert json.dumps(owned.raw) == json.dumps(mine.response.raw) == json.dumps(first.response.raw)
            assert first.notifications == mine.notifications
            assert _telemetry(first.telemetry) == _telemetry(mine.telemetry)
            shared_parts = {id(c) for c in _containers(page_load.json)}
            assert not shared_parts & {id(c) for c in _containers(owned.raw)}
            assert owned_response(mine.response) is mine.response  # nothing shared: nothing to copy
    assert answered > 150


def test_a_shared_answer_cannot_be_changed_and_copies_as_a_plain_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    engine = DecisioningEngine(generated_artifact(1), client_code="acme", clock=lambda: NOW)
    rng = random.Random(1)
    decision = None
    while decision is None:
        decision = engine.decide_page_load(request_for(rng), shared=True)
    page_load = decision.response.execute_page_load
    assert type(page_load) is SharedPageLoad
    with pytest.raises(dataclasses.FrozenInstanceError):
        page_load.json = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        page_load.options = ()  # type: ignore[misc]
    copied = copy.deepcopy(page_load)
    assert type(copied) is PageLoadResult
    assert (copied.options, copied.metrics, copied.state) == (page_load.options, page_load.metrics, None)
