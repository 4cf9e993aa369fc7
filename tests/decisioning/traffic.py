"""Seeded random Delivery API traffic for the differential tests against Adobe's SDKs.

Each artifact lends its own vocabulary: the mboxes, views and property tokens it names, and the values its
conditions compare (mbox params, geo, timestamps), so that generated requests land on both sides of every
rule. Around that: visitor ids of every kind, pages and referrers, user agents of desktops, phones and
tablets, client hints with and without a user agent, geo given or looked up from an IP address, instants at
the edges of timeframes and days, execute and prefetch with mboxes, pageLoad and views, profile params.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .agents import AGENTS, HINTS

__all__ = ["Job", "Vocabulary", "traffic"]

DAY_MS = 86_400_000
RANDOM_INSTANTS = (1_577_836_800_000, 1_672_531_200_000)  # 2020-01-01 .. 2023-01-01 UTC

URLS = [
    "http://local-target-test/",
    "http://local-target-test/home?bar=true#hello",
    "http://local-target-test/contact",
    "https://pied.piper.decentralized.test.hooli.com/?implementation=psl",
    "https://test.wayne-enterprises.us-east-1.elasticbeanstalk.com",
    "https://www.adobe.com/products?bar=1",
    "https://m.shop.example.co.uk/cart?Color=RED#top",
    "https://www.shop.example.com/p/42?utm_source=news",
    "http://localhost:8000/",
    "http://local-target-test:8080/?bar=1",
    "HTTPS://WWW.Adobe.COM/Products?Bar=1",
    "http://127.0.0.1:8000/contact",
    "https://bücher.example.de/straße?q=ä",
    "local-target-test/",
]
PARAMS = {
    "jason": ["correct", "wrong"],
    "greg": ["correct", "nope"],
    "foo": ["bar", "baz"],
    "favorite.color": ["Red", "blue"],
    "first.programming.language": ["Racket", "go"],
    "favorite.movie": ["The Big Lebowski", "Heat"],
}
PROFILE_PARAMS = [{}, {"loyalty": "gold"}, {"favoriteCategory": "shoes", "age": "42"}]
IPS = ["12.21.1.40", "203.0.113.7", "2001:db8::42", " 198.51.100.9 ", "999.1.2.3", "testclient"]
GEO_KEYS = {"geo.country": "countryCode", "geo.region": "stateCode", "geo.city": "city"}
GEO_HEADERS = {
    "countryCode": "x-geo-country-code",
    "stateCode": "x-geo-region-code",
    "city": "x-geo-city",
    "latitude": "x-geo-latitude",
    "longitude": "x-geo-longitude",
}


@dataclass(frozen=True, slots=True)
class Job:
    """One generated request, and what both deciders are told about the world when they decide it."""

    artifact: str
    now_ms: int
    request: dict[str, Any]
    geo_lookup: dict[str, Any] = field(default_factory=dict)  # what /v1/geo answers for the request's IP


@dataclass(slots=True)
class Vocabulary:
    """What an artifact's rules name and compare."""

    mboxes: list[str]
    views: list[str]
    tokens: list[str]
    params: dict[str, list[Any]]
    geo: dict[str, list[Any]]
    instants: list[int]

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Vocabulary:
        rules = payload.get("rules") or {}
        mbox_rules, view_rules = rules.get("mboxes") or {}, rules.get("views") or {}
        mboxes = {*mbox_rules, *(payload.get("localMboxes") or ()), *(payload.get("remoteMboxes") or ())}
        views = {*view_rules, *(payload.get("localViews") or ()), *(payload.get("remoteViews") or ())}
        every_rule = [r for group in (*mbox_rules.values(), *view_rules.values()) for r in group]
        tokens = sorted({t for r in every_rule for t in r.get("propertyTokens") or ()})
        params: dict[str, list[Any]] = {k: list(v) for k, v in PARAMS.items()}
        geo: dict[str, list[Any]] = {}
        instants: set[int] = set()
        for name, literal in _comparisons([r.get("condition") for r in every_rule]):
            if name.startswith("mbox."):
                key = name.removeprefix("mbox.").removesuffix("_lc")
                text = str(literal)
                params.setdefault(key, []).extend([text, text.upper(), text.title()])
            elif name in GEO_KEYS:
                geo.setdefault(GEO_KEYS[name], []).append(literal)
            elif name in ("geo.latitude", "geo.longitude") and isinstance(literal, (int, float)):
                geo.setdefault(name.removeprefix("geo."), []).extend([literal, literal - 0.01, literal + 0.01])
            elif name == "current_timestamp" and isinstance(literal, int):
                instants.update((literal - 1, literal, literal + 1))
        for instant in list(instants):
            midnight = instant - instant % DAY_MS  # the day's edges around each timestamp the rules name
            instants.update(midnight + k * DAY_MS + edge for k in (-1, 0, 1) for edge in (0, DAY_MS - 1, 86_340_000))
        return cls(
            mboxes=sorted(mboxes | {payload.get("globalMbox") or "target-global-mbox", "no-such-mbox"}),
            views=sorted(views | {"no-such-view"}) if views else [],
            tokens=[*tokens, "unknown-token"],
            params={k: sorted(set(v)) for k, v in params.items()},
            geo={k: sorted(set(v), key=str) for k, v in geo.items()},
            instants=sorted(instants),
        )


def _comparisons(conditions: list[Any]) -> Iterator[tuple[str, Any]]:
    """(variable, literal) for every comparison in the conditions, e.g. ``{"==": ["bar", {"var": "mbox.foo"}]}``."""
    stack = list(conditions)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for args in node.values():
                if isinstance(args, list):
                    names = [a["var"] for a in args if isinstance(a, dict) and isinstance(a.get("var"), str)]
                    literals = [a for a in args if isinstance(a, (str, int, float)) and not isinstance(a, bool)]
                    yield from ((n, lit) for n in names for lit in literals)
                stack.append(args)


def _visitor(rng: random.Random) -> dict[str, Any]:
    hexid = f"{rng.getrandbits(128):032x}"
    kind = rng.randrange(6)
    if kind == 0:
        return {"tntId": hexid}
    if kind == 1:
        return {"tntId": f"{hexid}.28_0"}
    if kind == 2:
        return {"marketingCloudVisitorId": str(rng.getrandbits(120)).zfill(38)[:38]}
    if kind == 3:
        return {"thirdPartyId": f"crm-{hexid[:12]}"}
    if kind == 4:
        return {"tntId": f"{hexid}.35_0", "marketingCloudVisitorId": str(rng.getrandbits(120)).zfill(38)[:38]}
    return {
        "thirdPartyId": f"crm-{hexid[:12]}",
        "customerIds": [{"id": hexid[:10], "integrationCode": "crm", "authenticatedState": "authenticated"}],
    }


def _geo(rng: random.Random, vocabulary: Vocabulary) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request's ``context.geo`` and what a lookup of its IP address answers."""

    def values() -> dict[str, Any]:
        chosen = {k: rng.choice(v) for k, v in vocabulary.geo.items() if rng.random() < 0.8}
        if rng.random() < 0.3:
            chosen["city"] = rng.choice(["PARIS", "Toronto", "san francisco"])
        return chosen

    mode = rng.randrange(4)
    if mode == 0:
        return {}, {}
    if mode == 1:
        return values(), {}
    if mode == 2:  # only an IP address: the SDK looks it up (when the artifact enables geo targeting)
        return {"ipAddress": rng.choice(IPS)}, {GEO_HEADERS[k]: v for k, v in values().items()}
    return {"ipAddress": rng.choice(IPS), **values()}, {"x-geo-city": "NOWHERE"}


def _instant(rng: random.Random, vocabulary: Vocabulary) -> int:
    if vocabulary.instants and rng.random() < 0.5:
        return rng.choice(vocabulary.instants)
    instant = rng.randrange(*RANDOM_INSTANTS)
    if rng.random() < 0.3:  # at the edge of a day: midnight, a millisecond before, a minute before
        instant = instant - instant % DAY_MS + rng.choice([0, DAY_MS - 1, DAY_MS - 60_000])
    return instant


def _params(rng: random.Random, vocabulary: Vocabulary) -> dict[str, Any]:
    return {k: rng.choice(v) for k, v in vocabulary.params.items() if rng.random() < 0.4}


def _details(rng: random.Random, vocabulary: Vocabulary, shared: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    params = shared if rng.random() < 0.6 else _params(rng, vocabulary)
    if params:
        details["parameters"] = dict(params)
    profile = rng.choice(PROFILE_PARAMS)
    if profile:
        details["profileParameters"] = profile
    if rng.random() < 0.01:
        details["address"] = {"url": rng.choice(URLS)}
    return details


def _context(rng: random.Random, vocabulary: Vocabulary) -> tuple[dict[str, Any], dict[str, Any]]:
    context: dict[str, Any] = {"channel": "web", "address": {"url": rng.choice(URLS)}}
    if rng.random() < 0.3:
        context["address"]["referringUrl"] = rng.choice(URLS)
    agent = rng.choice([*AGENTS, None]) if rng.random() < 0.9 else None
    if agent:
        context["userAgent"] = AGENTS[agent]
    if rng.random() < 0.25 or (not agent and rng.random() < 0.5):
        context["clientHints"] = dict(HINTS[rng.choice(sorted(HINTS))])
    geo, lookup = _geo(rng, vocabulary)
    if geo:
        context["geo"] = geo
    return context, lookup


def _request(rng: random.Random, vocabulary: Vocabulary) -> tuple[dict[str, Any], dict[str, Any]]:
    context, lookup = _context(rng, vocabulary)
    request: dict[str, Any] = {"id": _visitor(rng), "context": context}
    shared = _params(rng, vocabulary)
    if rng.random() < 0.01:
        shared = {"foo": "bar", "foo.nested": "x"}  # a name that is both a value and a parent of another
    modes = rng.choice([["execute"], ["prefetch"], ["execute", "prefetch"]])
    for mode in modes:
        part: dict[str, Any] = {}
        chosen = rng.sample(vocabulary.mboxes, k=rng.randint(0, min(3, len(vocabulary.mboxes))))
        if chosen:
            part["mboxes"] = [
                {"name": name, "index": i, **_details(rng, vocabulary, shared)} for i, name in enumerate(chosen)
            ]
        if rng.random() < 0.5 or not chosen:
            part["pageLoad"] = _details(rng, vocabulary, shared)
        if mode == "prefetch" and vocabulary.views and rng.random() < 0.6:
            names = rng.sample([*vocabulary.views, None], k=rng.randint(1, 2))
            part["views"] = [
                {**({"name": name} if name else {}), **_details(rng, vocabulary, shared)} for name in names
            ]
        request[mode] = part
    if rng.random() < 0.5:
        request["property"] = {"token": rng.choice(vocabulary.tokens)}
    return request, lookup


def traffic(seed: int, artifacts: dict[str, dict[str, Any]], per_artifact: int) -> list[Job]:
    """``per_artifact`` requests for each named artifact payload, the same for the same seed."""
    rng = random.Random(seed)
    jobs = []
    for name in sorted(artifacts):
        vocabulary = Vocabulary.of(artifacts[name])
        for _ in range(per_artifact):
            request, lookup = _request(rng, vocabulary)
            jobs.append(Job(name, _instant(rng, vocabulary), json.loads(json.dumps(request)), lookup))
    return jobs
