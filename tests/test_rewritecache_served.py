"""The rewrite cache through uvicorn: hits sent as a fresh rewrite would be, per-visitor parts never shared."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.testing import StaticDecider, actions_option, static_client
from tests.servers import serve

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

PAGE = (
    '<!DOCTYPE html><html><head><title>Shop</title></head><body><h1 id="hero">Welcome</h1>'
    '<a id="cta" href="/">Go</a><div id="slot">default</div></body></html>'
)
WINTER = actions_option(
    {"type": "setHtml", "selector": "#hero", "content": "Winter sale"},
    {"type": "setAttribute", "selector": "#cta", "content": {"href": "/sale"}},
)
SUMMER = actions_option({"type": "setHtml", "selector": "#hero", "content": "Summer sale"})
TRACKED = actions_option({"type": "appendHtml", "selector": "BODY", "content": "<script>track()</script>"})
MISSING = actions_option({"type": "setHtml", "selector": "#nowhere", "content": "x"})


class ExperienceDecider(StaticDecider):
    """Visitors whose tntId starts with ``b`` get the summer experience, everyone else the winter one."""

    def decide(self, request: Any, *, session_id: str | None = None) -> Any:
        decision = StaticDecider.decide(self, request, session_id=session_id)
        summer = (request.get("id") or {}).get("tntId", "").startswith("b")
        for mbox in decision.response["execute"].get("mboxes", []):
            if mbox["name"] == "hero":
                mbox["options"] = [SUMMER if summer else WINTER]
        return decision


def shop(stats: TargetStats, **options: Any) -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"etag": '"v1"'})

    async def product(request: Request) -> Response:
        return HTMLResponse(PAGE.replace("Shop", request.path_params["sku"]))

    async def csp(request: Request) -> Response:  # a fresh nonce per request, as strict CSP wants
        policy = f"script-src 'nonce-{secrets.token_urlsafe(12)}'"
        return HTMLResponse(PAGE, headers={"content-security-policy": policy})

    routes = [Route("/", page), Route("/products/{sku}", product), Route(r"/csp/{kind}", csp)]
    for path in ("/redirect", "/missing"):
        routes.append(Route(path, page))
    app = Starlette(routes=routes)
    decider = ExperienceDecider(
        {
            "tracked": [TRACKED],
            "jump": [{"type": "redirect", "content": "https://shop.example/sale"}],
            "gone": [MISSING],
        }
    )
    client = TargetClient("acme", "O@AdobeOrg", decisioning="on-device", decider=decider, on_notifications=_drop)
    rules = [
        MboxRule("/csp/script", mboxes=["tracked"]),
        MboxRule("/redirect", mboxes=["jump"]),
        MboxRule("/missing", mboxes=["gone"]),
        MboxRule("/{p:path}", mboxes=["hero"]),
    ]
    app.add_middleware(TargetMiddleware, client=client, rules=rules, debug_header=True, stats=stats, **options)
    return app


def _drop(notifications: Any) -> None:
    return None


def visitor(tnt: str, session: str) -> dict[str, str]:
    later = int(time.time()) + 900
    return {"cookie": f"mbox=session%23{session}%23{later}%7CPC%23{tnt}.35_0%23{later}"}


def mbox_cookie(response: httpx.Response) -> str:
    return unquote(next(c for c in response.headers.get_list("set-cookie") if c.startswith("mbox=")))


SAME_AS_FRESH = ("content-type", "content-length", "vary", "cache-control", "x-target-actions")


async def test_the_same_page_and_experience_is_rewritten_once_and_sent_as_a_fresh_rewrite_is() -> None:
    cached_stats, fresh_stats = TargetStats(), TargetStats()
    with serve(shop(cached_stats)) as cached, serve(shop(fresh_stats, rewrite_cache=0)) as fresh:
        async with httpx.AsyncClient(timeout=30) as http:
            first = await http.get(cached + "/", headers=visitor("a1", "s1"))
            second = await http.get(cached + "/", headers=visitor("a2", "s2"))
            reference = await http.get(fresh + "/", headers=visitor("a2", "s2"))
    assert second.content == reference.content == first.content
    assert '<h1 id="hero">Winter sale</h1>' in second.text
    assert '<a id="cta" href="/sale">' in second.text
    for name in SAME_AS_FRESH:
        assert second.headers[name] == reference.headers[name], name
    assert "etag" not in second.headers
    assert re.fullmatch(r"target;dur=\d+\.\d", second.headers["server-timing"])
    # Each visitor has their own cookies, although both pages came from one entry.
    assert "session#s1#" in mbox_cookie(first)
    assert "PC#a1.35_0#" in mbox_cookie(first)
    assert "session#s2#" in mbox_cookie(second)
    assert "PC#a2.35_0#" in mbox_cookie(second)
    assert mbox_cookie(second) == mbox_cookie(reference)
    assert cached_stats["rewrite-cache-miss"] == 1
    assert cached_stats["rewrite-cache-hit"] == 1
    assert cached_stats["applied"] == 2
    assert "rewrite-cache-hit" not in fresh_stats
    assert "rewrite-cache-miss" not in fresh_stats


async def test_a_page_one_byte_apart_or_another_experience_is_rewritten_fresh() -> None:
    stats = TargetStats()
    with serve(shop(stats)) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            tent = await http.get(url + "/products/tent", headers=visitor("a1", "s1"))
            tens = await http.get(url + "/products/tens", headers=visitor("a1", "s1"))
            summer = await http.get(url + "/products/tent", headers=visitor("b1", "s2"))
            winter_again = await http.get(url + "/products/tent", headers=visitor("a3", "s3"))
    assert "<title>tent</title>" in tent.text
    assert "<title>tens</title>" in tens.text
    assert "Winter sale" in tent.text
    assert "Summer sale" in summer.text
    assert "Winter sale" not in summer.text
    assert winter_again.content == tent.content
    assert stats["rewrite-cache-miss"] == 3
    assert stats["rewrite-cache-hit"] == 1


async def test_two_visitors_with_one_experience_and_a_nonce_per_request_each_get_their_own() -> None:
    stats = TargetStats()
    with serve(shop(stats)) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            scripts = [await http.get(url + "/csp/script", headers=visitor(f"a{i}", f"s{i}")) for i in range(2)]
            texts = [await http.get(url + "/csp/text", headers=visitor(f"a{i}", f"s{i}")) for i in range(2)]
    nonces = []
    for i, response in enumerate(scripts):
        nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
        assert nonce
        nonces.append(nonce.group(1))
        assert f'<script nonce="{nonce.group(1)}">track()</script>' in response.text  # its own, not the other's
        assert f"session#s{i}#" in mbox_cookie(response)
        assert f"PC#a{i}.35_0#" in mbox_cookie(response)
    assert nonces[0] != nonces[1]
    # An offer that cannot carry the nonce is shared although each page has its own.
    assert texts[0].content == texts[1].content
    assert texts[0].headers["content-security-policy"] != texts[1].headers["content-security-policy"]
    for i, response in enumerate(texts):
        assert f"session#s{i}#" in mbox_cookie(response)
    assert stats["rewrite-cache-miss"] == 3
    assert stats["rewrite-cache-hit"] == 1


@pytest.mark.parametrize("offload_size", [1, 256 * 1024])
async def test_many_requests_for_one_key_at_once_make_one_rewrite(offload_size: int) -> None:
    stats, fresh_stats = TargetStats(), TargetStats()
    count = 40
    with serve(shop(stats, offload_size=offload_size)) as url, serve(shop(fresh_stats, rewrite_cache=0)) as fresh:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            reference = await http.get(fresh + "/", headers=visitor("a0", "s0"))
            answers = await asyncio.gather(
                *(http.get(url + "/", headers=visitor(f"a{i}", f"s{i}")) for i in range(count))
            )
    for i, response in enumerate(answers):
        assert response.content == reference.content
        assert response.headers["content-length"] == reference.headers["content-length"]
        assert f"PC#a{i}.35_0#" in mbox_cookie(response)
    assert stats["rewrite-cache-miss"] == 1
    assert stats["rewrite-cache-hit"] == count - 1
    assert stats["applied"] == count


async def test_redirects_and_pages_nothing_applies_to_go_as_before() -> None:
    stats = TargetStats()
    with serve(shop(stats)) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            jumps = [await http.get(url + "/redirect", headers=visitor(f"a{i}", f"s{i}")) for i in range(2)]
            untouched = [await http.get(url + "/missing", headers=visitor(f"a{i}", f"s{i}")) for i in range(2)]
    for i, jump in enumerate(jumps):
        assert jump.status_code == 302
        assert jump.headers["location"] == "https://shop.example/sale"
        assert f"PC#a{i}.35_0#" in mbox_cookie(jump)
    for i, response in enumerate(untouched):
        assert response.content == PAGE.encode()  # the original bytes, not a re-serialization
        assert response.headers["etag"] == '"v1"'
        assert response.headers["x-target-actions"] == "0:setHtml=no-match"
        assert f"PC#a{i}.35_0#" in mbox_cookie(response)
    assert stats["redirect"] == 2
    assert stats["unchanged"] == 2
    assert stats["rewrite-cache-miss"] == 1  # the redirect never reached the rewrite
    assert stats["rewrite-cache-hit"] == 1


def test_the_size_is_checked_at_construction() -> None:
    for bad in (-1, 1.5, "32M", True):
        with pytest.raises(ValueError, match="rewrite_cache"):
            TargetMiddleware(Starlette(), client=static_client({}), rules=[], rewrite_cache=bad)  # type: ignore[arg-type]


async def test_the_at_js_hand_off_is_spliced_per_visitor_after_the_shared_rewrite() -> None:
    """serverState carries the visitor's own ids: it goes into each page after the cached rewrite, never into it."""
    later = actions_option(
        {"type": "setHtml", "selector": "#hero", "content": "Winter sale"},
        {"type": "setHtml", "selector": "#rendered-later", "content": "in the browser"},  # left to at.js
    )

    def app(stats: TargetStats, **options: Any) -> Starlette:
        async def page(request: Request) -> Response:
            return HTMLResponse(PAGE)

        app = Starlette(routes=[Route("/", page)])
        client = static_client({"target-global-mbox": [later]})
        rules = [MboxRule("/", mboxes=["target-global-mbox"])]
        app.add_middleware(TargetMiddleware, client=client, rules=rules, handoff="atjs", stats=stats, **options)
        return app

    stats = TargetStats()
    with serve(app(stats)) as cached, serve(app(TargetStats(), rewrite_cache=0)) as fresh:
        async with httpx.AsyncClient(timeout=30) as http:
            first = await http.get(cached + "/", headers=visitor("a1", "s1"))
            second = await http.get(cached + "/", headers=visitor("a2", "s2"))
            reference = await http.get(fresh + "/", headers=visitor("a2", "s2"))
    handoff = re.compile(r"<script>window\.targetGlobalSettings=.*?</script>")
    for response, own, other in ((first, "a1.35_0", "a2.35_0"), (second, "a2.35_0", "a1.35_0")):
        [script] = handoff.findall(response.text)
        assert own in script
        assert other not in response.text
        assert "#rendered-later" in script
        assert int(response.headers["content-length"]) == len(response.content)
    assert handoff.sub("", first.text) == handoff.sub("", second.text) == handoff.sub("", reference.text)
    assert '<h1 id="hero">Winter sale</h1>' in second.text
    assert stats["rewrite-cache-miss"] == 1
    assert stats["rewrite-cache-hit"] == 1


SIGNATURES = re.compile(
    r'<script type="application/json" data-target-middleware="click-signatures"[^>]*>(.*?)</script>'
)


class ClickDecider(StaticDecider):
    """The winter experience, with a click metric on #cta (as Target's VEC sends it with the page's mbox)."""

    def decide(self, request: Any, *, session_id: str | None = None) -> Any:
        decision = StaticDecider.decide(self, request, session_id=session_id)
        for mbox in decision.response["execute"].get("mboxes", []):
            mbox["options"] = [WINTER]
            mbox["metrics"] = [{"type": "click", "selector": "#cta", "eventToken": "cta-token"}]
        return decision


async def test_two_visitors_with_one_experience_get_their_own_signed_click_tokens() -> None:
    def app(stats: TargetStats, **options: Any) -> Starlette:
        async def page(request: Request) -> Response:
            return HTMLResponse(PAGE)

        app = Starlette(routes=[Route("/", page)])
        client = TargetClient(
            "acme", "O@AdobeOrg", decisioning="on-device", decider=ClickDecider({}), on_notifications=_drop
        )
        rules = [MboxRule("/", mboxes=["hero"])]
        key = "a-signing-key-shared-by-every-worker"
        app.add_middleware(TargetMiddleware, client=client, rules=rules, signing_key=key, stats=stats, **options)
        return app

    stats = TargetStats()
    with serve(app(stats)) as cached, serve(app(TargetStats(), rewrite_cache=0)) as fresh:
        async with httpx.AsyncClient(timeout=30) as http:
            pages = [await http.get(cached + "/", headers=visitor(f"a{i}", f"s{i}")) for i in (1, 2)]
            reference = await http.get(fresh + "/", headers=visitor("a2", "s2"))
            signed = []
            for response in pages:
                found = SIGNATURES.search(response.text)
                assert found
                data = json.loads(found.group(1))
                [(mbox, signature)] = [data["clicks"]["cta-token"]]
                signed.append((data["expires"], mbox, signature))
                assert 'data-target-click="cta-token"' in response.text
                assert int(response.headers["content-length"]) == len(response.content)

            async def click(expires: int, mbox: str, signature: str, cookie: dict[str, str]) -> int:
                clicks = [{"token": "cta-token", "mbox": mbox, "signature": signature}]
                beacon = {"expires": expires, "url": cached + "/", "clicks": clicks}
                headers = {"content-type": "application/json", "origin": cached, "sec-fetch-site": "same-origin"}
                answer = await http.post(cached + "/_target/click", json=beacon, headers={**headers, **cookie})
                return answer.status_code

            own = [await click(*signed[i], visitor(f"a{i + 1}", f"s{i + 1}")) for i in (0, 1)]
            swapped = await click(*signed[1], visitor("a1", "s1"))  # visitor 2's signature, sent as visitor 1
    assert signed[0][2] != signed[1][2]  # one entry, yet each visitor's own signature
    assert own == [204, 204]
    assert swapped == 403
    bare = [SIGNATURES.sub("", p.text) for p in (*pages, reference)]
    assert bare[0] == bare[1] == bare[2]
    assert stats["rewrite-cache-miss"] == 1
    assert stats["rewrite-cache-hit"] == 1
