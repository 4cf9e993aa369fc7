"""Inside the app: the request's decisions through a FastAPI dependency, json offers in a Jinja2 template."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from target_middleware import Decisions, MboxRule, TargetMiddleware, target_decisions
from target_middleware.testing import actions_option, static_client
from tests.servers import serve

pytestmark = pytest.mark.usefixtures("each_stack")  # uvicorn's two stacks (tests/servers.py)

TEMPLATE = Environment(autoescape=True).from_string(
    "<html><body><h1 id='hero'>{{ hero.title }}</h1><p id='off'>{{ hero.discount }}% off</p></body></html>"
)
DEFAULT = {"title": "Welcome", "discount": 0}


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    async def home(target: Annotated[Decisions | None, Depends(target_decisions)]) -> str:
        offers = target.json_offers("hero") if target else []
        return TEMPLATE.render(hero=offers[0] if offers else DEFAULT)

    @app.get("/tokens")
    async def tokens(target: Annotated[Decisions | None, Depends(target_decisions)]) -> dict[str, Any]:
        return {"tokens": list(target.response_tokens) if target else None}

    @app.get("/plain")
    async def plain(target: Annotated[Decisions | None, Depends(target_decisions)]) -> dict[str, Any]:
        return {"decided": target is not None}

    client = static_client(
        {
            "hero": [
                {"type": "json", "content": {"title": "Winter sale", "discount": 30}},
                actions_option({"type": "setStyle", "selector": "#off", "content": {"color": "red"}}),
            ],
            "tokens": [{"type": "json", "content": {}, "responseTokens": {"experience.name": "B"}}],
        }
    )
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=[MboxRule("/", mboxes=["hero"]), MboxRule("/tokens", mboxes=["tokens"])],
    )
    return app


async def test_a_template_renders_json_offers_and_actions_still_apply() -> None:
    with serve(make_app()) as url:
        async with httpx.AsyncClient() as http:
            page = await http.get(url + "/")
            tokens = await http.get(url + "/tokens")
            plain = await http.get(url + "/plain")
    assert '<h1 id="hero">Winter sale</h1>' in page.text
    assert '<p id="off" style="color: red;">30% off</p>' in page.text
    assert tokens.json() == {"tokens": [{"experience.name": "B"}]}
    assert plain.json() == {"decided": False}  # no rule for /plain: nothing decided, no cost
