"""One POST to the Delivery API under a total deadline; httpx and json errors translated in this one place.

httpx's own timeouts are per phase (connect, each read, ...): a server that trickles a byte a second never
trips them. The deadline here covers the whole exchange, connect to last byte, and nothing is
retried inside it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any

import anyio
import httpx
import orjson

from .errors import (
    DeliveryTimeout,
    ResponseParseError,
    UpstreamConnectError,
    UpstreamStatusError,
)

__all__ = ["decode", "encode", "post_json"]

logger = logging.getLogger(__name__)

# Our own headers, built here: nothing from the inbound request is ever copied into them.
HEADERS = {"content-type": "application/json", "accept": "application/json"}
# A real answer is a few kilobytes; anything past this is refused before it fills the process's memory.
MAX_RESPONSE_SIZE = 8 * 1024 * 1024


class _TooLarge(Exception):
    pass


def encode(body: Any) -> bytes:
    """A request body as compact UTF-8 JSON: orjson, 5-10x faster than json; json for what orjson refuses."""
    try:
        return orjson.dumps(body)
    except TypeError:  # keys that are not strings, integers past 64 bits: json writes them as it always did
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@functools.lru_cache(maxsize=64)
def _timeouts(deadline: float) -> dict[str, float]:
    """httpx's per-phase timeouts, each the whole deadline, as a request's extension (built once per deadline)."""
    return httpx.Timeout(deadline).as_dict()  # type: ignore[return-value]


async def _exchange(client: httpx.AsyncClient, url: str, body: bytes, deadline: float) -> httpx.Response:
    extensions = {"timeout": _timeouts(deadline)}
    request = client.build_request("POST", url, content=body, headers=HEADERS, extensions=extensions)
    response = await client.send(request, stream=True)
    try:
        length = response.headers.get("content-length", "")
        if length.isdigit():
            if int(length) > MAX_RESPONSE_SIZE:
                raise _TooLarge
            await response.aread()  # the usual case: a known, small length, read in one go
            return response
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_SIZE:
                raise _TooLarge
            chunks.append(chunk)
    finally:
        await response.aclose()
    return httpx.Response(response.status_code, headers=response.headers, content=b"".join(chunks))


async def _send(client: httpx.AsyncClient, url: str, body: bytes, deadline: float) -> httpx.Response:
    # asyncio.timeout costs a few microseconds; anyio's cancel scope covers trio too (no asyncio loop runs there).
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        async with asyncio.timeout(deadline):
            return await _exchange(client, url, body, deadline)
    with anyio.fail_after(deadline):
        return await _exchange(client, url, body, deadline)


def _error_body(content: bytes) -> str | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:500]
    return None


def decode(response: httpx.Response) -> Any:
    """The decoded JSON of a 200, None for a 204; the error tree for anything else."""
    status = response.status_code
    if status == 204:
        return None
    if status != 200:
        message = _error_body(response.content)
        raise UpstreamStatusError(
            f"Target answered HTTP {status}" + (f": {message}" if message else ""),
            status_code=status,
            upstream_message=message,
        )
    try:
        body = orjson.loads(response.content)
    except ValueError as exc:  # not JSON, not UTF-8, nested too deep, NaN: all orjson.JSONDecodeError
        raise ResponseParseError(f"Target's 200 body is not JSON ({exc.__class__.__name__})") from None
    if isinstance(body, dict) and "status" in body and "message" in body:
        # at.js treats any body with both fields as an error, whatever the HTTP status said
        message = body["message"] if isinstance(body["message"], str) else None
        code = body["status"] if isinstance(body["status"], int) else status
        raise UpstreamStatusError(
            f"Target answered an error body with status {code}", status_code=code, upstream_message=message
        )
    return body


async def post_json(client: httpx.AsyncClient, url: str, body: bytes, *, deadline: float) -> Any:
    """POST ``body`` to ``url``; the decoded JSON answer, within ``deadline`` seconds in total."""
    try:
        response = await _send(client, url, body, deadline)
    except (TimeoutError, httpx.TimeoutException):
        raise DeliveryTimeout(f"no complete answer from Target within {deadline:g} s") from None
    except httpx.HTTPError as exc:
        raise UpstreamConnectError(f"could not talk to Target: {exc.__class__.__name__}") from exc
    except _TooLarge:
        raise ResponseParseError(f"Target's answer is over {MAX_RESPONSE_SIZE} bytes") from None
    return decode(response)
