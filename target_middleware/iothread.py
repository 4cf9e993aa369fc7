"""A background event loop on its own thread, for remote decisions.

A decision started as a task on the app's loop only reaches the wire after several loop turns; a handler that
computes without awaiting holds the loop, and the decision then waits for the page instead of running beside it
(PERFORMANCE-ANCHORS.md §5). On its own loop the request is sent at once, whatever the app is doing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["IOThread"]

T = TypeVar("T")


class IOThread:
    """One daemon thread running one event loop; started on first use."""

    def __init__(self, name: str = "target-io") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:
                        loop.close()

                self._thread = threading.Thread(target=run, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    @property
    def running(self) -> bool:
        return self._loop is not None

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coroutine`` on the I/O loop; the returned future belongs to the caller's loop."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        return asyncio.wrap_future(future)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The I/O loop (started if need be)."""
        return self._running_loop()

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
            thread, self._thread = self._thread, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
