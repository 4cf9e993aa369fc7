"""Configuration mistakes fail at construction, with a message that names the option and says what to pass."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from target_middleware import MboxRule, TargetClient, TargetMiddleware, TargetStats
from target_middleware.testing import static_client

PAGE = "<html><head></head><body><h1 id='hero'>Welcome</h1></body></html>"
RULES = [MboxRule("/", mboxes=["hero"])]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"engine": "lexbr"}, ValueError, "engine must be 'lexbor', 'soup' .* not 'lexbr'"),
        ({"engine": 1}, ValueError, "engine must be"),
        ({"redirect_hosts": "shop.example"}, TypeError, r"redirect_hosts .*\["),
        ({"redirect_hosts": ["https://shop.example"]}, ValueError, "host names like 'shop.example'"),
        ({"redirect_hosts": [""]}, ValueError, "redirect_hosts must hold non-empty strings"),
        ({"rules": MboxRule("/", mboxes=["m"])}, TypeError, "a list of MboxRule"),
        ({"rules": ["/"]}, TypeError, "MboxRule objects"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number of seconds"),
        ({"timeout": "0.15"}, TypeError, "timeout must be a number of seconds"),
        ({"timeout": True}, TypeError, "timeout must be a number"),
        ({"timeout": float("inf")}, ValueError, "timeout must be a finite"),
        ({"max_body_size": -1}, ValueError, "max_body_size must be a positive number of bytes"),
        ({"max_body_size": 1.5}, TypeError, "max_body_size must be a whole number of bytes"),
        ({"offload_size": 0}, ValueError, "offload_size"),
        ({"breaker_failures": 0}, ValueError, "breaker_failures"),
        ({"breaker_cooldown": -1}, ValueError, "breaker_cooldown must be .* >= 0"),
        ({"cookie_domain": "a b"}, ValueError, "cookie_domain 'a b' is not a domain name"),
        ({"cookie_domain": ""}, ValueError, "cookie_domain must not be empty"),
        ({"cookie_http_only": "yes"}, TypeError, "cookie_http_only must be True or False"),
        ({"redirect_keep_query": 1}, TypeError, "redirect_keep_query must be True or False"),
        ({"debug_header": "false"}, TypeError, "debug_header must be True or False, not str 'false'"),
        ({"qa_mode": None}, TypeError, "qa_mode must be True or False"),
        ({"trace": "on"}, TypeError, "trace must be True or False"),
        ({"io_thread": "no"}, TypeError, "io_thread must be True or False"),
        ({"click_endpoint": "track"}, ValueError, "click_endpoint must be a path like '/target/click'"),
        ({"click_endpoint": 5}, TypeError, "click_endpoint must be a string"),
        ({"stats": {}}, TypeError, "stats must be a TargetStats"),
        ({"client": object()}, TypeError, "client must be a TargetClient"),
        ({"handoff": "at.js"}, ValueError, "handoff must be 'atjs'"),
        ({"clicks": "ours"}, ValueError, "clicks must be 'atjs' .* or 'first-party'"),
        ({"handoff_max_size": 0}, ValueError, "handoff_max_size must be a positive number of bytes"),
    ],
)
def test_middleware_options_fail_at_construction(options: dict[str, Any], error: type[Exception], message: str) -> None:
    kwargs: dict[str, Any] = {"client": static_client({}), "rules": RULES, **options}
    with pytest.raises(error, match=message):
        TargetMiddleware(Starlette(), **kwargs)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"client_code": "a b"}, ValueError, "client_code must be 1-64 letters"),
        ({"organization_id": ""}, ValueError, "organization_id is required"),
        ({"server_domain": "https://edge"}, ValueError, "server_domain must be a host name"),
        ({"server_domain": 8080}, TypeError, "server_domain must be a string"),
        ({"secure": "false"}, TypeError, "secure must be True or False"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number of seconds > 0"),
        ({"timeout": "3"}, TypeError, "timeout must be a number of seconds"),
        ({"property_token": ""}, ValueError, "property_token must not be empty"),
        ({"environment_id": "prod"}, TypeError, "environment_id must be a whole number"),
        ({"environment_id": 0}, ValueError, "environment_id must be a positive"),
        ({"http_client": object()}, TypeError, "http_client must be an httpx.AsyncClient"),
        ({"global_mbox": ""}, ValueError, "global_mbox must be an mbox name like 'target-global-mbox'"),
        ({"send_ip_address": 1}, TypeError, "send_ip_address must be True or False"),
        ({"max_connections": 0}, ValueError, "max_connections must be a positive number of connections"),
        ({"decisioning": "ondevice"}, ValueError, "decisioning must be one of 'hybrid', 'on-device', 'server-side'"),
        ({"decisioning": "on-device"}, ValueError, "'on-device' needs a decider"),
        ({"decider": object()}, TypeError, "decider must be a LocalDecider"),
        ({"on_notifications": []}, TypeError, "on_notifications must be a"),
    ],
)
def test_client_options_fail_at_construction(options: dict[str, Any], error: type[Exception], message: str) -> None:
    kwargs: dict[str, Any] = {"client_code": "acme", "organization_id": "ABC@AdobeOrg", **options}
    with pytest.raises(error, match=message):
        TargetClient(**kwargs)


async def test_valid_options_are_taken_as_given() -> None:
    """The checks refuse mistakes, not valid values: a redirect allow-list is kept whole and lower-cased."""

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    stats = TargetStats()
    client = static_client({"hero": [{"type": "redirect", "content": "https://Shop.Example/sale"}]})
    app = TargetMiddleware(
        Starlette(routes=[Route("/", page)]),
        client=client,
        rules=[MboxRule("/", mboxes=["hero"], methods=("GET",), exclude=("/api/{rest:path}",))],
        engine="soup",
        redirect_hosts=["SHOP.example"],
        cookie_domain=".shop.example",
        click_endpoint="/target/click",
        timeout=5,
        io_thread=False,
        stats=stats,
    )
    assert app.personalizer.redirect_hosts == frozenset({"shop.example"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://shop.example") as http:
        answer = await http.get("/")
    assert (answer.status_code, answer.headers["location"]) == (302, "https://Shop.Example/sale")
    assert stats["redirect"] == 1
