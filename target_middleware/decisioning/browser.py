"""``user.browserType``, ``user.browserVersion`` and ``user.platform``: the browser and OS a rule sees.

Target's audiences name a handful of browsers ("chrome", "firefox", "safari", "ie", "edge") and platforms.
We classify the way Adobe's Node SDK, the reference for on-device decisioning, does (checked against it on
generated traffic, tests/decisioning/test_node_differential.py), not the way a general user-agent parser
would: Chrome on Android is "chrome" (so a "Chrome browser" audience reaches phones), an iPhone's Safari is
"mobile safari", and, as in Node, an Android WebView (``Version/4.0 … Safari``) is "safari" and Opera and
Samsung Internet (which carry ``Chrome/``) are "chrome".

The rules, first match wins, on the user agent (case-insensitive):

==================  =====================================================  ===============================
browserType         the user agent has                                      version from
==================  =====================================================  ===============================
``edge``            ``Edge/``, ``Edg/``, ``EdgA/`` or ``EdgiOS/``           that token
``mobile safari``   ``Version/`` … ``Mobile/<build> Safari``                ``Version/``
``safari``          ``Version/`` … ``Safari`` (or ``Mobile Safari``)        ``Version/``
``chrome``          ``Chrome/``                                             ``Chrome/``
``firefox``         ``Firefox/<version>`` at its end                        ``Firefox/``
``ie``              ``MSIE <version>``, or ``Trident`` … ``rv:`` … ``like   ``MSIE`` or ``rv:``
                    Gecko``
``unknown``         none of these                                           -1
==================  =====================================================  ===============================

Client hints (``Sec-CH-UA``, or better ``Sec-CH-UA-Full-Version-List``) name the browser over the user agent
when they name Chrome, Edge, Safari or Firefox (in that order of preference), and give its version; their
``platform`` replaces the user agent's. The version is the major number (-1 when there is none).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["browser", "platform"]

UNKNOWN = "unknown"

_AGENT_RULES = tuple(
    (name, re.compile(pattern, re.IGNORECASE | re.ASCII))
    for name, pattern in (
        ("edge", r"(?:edge|edgios|edga|edg)/(?P<v>[\w.]+)"),
        ("mobile safari", r"version/(?P<v>[\w.]+).+?mobile/\w+\ssafari"),
        ("safari", r"version/(?P<v>[\w.]+).+?safari"),
        ("chrome", r"chrome/v?(?P<v>[\w.]+)"),
        ("firefox", r"firefox/(?P<v>[\w.-]+)\Z"),
        ("ie", r"(?:ms|\()ie\s(?P<v>[\w.]+)"),
        ("ie", r"trident.+rv[:\s](?P<v>[\w.]+).+like\sgecko"),
    )
)
_HINT_RULES = tuple(
    (name, re.compile(rf'{brand}";v="(?P<v>[0-9.]+)"', re.IGNORECASE | re.ASCII))
    for name, brand in (("chrome", "chrome"), ("edge", "edge"), ("safari", "safari"), ("firefox", "firefox"))
)
# Most specific first: an iPad's user agent also says "like Mac OS X", an Android's says "Linux".
_PLATFORM_RULES = tuple(
    (name, re.compile(pattern, re.ASCII))
    for name, pattern in (
        ("iOS", r"iPhone|iPad|iPod"),
        ("Android", r"Android [0-9.]+;"),
        ("linux", r" Linux "),
        ("Unix", r"FreeBSD|OpenBSD|CrOS"),
        ("windows", r"[( ]Windows "),
        ("mac", r"Macintosh;"),
    )
)
_PLATFORM_NAMES = {"Windows": "windows", "Macintosh": "mac", "Mac OS": "mac", "macOS": "mac", "Linux": "linux"}
_LEADING_DIGITS = re.compile(r"\d+")


def _major(version: str) -> int:
    digits = _LEADING_DIGITS.match(version.split(".", 1)[0])
    return int(digits.group()) if digits else -1


@functools.lru_cache(maxsize=1024)
def _from_agent(user_agent: str) -> tuple[str, int]:
    for name, rule in _AGENT_RULES:
        found = rule.search(user_agent)
        if found:
            return name, _major(found["v"])
    return UNKNOWN, -1


def _from_hints(brands: str) -> tuple[str, int]:
    for name, rule in _HINT_RULES:
        found = rule.search(brands)
        if found:
            return name, _major(found["v"])
    return UNKNOWN, -1


def browser(user_agent: str, hints: Mapping[str, Any]) -> tuple[str, int]:
    """(browserType, browserVersion) from the user agent, named over by client hints that name a browser."""
    name, version = _from_agent(user_agent)
    brands = hints.get("browserUAWithFullVersion") or hints.get("browserUAWithMajorVersion")
    if isinstance(brands, str) and brands:
        hinted_name, hinted_version = _from_hints(brands)
        name = hinted_name if hinted_name != UNKNOWN else name
        version = hinted_version if hinted_version >= 0 else version
    return name, version


@functools.lru_cache(maxsize=1024)
def _platform_from_agent(user_agent: str) -> str:
    return next((name for name, rule in _PLATFORM_RULES if rule.search(user_agent)), UNKNOWN)


def platform(user_agent: str, hints: Mapping[str, Any]) -> str:
    """``user.platform``: the client hints' platform when there is one, else the user agent's."""
    hinted = hints.get("platform")
    if hinted is not None:
        text = str(hinted)
        return _PLATFORM_NAMES.get(text, text)
    return _platform_from_agent(user_agent)
