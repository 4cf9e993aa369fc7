"""What belongs to an event loop: one value per loop (a connection pool), and running code on its own loop.

An ``httpx.AsyncClient`` and the asyncio primitives under it belong to the loop they first ran on: used from another
loop they fail ("... is bound to a different event loop"), and from then on they fail on their own loop too. A
``TargetClient`` shared by the middleware's I/O thread and the app's handlers meets two loops, so it keeps one pool
per loop: a call costs one dictionary look-up, and no call ever waits for another thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Collection, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["PerLoop", "run_on", "wait_on_their_loops"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# How long closing waits for a value's own loop, running in another thread, to close it.
CLOSE_TIMEOUT = 5.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # trio (through anyio): one value for everything that is not asyncio
        return None


async def run_on(loop: asyncio.AbstractEventLoop | None, coroutine: Coroutine[Any, Any, R]) -> R | None:
    """Run ``coroutine`` on ``loop``: here when it is the running loop, else handed to it (running in another
    thread) and awaited from here. A loop that is closed or not running cannot run it: None, nothing done."""
    here = _running_loop()
    if loop is None or loop is here:
        return await coroutine
    if loop.is_closed() or not loop.is_running():
        coroutine.close()
        return None
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    return await asyncio.wait_for(asyncio.wrap_future(future), CLOSE_TIMEOUT)


async def wait_on_their_loops(tasks: Collection[asyncio.Future[Any]], timeout: float) -> None:
    """Wait up to ``timeout`` for ``tasks`` started on several loops (background sends), each group on its own
    loop: ``asyncio.wait`` refuses a task of another loop."""
    groups: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Any]]] = {}
    for task in tasks:
        groups.setdefault(task.get_loop(), []).append(task)

    async def wait(group: list[asyncio.Future[Any]]) -> None:
        await asyncio.wait(group, timeout=timeout)

    await asyncio.gather(*(run_on(loop, wait(group)) for loop, group in groups.items()))


class PerLoop(Generic[T]):
    """One ``T`` per event loop, made by ``factory`` on the loop's first ``get``."""

    __slots__ = ("_factory", "_lock", "_values")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._values: dict[asyncio.AbstractEventLoop | None, T] = {}
        self._lock = threading.Lock()

    def get(self) -> T:
        loop = _running_loop()
        value = self._values.get(loop)
        if value is None:
            with self._lock:
                value = self._values.get(loop)
                if value is None:
                    # Loops that are gone (asyncio.run per call, a test's loop) take their values with them.
                    for gone in [k for k in self._values if k is not None and k.is_closed()]:
                        del self._values[gone]
                    value = self._values[loop] = self._factory()
        return value

    def __len__(self) -> int:
        return len(self._values)

    async def aclose(self, close: Callable[[T], Coroutine[Any, Any, None]]) -> None:
        """``close`` every value on its own loop (a loop that is closed or stopped: the value is dropped)."""
        with self._lock:
            values, self._values = self._values, {}
        for loop, value in values.items():
            try:
                await run_on(loop, close(value))
            except Exception as exc:
                logger.warning("closing a Target connection pool failed (%s)", exc.__class__.__name__)
