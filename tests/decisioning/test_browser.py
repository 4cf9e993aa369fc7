"""Browser and platform as a rule sees them: Adobe's Node SDK's classification (the differential checks it)."""

from __future__ import annotations

from typing import Any

import pytest

from target_middleware.decisioning.browser import browser, platform
from target_middleware.decisioning.context import user_context

from .agents import AGENTS, HINTS

EXPECTED_AGENTS = {
    "chrome-mac": ("chrome", 120, "mac"),
    "firefox-win": ("firefox", 121, "windows"),
    "safari-mac": ("safari", 17, "mac"),
    "ie11": ("ie", 11, "windows"),
    "edge-win": ("edge", 120, "windows"),
    "opera-win": ("chrome", 119, "windows"),  # Opera carries Chrome/ and no rule names Opera
    "chrome-linux": ("chrome", 120, "linux"),
    "iphone-safari": ("mobile safari", 17, "iOS"),
    "iphone-chrome": ("unknown", -1, "iOS"),  # CriOS/: no rule
    "iphone-firefox": ("unknown", -1, "iOS"),  # FxiOS/: no rule
    "android-chrome": ("chrome", 120, "Android"),
    "android-chrome-reduced": ("chrome", 120, "Android"),
    "android-samsung": ("chrome", 115, "Android"),
    "android-firefox": ("firefox", 121, "Android"),
    "android-webview": ("safari", 4, "Android"),  # Version/4.0 … Mobile Safari
    "android-edge": ("edge", 120, "Android"),
    "android-opera": ("chrome", 119, "Android"),
    "ipad-safari": ("mobile safari", 16, "iOS"),
    "android-tablet-chrome": ("chrome", 120, "Android"),
    "kindle-silk": ("chrome", 118, "Android"),
    "googlebot": ("unknown", -1, "unknown"),
}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_user_agents_of_desktops_phones_and_tablets(name: str) -> None:
    agent = AGENTS[name]
    assert (*browser(agent, {}), platform(agent, {})) == EXPECTED_AGENTS[name]


def test_every_agent_is_classified_in_the_table() -> None:
    assert set(EXPECTED_AGENTS) == set(AGENTS)


@pytest.mark.parametrize(
    ("hints", "agent", "expected"),
    [
        # The full-version list wins over the major versions, and hints name the browser over the agent.
        (HINTS["chrome-android"], AGENTS["android-samsung"], ("chrome", 120, "Android")),
        (HINTS["edge-windows"], AGENTS["chrome-mac"], ("edge", 120, "windows")),
        (HINTS["chrome-mac-major"], "", ("chrome", 110, "mac")),
        # Hints that name no browser the rules know leave the agent's, but their platform still counts.
        (HINTS["opera-windows"], AGENTS["opera-win"], ("chrome", 119, "windows")),
        (HINTS["chromium-linux"], "", ("unknown", -1, "linux")),
        (HINTS["samsung-android"], AGENTS["android-samsung"], ("chrome", 115, "Android")),
        ({"platform": "Chrome OS"}, AGENTS["chrome-linux"], ("chrome", 120, "Chrome OS")),
        ({"mobile": True}, AGENTS["iphone-safari"], ("mobile safari", 17, "iOS")),
    ],
)
def test_client_hints(hints: dict[str, Any], agent: str, expected: tuple[str, int, str]) -> None:
    assert (*browser(agent, hints), platform(agent, hints)) == expected


def test_user_context_reads_both_and_tolerates_junk() -> None:
    user = user_context(AGENTS["android-chrome"], HINTS["edge-windows"])
    assert user == {"browserType": "edge", "browserVersion": 120, "platform": "windows", "locale": "en"}
    assert user_context(None, "not hints") == {
        "browserType": "unknown",
        "browserVersion": -1,
        "platform": "unknown",
        "locale": "en",
    }
    assert browser("Mozilla/5.0 Chrome/abc", {})[1] == -1
    assert browser("Mozilla/5.0 (Windows NT 10.0) Firefox/121.0\n", {})[0] == "unknown"  # at its very end
