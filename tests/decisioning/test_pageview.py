"""The engine's typed page view (``decide_page_view``) against the request it stands in for, and the client's result.

``decide_page_view(page, ids, token, request_id)`` is ``decide_page_load`` (and ``decide`` then ``parse_response``)
of the request ``page_load_request`` builds for that page view: over generated page contexts (URLs long and empty,
user agents, client hints as dicts and read-only views, odd hint types), visitors (tntId, thirdPartyId, ECID,
customer ids, Audience Manager), property tokens and generated artifacts, the same typed answer, the same JSON (key
order included), notifications and telemetry, or None where the typed path leaves the page to the request's.

Through the client, the result of the typed path (its ``request`` made only when read) is the result of the path
that builds the request first and of the general one: the same values, the same request JSON and ``requestId`` as
the response and the telemetry carry, the same notifications queued.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware import TargetClient
from target_middleware.analytics import AnalyticsLogging, PageViewAnalytics
from target_middleware.decisioning import DecisioningEngine, pageload, procedure
from target_middleware.decisioning import engine as engine_module
from target_middleware.decisioning.artifact import Artifact
from target_middleware.delivery import client as client_module
from target_middleware.delivery import offers as offers_module
from target_middleware.delivery import params
from target_middleware.delivery.context import PageContext
from target_middleware.delivery.models import parse_response
from target_middleware.delivery.notifications import Pending
from target_middleware.delivery.offers import OffersRequest
from target_middleware.delivery.params import Mbox, page_load_ids, page_load_request
from target_middleware.delivery.shared import owned, owned_response
from target_middleware.identity import CustomerId
from target_middleware.visitor import Visitor
from tests.decisioning.artifacts import GLOBAL, global_mbox_artifact
from tests.decisioning.test_pageload import AGENTS, NOW, PROPERTY_TOKENS, URLS, _rule, generated_artifact

HINTS: list[Any] = [
    None,
    {},
    {"mobile": False, "platform": "macOS"},
    {"platform": "Windows"},
    {"mobile": True, "platform": "Android", "model": "Pixel 9"},
]
ODD_HINTS: list[Any] = [{"mobile": 1}, {"mobile": 1.0}, {"platform": None}, {1: "x"}]  # not a page view's types

urls = st.sampled_from([None, "", *URLS, "https://x.test/" + "a" * 5000])
hints = st.sampled_from(HINTS).flatmap(
    lambda h: st.sampled_from([h] if h is None else [dict(h), MappingProxyType(dict(h))])
)
pages = st.builds(
    PageContext,
    url=urls,
    referring_url=urls,
    user_agent=st.sampled_from([None, "", *AGENTS]),
    client_hints=hints | st.sampled_from(ODD_HINTS),
    ip_address=st.sampled_from([None, "203.0.113.9", "not an address"]),
    time_offset_minutes=st.sampled_from([None, 0, -300, 330.5]),
)
visitors = st.builds(
    Visitor,
    session_id=st.sampled_from(["s1", "a" * 32]),
    tnt_id=st.sampled_from([None, "0f3b9e2a4c5d6e7f8091a2b3c4d5e6f7.35_0", "abc", "7d2c.28_0"]),
    edge_cluster=st.sampled_from([None, "35", "28"]),
    third_party_id=st.sampled_from([None, None, "crm-7"]),
    marketing_cloud_visitor_id=st.sampled_from([None, None, "08743421337245362392147962341223"]),
    customer_ids=st.sampled_from([(), (CustomerId("c1", "crm"),)]),
    aam_location_hint=st.sampled_from([None, 9]),
    aam_blob=st.sampled_from([None, "blob"]),
)
analytics = st.sampled_from(
    [None, PageViewAnalytics(AnalyticsLogging.SERVER_SIDE, "1A2B3C4D5E6F7A8B-5C0D1E2F3A4B5C6D", "t.example.com")]
)


def referring_artifact(seed: int) -> Artifact:
    """An A/B activity whose experiences ask for the referring page too (the generated ones never read it)."""
    rng = random.Random(seed)
    tests = ({"in": ["adobe", {"var": "referring.domain"}]}, {"var": "referring.path"})
    rules = []
    for experience, (low, high), test in zip((0, 1), ((0, 50), (50, 100)), tests, strict=True):
        rule = _rule(rng, 2000, experience, low, high)
        rule["condition"] = {"and": [{"<=": [low, {"var": "allocation"}]}, {">=": [high, {"var": "allocation"}]}, test]}
        rule["consequence"]["options"] = [{"type": "html", "content": f"<b>{experience}</b>", "eventToken": "t"}]
        rule.pop("propertyTokens", None)
        rules.append(rule)
    return global_mbox_artifact(rules)


ARTIFACTS = {seed: generated_artifact(seed) for seed in range(40)} | {100 + s: referring_artifact(s) for s in range(8)}
_engines: dict[tuple[Any, ...], DecisioningEngine] = {}


def engine_for(seed: int, *key: Any, telemetry: bool = True) -> DecisioningEngine:
    """One engine per artifact (and ``key``) for the whole run: what it keeps from one page view (the rule context
    by page, the answers) serves the next ones, as in a server."""
    found = _engines.get((seed, telemetry, *key))
    if found is None:
        found = _engines[seed, telemetry, *key] = DecisioningEngine(
            ARTIFACTS[seed], client_code="acme", telemetry_enabled=telemetry, clock=lambda: NOW
        )
    return found


@contextmanager
def same_draws(request_id_source: Any = None) -> Iterator[Callable[[], None]]:
    """Ids drawn alike by each path: the notifications' and a visitor's without ids (allocation draws at random)."""
    with pytest.MonkeyPatch.context() as patch:

        def fresh() -> None:
            counter = itertools.count()
            for module in (procedure, pageload, engine_module):
                patch.setattr(module, "new_id", lambda: f"{next(counter):032x}")
            patch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=11))

        fresh()
        yield fresh


def _telemetry(entries: Any) -> list[dict[str, Any]]:
    assert all(isinstance(e["execution"], float) and e["execution"] >= 0 for e in entries)
    return [{**entry, "execution": 0} for entry in entries]


def _typed_types(page: PageContext) -> bool:
    """Whether ``page``'s client hints are of a page view's types (the typed path's to answer)."""
    hints = page.client_hints
    return hints is None or all(type(v) in (str, bool) and type(k) is str for k, v in hints.items())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=pages,
    visitor=visitors,
    token=st.sampled_from([None, "", *PROPERTY_TOKENS]),
    seed=st.sampled_from(sorted(ARTIFACTS)),
    shared=st.booleans(),
    telemetry=st.booleans(),
)
def test_the_typed_page_view_answers_as_its_request(  # noqa: PLR0917 (hypothesis's arguments)
    page: PageContext, visitor: Visitor, token: str | None, seed: int, shared: bool, telemetry: bool
) -> None:
    engine = engine_for(seed, telemetry=telemetry)
    request_id = "5" * 32
    body = page_load_request(visitor, page.to_json(send_ip_address=False), token, 7, None, request_id=request_id)
    with same_draws() as fresh:
        typed = engine.decide_page_view(page, page_load_ids(visitor), token, request_id, shared=shared)
        fresh()
        fast = engine.decide_page_load(body, shared=shared)
        fresh()
        general = engine.decide(body)
    if typed is None:
        assert fast is None or not _typed_types(page)  # left to the request's path, which answers it
        return
    assert _typed_types(page)
    assert fast is not None
    response, notifications, entries = typed
    assert response == fast.response
    assert owned_response(response) == parse_response(general.response)  # a shared answer as its owner has it
    assert json.dumps(response.raw) == json.dumps(fast.response.raw) == json.dumps(general.response)  # key order
    assert response.request_id == request_id
    assert notifications == fast.notifications == general.notifications
    assert _telemetry(entries) == _telemetry(fast.telemetry) == _telemetry(general.telemetry)


def test_the_typed_page_view_keeps_a_page_by_its_fields_and_the_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page view's rule context is worked out once per page (user agent, URL, referrer, hints), the table bounded."""
    monkeypatch.setattr(pageload, "_MAX_PAGES", 2)
    built: list[Any] = []
    general = pageload.base_context
    monkeypatch.setattr(pageload, "base_context", lambda *a: built.append(a) or general(*a))
    now = [NOW]
    engine = DecisioningEngine(ARTIFACTS[1], client_code="acme", clock=lambda: now[0])
    view = engine._page_load
    chrome = MappingProxyType({"mobile": False, "platform": "Windows"})
    pages = [PageContext(url=URLS[0], user_agent=AGENTS[0], client_hints=chrome), PageContext(url=URLS[1])]
    for page in (*pages, *pages):
        assert engine.decide_page_view(page, {"tntId": "t.35_0"}, None, "r" * 32) is not None
    assert len(built) == 2  # once a page
    now[0] += 60  # another minute: the time of day again, the page's parts kept
    assert engine.decide_page_view(pages[0], None, None, "r" * 32) is not None
    assert len(built) == 2
    assert engine.decide_page_view(PageContext(url=URLS[2]), None, None, "r" * 32) is not None
    assert len(view._views) <= 2
    assert len(built) == 3
    assert not view._pages  # the request's table is its own


class _Recorder:
    """The client's queue entries as queued (Pending values: visitor, page, notifications, telemetry, experienceCloud;
    ``owe`` queues every entry, ``put``'s too)."""

    def __init__(self, client: TargetClient) -> None:
        self.entries: list[Any] = []
        owe = client.notifications.owe
        client.notifications.owe = lambda *owed: self.entries.append(_made(*owed)) or owe(*owed)  # type: ignore[method-assign]


def _made(count: int, entry: Any) -> Pending:
    """The Pending an entry ``NotificationQueue.owe`` queues stands for (``count`` notifications)."""
    if isinstance(entry, Pending):
        return entry
    visitor, page, cloud, make, owed = entry
    made = Pending.of_decision(visitor, page, *make(owed), cloud)
    assert len(made.notifications) == count
    return made


def _pending(entry: Any) -> tuple[Any, ...]:
    return (entry.visitor, entry.page, entry.notifications, _telemetry(entry.telemetry), entry.experience_cloud)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=pages,
    visitor=visitors,
    token=st.sampled_from([None, *PROPERTY_TOKENS]),
    environment=st.sampled_from([None, 7]),
    seed=st.sampled_from(sorted(ARTIFACTS)),
    send_ip=st.booleans(),
    read_only=st.booleans(),
    page_analytics=analytics,
)
async def test_through_the_client_the_typed_path_gives_the_request_paths_result(  # noqa: PLR0917 (hypothesis's)
    page: PageContext,
    visitor: Visitor,
    token: str | None,
    environment: int | None,
    seed: int,
    send_ip: bool,
    read_only: bool,
    page_analytics: PageViewAnalytics | None,
) -> None:
    """Three clients on one artifact: the typed path, the request's fast path (``decide_page_load`` of the request
    built first) and the general path (``decide``, ``parse_response``): the same results (the request read last,
    made then), the same request JSON and ids, the same entries queued."""
    ways = ("typed", "request", "general")
    clients = {
        way: TargetClient(
            "acme",
            "O@AdobeOrg",
            decisioning="on-device",
            decider=engine_for(seed, way),
            property_token=token,
            environment_id=environment,
            send_ip_address=send_ip,
            on_notifications=lambda notes: None,
        )
        for way in ways
    }
    clients["request"]._page_view = None
    clients["general"]._page_view = clients["general"]._page_load = None
    recorders = {way: _Recorder(client) for way, client in clients.items()}
    request = OffersRequest(mboxes=[Mbox(GLOBAL)], page=page, analytics=page_analytics, read_only=read_only)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: NOW)  # the cookies' expiry, the server's offset: the same second
        for way in ways:
            with same_draws() as fresh:
                fresh()
                patch.setattr(params, "_request_id", lambda: "f" * 32)
                results[way] = await clients[way].get_offers(request, visitor=visitor)
    typed = results["typed"]
    # the ids the answer and its telemetry carry, read before the request is made, are the request's
    assert typed.response.request_id == "f" * 32
    entries = recorders["typed"].entries
    assert all(t["requestId"] == "f" * 32 for entry in entries for t in entry.telemetry)
    for way in ("request", "general"):
        assert json.dumps(typed.request) == json.dumps(results[way].request)  # key order included
        assert json.dumps(typed.raw) == json.dumps(results[way].raw)
        assert (owned(typed) if way == "general" else typed) == results[way]  # the general path shares nothing
        assert [_pending(e) for e in entries] == [_pending(e) for e in recorders[way].entries]
    assert typed.request["requestId"] == typed.response.request_id
    for client in clients.values():
        await client.aclose()


async def test_the_request_is_made_when_read_with_the_offset_of_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing builds the request or the raw answer until they are read; then they are those of the decision: its
    requestId, and the server's UTC offset when it was decided, not when read."""
    made: list[str] = []
    build = offers_module.page_load_request
    monkeypatch.setattr(offers_module, "page_load_request", lambda *a, **k: made.append("request") or build(*a, **k))
    raw = pageload._raw
    monkeypatch.setattr(pageload, "_raw", lambda *a: made.append("raw") or raw(*a))
    monkeypatch.setattr(client_module, "server_time_offset_minutes", lambda: 60.0)
    client = TargetClient(
        "acme",
        "O@AdobeOrg",
        decisioning="on-device",
        decider=DecisioningEngine(ARTIFACTS[3], client_code="acme", clock=lambda: NOW),
        on_notifications=lambda notes: None,
    )
    page = PageContext(url=URLS[0], user_agent=AGENTS[0])
    visitor = Visitor(session_id="s1", tnt_id="0f3b9e2a4c5d6e7f8091a2b3c4d5e6f7.35_0")
    result = await client.get_offers(OffersRequest(mboxes=[Mbox(GLOBAL)], page=page, read_only=True), visitor=visitor)
    assert result.page_load is not None
    assert result.cookies  # what the middleware reads: no request, no raw answer made for it
    assert made == []
    monkeypatch.setattr(client_module, "server_time_offset_minutes", lambda: 0.0)  # the offset changed since
    request = result.request
    assert made == ["request"]
    assert request["requestId"] == result.response.request_id
    assert request["context"]["timeOffsetInMinutes"] == 60.0
    assert result.request is request  # made once
    assert result.raw["requestId"] == request["requestId"]
    assert made == ["request", "raw"]
    await client.aclose()
