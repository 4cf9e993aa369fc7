"""The A4T data island in a real browser: headless Chromium reads it back, and a hostile payload runs nothing.

Skipped, not failed, where there is no Chromium or no Playwright (see tests/demo/test_browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import AnalyticsSettings, MboxRule, TargetClient, TargetMiddleware
from tests.browser import chromium, needs_chromium
from tests.servers import serve

pytestmark = needs_chromium

HOSTILE = "</script><script>window.pwned = 1</script><!--<script>\u2028'\"&amp;"
READER = (
    "<script nonce='n0nce'>document.addEventListener('DOMContentLoaded', function () {"
    " window.a4t = JSON.parse(document.getElementById('target-a4t').textContent); });</script>"
)


@dataclass(frozen=True, slots=True)
class _Decision:
    response: dict[str, Any]
    notifications: tuple[dict[str, Any], ...] = ()
    remote_mboxes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _A4TDecider:
    """Answers the mbox with an offer and an Analytics payload whose tnta tries to break out of the island."""

    calls: list[Mapping[str, Any]] = field(default_factory=list)

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> _Decision:
        self.calls.append(request)
        mbox = {
            "index": 0,
            "name": "hero",
            "options": [{"type": "actions", "content": [{"type": "setHtml", "selector": "h1", "content": "Sale"}]}],
            "analytics": {"payload": {"pe": "tnt", "tnta": HOSTILE}},
        }
        return _Decision({"status": 200, "id": {"tntId": "t0.35_0"}, "execute": {"mboxes": [mbox]}})


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    async def page(request: Request) -> Response:
        body = f"<!doctype html><html><head>{READER}</head><body><h1>Shop</h1></body></html>"
        return HTMLResponse(body, headers={"content-security-policy": "script-src 'nonce-n0nce'"})

    client = TargetClient(
        "acme", "ABC123@AdobeOrg", decisioning="on-device", decider=_A4TDecider(), on_notifications=lambda n: None
    )
    app = Starlette(routes=[Route("/", page)])
    settings = AnalyticsSettings(logging="client_side", data_island_id="target-a4t")
    app.add_middleware(TargetMiddleware, client=client, rules=[MboxRule("/", mboxes=["hero"])], analytics=settings)
    with serve(app) as url:
        yield url


def test_the_island_reads_back_in_chromium_and_a_hostile_payload_runs_nothing(shop: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(shop + "/")
        page.wait_for_function("window.a4t !== undefined")
        assert page.evaluate("window.a4t") == {
            "logging": "client_side",
            "payloads": [{"pe": "tnt", "tnta": HOSTILE, "mbox": "hero"}],
        }
        assert page.evaluate("window.pwned") is None
        assert page.inner_text("h1") == "Sale"
        assert page.locator("script").count() == 2  # the reader and the island: nothing broke out
        assert errors == []
