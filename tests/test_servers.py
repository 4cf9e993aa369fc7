"""The test servers run the stack asked for: h11 and asyncio's loop, or httptools and uvloop (uvicorn[standard])."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers import STACKS, current_stack, start_server, using_stack


async def where(request: Request) -> JSONResponse:
    loop = type(asyncio.get_running_loop())
    return JSONResponse({"loop": f"{loop.__module__}.{loop.__qualname__}"})


APP = Starlette(routes=[Route("/", where)])
SEEN = {  # what the app and the server show of each stack
    "h11": ("asyncio.unix_events._UnixSelectorEventLoop", "H11Protocol"),
    "standard": ("uvloop.Loop", "HttpToolsProtocol"),
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_server_started_in_using_stack_runs_that_stack(stack: str) -> None:
    before = current_stack()
    with using_stack(stack):
        running = start_server(APP, lifespan="off")
    try:
        assert current_stack() == before  # the block is over: back to what it was
        answer = httpx.get(running.url + "/", timeout=10)
        loop, protocol = SEEN[stack]
        assert answer.json() == {"loop": loop}
        assert running.server.config.http_protocol_class.__name__ == protocol
    finally:
        running.stop()


def test_each_stack_sets_the_stack_for_its_test(each_stack: str) -> None:
    assert current_stack() == each_stack


def test_the_environment_names_the_default_and_a_wrong_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGET_TEST_STACK", "standard")
    assert current_stack() == "standard"
    with using_stack("h11"):
        assert current_stack() == "h11"
    monkeypatch.setenv("TARGET_TEST_STACK", "hypercorn")
    with pytest.raises(ValueError, match="TARGET_TEST_STACK='hypercorn'"):
        current_stack()
    with pytest.raises(ValueError, match="unknown stack 'trio'"), using_stack("trio"):
        pass
