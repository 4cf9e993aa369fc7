"""Where the artifact comes from: a file, a dict, or Target's CDN polled in the background.

``ArtifactSource.from_url(url)`` downloads on :meth:`ArtifactSource.start` and then every ``interval`` seconds
(default 5 minutes) with ``If-None-Match``; a failed or bad refresh is logged and the last good artifact
stays.
A bad first download leaves the source without an artifact (the engine then reports ``DecisioningNotReady``
and a hybrid client decides server-side) rather than taking the app down.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .artifact import Artifact, ArtifactError, load_artifact

__all__ = ["DEFAULT_POLLING_INTERVAL", "ArtifactSource", "artifact_url"]

logger = logging.getLogger(__name__)

DEFAULT_POLLING_INTERVAL = 300.0
_FIRST_RETRY = 1.0


def artifact_url(
    client_code: str,
    environment: str = "production",
    property_token: str | None = None,
    *,
    base: str = "https://assets.adobetarget.com",
) -> str:
    """Target's CDN location of a client's artifact."""
    parts = [base.rstrip("/"), client_code, environment or "production", "v1"]
    if property_token:
        parts.append(property_token)
    return "/".join([*parts, "rules.json"])


class ArtifactSource:
    """Holds the current artifact; for a URL, keeps it fresh from an asyncio task.

    Use as ``async with ArtifactSource.from_url(url) as source:``, or ``await start()``/``await aclose()``.
    """

    def __init__(
        self,
        *,
        artifact: Artifact | None = None,
        url: str | None = None,
        interval: float = DEFAULT_POLLING_INTERVAL,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError("the artifact URL must be http(s)")
        self._artifact = artifact
        self.url = url
        self.interval = interval
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self._etag: str | None = None
        self.location: str | None = url
        self._task: asyncio.Task[None] | None = None
        self._retrievals = 1 if artifact is not None else 0
        self._last_retrieved = dt.datetime.now(dt.UTC) if artifact is not None else None

    @classmethod
    def from_file(cls, path: str | Path) -> ArtifactSource:
        source = cls(artifact=load_artifact(Path(path)))
        source.location = str(path)
        return source

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ArtifactSource:
        return cls(artifact=load_artifact(payload))

    @classmethod
    def from_url(
        cls, url: str, *, interval: float = DEFAULT_POLLING_INTERVAL, client: httpx.AsyncClient | None = None
    ) -> ArtifactSource:
        return cls(url=url, interval=interval, client=client)

    @property
    def artifact(self) -> Artifact | None:
        return self._artifact

    def trace_info(self) -> dict[str, Any]:
        artifact = self._artifact
        return {
            "artifactLocation": self.location or "NOT APPLICABLE",
            "pollingInterval": int(self.interval * 1000) if self.url else 0,
            "pollingHalted": self._task is None or self._task.done(),
            "artifactVersion": artifact.version if artifact else "unknown",
            "artifactRetrievalCount": self._retrievals,
            "artifactLastRetrieved": self._last_retrieved.isoformat() if self._last_retrieved else None,
            **(dict(artifact.meta) if artifact else {}),
        }

    async def refresh(self) -> bool:
        """Download once (conditionally); True when a new artifact was installed."""
        if self.url is None:
            return False
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        headers = {"If-None-Match": self._etag} if self._etag and self._artifact is not None else {}
        try:
            response = await self._client.get(self.url, headers=headers)
            if response.status_code == 304:
                return False
            response.raise_for_status()
            artifact = load_artifact(response.content)
        except (httpx.HTTPError, ArtifactError) as exc:
            logger.warning("artifact refresh from %s failed, keeping the last good one: %s", self.url, exc)
            return False
        self._artifact = artifact
        self._etag = response.headers.get("ETag")
        self._retrievals += 1
        self._last_retrieved = dt.datetime.now(dt.UTC)
        logger.info("artifact %s loaded from %s", artifact.version, self.url)
        return True

    async def _poll(self) -> None:
        retry = _FIRST_RETRY
        while True:
            # Until a first artifact arrives, retry sooner (1 s, 2 s, 4 s, ...) than the polling interval.
            waiting = self._artifact is None
            await asyncio.sleep(min(retry, self.interval) if waiting else self.interval)
            retry = retry * 2 if waiting else _FIRST_RETRY
            await self.refresh()

    async def start(self) -> None:
        """First download (awaited), then background polling when ``interval`` > 0."""
        if self.url is None or self._task is not None:
            return
        await self.refresh()
        if self.interval > 0:
            self._task = asyncio.create_task(self._poll(), name="target-artifact-poll")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> ArtifactSource:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def source_of(artifact: str | Path | Mapping[str, Any] | Artifact | ArtifactSource) -> Artifact | ArtifactSource:
    """What an engine decides from, given an artifact in any form: a URL (polled), a file path, a payload."""
    if isinstance(artifact, Artifact | ArtifactSource):
        return artifact
    if isinstance(artifact, Mapping):
        return ArtifactSource.from_payload(artifact)
    if isinstance(artifact, str) and artifact.startswith(("https://", "http://")):
        return ArtifactSource.from_url(artifact)
    if isinstance(artifact, str | Path):
        return ArtifactSource.from_file(artifact)
    raise ValueError(f"an artifact is a URL, a file path, a dict or an Artifact, not {type(artifact).__name__}")
