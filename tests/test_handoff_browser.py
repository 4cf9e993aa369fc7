"""The at.js hand-off in headless Chromium: one serverState script, run under the page's CSP, hostile content inert.

at.js itself is in no package registry; what is tested is the contract it reads (``targetGlobalSettings`` set
before it loads, with ``serverState = {request, response}``) as a browser sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetMiddleware
from target_middleware.testing import actions_option, static_client
from tests.browser import chromium, needs_chromium
from tests.servers import serve

pytestmark = needs_chromium

NONCE = "n0nce4test"
PAGE = (
    "<!DOCTYPE html><html><head><title>Shop</title>"
    f"<script nonce='{NONCE}'>window.seenBeforeAtjs = !!(window.targetGlobalSettings || {{}}).serverState;</script>"
    "</head><body><h1 id='hero'>Welcome</h1><p id='text'>default</p></body></html>"
)
HOSTILE = [
    "</script><script>window.pwned = 1</script>",
    "<!--<script>window.pwned = 2</script>",
    "line\u2028separator\u2029and é ✓",
    "</SCRIPT ><img src=x onerror='window.pwned=3'>",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def handoff_app(csp: bool) -> Starlette:
    async def home(request: Request) -> Response:
        headers = {"content-security-policy": f"script-src 'nonce-{NONCE}'"} if csp else {}
        return HTMLResponse(PAGE, headers=headers)

    offers = {
        "target-global-mbox": [
            actions_option({"type": "setHtml", "selector": "#hero", "content": "Winter sale"}),
            # No #later in the server's HTML: handed to at.js, hostile content and all.
            actions_option(*({"type": "setHtml", "selector": "#later", "content": c} for c in HOSTILE)),
        ]
    }
    starlette = Starlette(routes=[Route("/", home)])
    rules = [MboxRule("/", mboxes=["target-global-mbox"])]
    starlette.add_middleware(TargetMiddleware, client=static_client(offers), rules=rules, handoff="atjs")
    return starlette


@pytest.mark.parametrize("csp", [False, True], ids=["no-csp", "csp-nonce"])
def test_one_server_state_script_runs_first_and_hostile_content_stays_text(browser: Any, csp: bool) -> None:
    errors: list[str] = []
    with serve(handoff_app(csp)) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url + "/")
            state = page.evaluate("() => window.targetGlobalSettings && window.targetGlobalSettings.serverState")
            assert state is not None, errors  # the script ran: under CSP only thanks to the page's nonce
            assert page.evaluate("() => window.seenBeforeAtjs") is True  # set before the page's own scripts
            assert page.evaluate("() => window.pwned") is None
            scripts = page.evaluate("() => [...document.scripts].map(s => s.textContent)")
            assert sum(s.startswith("window.targetGlobalSettings=") for s in scripts) == 1
            assert len(scripts) == 2  # ours and the page's: nothing the offer carried became a script
            assert page.locator("img").count() == 0
            assert page.inner_text("#hero") == "Winter sale"  # applied on the server
            options = state["response"]["execute"]["pageLoad"]["options"]
            assert [a["content"] for a in options[0]["content"]] == HOSTILE  # intact, for at.js to apply
            assert [a["selector"] for o in options for a in o["content"]] == ["#later"] * len(HOSTILE)
            if csp:
                nonce = page.evaluate("() => document.scripts[0].nonce")
                assert nonce == NONCE
            assert not [e for e in errors if "Content Security Policy" in e]
        finally:
            context.close()
