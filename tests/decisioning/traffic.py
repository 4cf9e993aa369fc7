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

__all__ = ["AGENTS", "HINTS", "Job", "Vocabulary", "traffic"]

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
]
AGENTS = {
    "chrome-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "firefox-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "ie11": "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    "edge-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
    "opera-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
    "chrome-linux": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36",
    "iphone-safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "iphone-chrome": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/120.0.6099.50 Mobile/15E148 Safari/604.1",
    "iphone-firefox": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",
    "android-chrome": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "android-chrome-reduced": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "android-samsung": "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "android-firefox": "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
    "android-webview": "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36",
    "android-edge": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.84",
    "android-opera": "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76872",
    "ipad-safari": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "android-tablet-chrome": "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "kindle-silk": "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/118.4.1 "
    "like Chrome/118.0.5993.144 Safari/537.36",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}
HINTS = {
    "chrome-android": {
        "mobile": True,
        "model": "Pixel 8",
        "platform": "Android",
        "platformVersion": "14.0.0",
        "browserUAWithMajorVersion": '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"',
        "browserUAWithFullVersion": '"Not_A Brand";v="8.0.0.0", "Chromium";v="120.0.6099.43", '
        '"Google Chrome";v="120.0.6099.43"',
    },
    "chrome-mac-major": {
        "mobile": False,
        "platform": "macOS",
        "browserUAWithMajorVersion": '"Chromium";v="110", "Not A(Brand";v="24", "Google Chrome";v="110"',
    },
    "edge-windows": {
        "mobile": False,
        "platform": "Windows",
        "platformVersion": "15.0.0",
        "architecture": "x86",
        "bitness": "64",
        "browserUAWithMajorVersion": '"Not_A Brand";v="8", "Chromium";v="120", "Microsoft Edge";v="120"',
    },
    "opera-windows": {
        "mobile": False,
        "platform": "Windows",
        "browserUAWithMajorVersion": '"Opera";v="105", "Chromium";v="119", "Not?A_Brand";v="24"',
    },
    "chromium-linux": {
        "mobile": False,
        "platform": "Linux",
        "browserUAWithMajorVersion": '"Chromium";v="120", "Not_A Brand";v="8"',
    },
    "samsung-android": {
        "mobile": True,
        "platform": "Android",
        "browserUAWithMajorVersion": '"Samsung Internet";v="23.0", "Chromium";v="115", "Not/A)Brand";v="99"',
    },
}
PARAMS = {
    "jason": ["correct", "wrong"],
    "greg": ["correct", "nope"],
    "foo": ["bar", "baz"],
    "favorite.color": ["Red", "blue"],
    "first.programming.language": ["Racket", "go"],
    "favorite.movie": ["The Big Lebowski", "Heat"],
}
PROFILE_PARAMS = [{}, {"loyalty": "gold"}, {"favoriteCategory": "shoes", "age": "42"}]
IPS = ["12.21.1.40", "203.0.113.7", "2001:db8::42"]
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
    if rng.random() < 0.05:
        details["address"] = {"url": rng.choice(URLS)}
    return details


def _context(rng: random.Random, vocabulary: Vocabulary) -> tuple[dict[str, Any], dict[str, Any]]:
    context: dict[str, Any] = {"channel": "web", "address": {"url": rng.choice(URLS)}}
    if rng.random() < 0.3:
        context["address"]["referringUrl"] = rng.choice(URLS)
    agent = rng.choice([*AGENTS, None]) if rng.random() < 0.9 else None
    if agent:
        context["userAgent"] = AGENTS[agent]
    if rng.random() < 0.25 or not agent and rng.random() < 0.5:
        context["clientHints"] = dict(HINTS[rng.choice(sorted(HINTS))])
    geo, lookup = _geo(rng, vocabulary)
    if geo:
        context["geo"] = geo
    return context, lookup


def _request(rng: random.Random, vocabulary: Vocabulary) -> tuple[dict[str, Any], dict[str, Any]]:
    context, lookup = _context(rng, vocabulary)
    request: dict[str, Any] = {"id": _visitor(rng), "context": context}
    shared = _params(rng, vocabulary)
    if rng.random() < 0.003:
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
