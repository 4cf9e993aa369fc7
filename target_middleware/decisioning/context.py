"""The rule context: what a condition can ask about the request.

``{current_timestamp, current_time, current_day, user, page, referring, geo}`` for the whole request, plus
``mbox`` (the mbox's params) and ``allocation`` per rule, as Target's artifacts expect them (NOTES.md §4).
URL parts come from the Public Suffix List shipped with ``publicsuffixlist`` (private suffixes included, so
``us-east-1.elasticbeanstalk.com`` is a top-level domain); browser and platform from the user agent and the
client hints, classified as Adobe's Node SDK does (browser.py). Both parses are cached in bounded LRUs keyed
by the URL or the user agent, never by visitor. Cached parts are shared by requests: the engine only reads them, and
the trace copies them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from .browser import browser, platform

__all__ = [
    "JSON_OBJECT",
    "base_context",
    "geo_context",
    "mbox_context",
    "time_context",
    "url_context",
    "user_context",
    "warm_up",
]

JSON_OBJECT = (dict, Mapping)  # a tuple: dict matches first, at a fraction of the ABC check

_URL_KEYS = ("url", "path", "query", "fragment", "domain", "subdomain", "topLevelDomain")


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def _with_lowercase(parts: dict[str, Any]) -> dict[str, Any]:
    result = dict(parts)
    for key, value in parts.items():
        result[f"{key}_lc"] = value.lower() if isinstance(value, str) else value
    return result


_HOST_FIRST = re.compile(r"[^\s/?#:]+(?:[/?#]|$)")


@functools.lru_cache(maxsize=2048)
def _url_parts(url: str) -> Mapping[str, Any]:
    parts: dict[str, Any] = dict.fromkeys(_URL_KEYS, "")
    parts["url"] = url
    if url:
        try:
            split = urlsplit(url)
            if not split.scheme and not split.netloc and _HOST_FIRST.match(url):
                # "shop.example.com/cart": a host first, as Adobe's Node SDK (and an address bar) reads it.
                split = urlsplit(f"//{url}")
            host = split.hostname or ""
        except ValueError:
            split, host = None, ""
        if split is not None:
            parts["path"], parts["query"], parts["fragment"] = split.path, split.query, split.fragment
        suffix = _psl().publicsuffix(host, accept_unknown=False) if host else None
        if suffix is None or suffix == host:
            parts["domain"] = host
        else:
            registrable = host[: -len(suffix) - 1].rsplit(".", 1)[-1] + "." + suffix
            subdomain = host[: -len(registrable) - 1] if len(host) > len(registrable) else ""
            if subdomain == "www" or subdomain.startswith("www."):
                subdomain = subdomain[4:]
            parts.update(domain=registrable, subdomain=subdomain, topLevelDomain=suffix)
    return _with_lowercase(parts)


def url_context(url: Any) -> Mapping[str, Any]:
    """``page``/``referring``: url, path, query, fragment, domain, subdomain, topLevelDomain (+ ``_lc``)."""
    return _url_parts(url if isinstance(url, str) else "")


def _user(agent: str, hints: Mapping[str, Any]) -> Mapping[str, Any]:
    browser_type, browser_version = browser(agent, hints)
    return {
        "browserType": browser_type,
        "platform": platform(agent, hints),
        "locale": "en",
        "browserVersion": browser_version,
    }


@functools.lru_cache(maxsize=1024)
def _user_from_agent(agent: str) -> Mapping[str, Any]:
    return _user(agent, {})


def user_context(user_agent: Any, client_hints: Any = None) -> Mapping[str, Any]:
    """``user``: browserType, browserVersion (major, -1 when unknown), platform, locale."""
    agent = user_agent if isinstance(user_agent, str) else ""
    hints = client_hints if isinstance(client_hints, JSON_OBJECT) else {}
    return _user(agent, hints) if hints else _user_from_agent(agent)


def geo_context(geo: Any) -> dict[str, Any]:
    """``geo``: country, region, city, latitude, longitude, from a Delivery API ``context.geo``."""
    if not isinstance(geo, JSON_OBJECT):
        return {}
    pairs = (
        ("country", "countryCode"),
        ("region", "stateCode"),
        ("city", "city"),
        ("latitude", "latitude"),
        ("longitude", "longitude"),
    )
    return {ours: geo[theirs] for ours, theirs in pairs if geo.get(theirs) not in (None, "")}


def time_context(now_ms: int) -> dict[str, Any]:
    """current_timestamp (ms), current_time ("HHmm", UTC) and current_day (1 = Monday … 7 = Sunday)."""
    minutes = now_ms // 60_000
    day = ((now_ms // 86_400_000) + 3) % 7 + 1  # 1970-01-01 was a Thursday (4)
    return {
        "current_timestamp": now_ms,
        "current_time": f"{minutes // 60 % 24:02d}{minutes % 60:02d}",
        "current_day": day,
    }


def _unflatten(params: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in params.items():
        if "." in key and ".." not in key and not key.startswith(".") and not key.endswith("."):
            node = result
            *parents, leaf = key.split(".")
            for part in parents:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[leaf] = value
        else:
            result[key] = value
    return result


def _lowercase_twins(obj: dict[str, Any]) -> dict[str, Any]:
    result = dict(obj)
    for key, value in obj.items():
        if isinstance(value, str):
            result[f"{key}_lc"] = value.lower()
        elif isinstance(value, dict):
            result[key] = _lowercase_twins(value)
    return result


def mbox_context(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``mbox``: the params of an mbox (or view, or pageLoad), dotted names nested, with ``_lc`` twins."""
    params = details.get("parameters") if details else None
    if not isinstance(params, JSON_OBJECT) or not params:
        return {}
    return _lowercase_twins(_unflatten(params))


def warm_up() -> None:
    """Load the suffix list now (~0.3 s), not on a visitor's request."""
    url_context("https://www.example.co.uk/")


def base_context(request_context: Mapping[str, Any], now_ms: int, geo: Mapping[str, Any]) -> dict[str, Any]:
    """The request-wide part of the rule context."""
    address = request_context.get("address")
    address = address if isinstance(address, JSON_OBJECT) else {}
    ctx = time_context(now_ms)
    ctx["user"] = user_context(request_context.get("userAgent"), request_context.get("clientHints"))
    ctx["page"] = url_context(address.get("url"))
    ctx["referring"] = url_context(address.get("referringUrl"))
    ctx["geo"] = dict(geo)
    return ctx
