"""The demo against the local edge, both real servers on 127.0.0.1: what the loop tests share."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from demo_app.app import create_app
from demo_app.target import ARTIFACT, settings_from_env
from target_middleware import Visitor
from target_middleware.decisioning import DecisioningEngine, load_artifact
from target_middleware.edge import create_edge_app
from tests.servers import serve

HERO_ACTIVITY = 410101
SIGNING_KEY = "demo-loop-test-signing-key-0123456789abcdef"


def hero_tokens() -> dict[str, tuple[int, str]]:
    """The hero activity's click tokens in the demo's artifact, read here: token → (experience id, its title)."""
    raw = json.loads(ARTIFACT.read_text())
    found = {}
    for rule in raw["rules"]["mboxes"]["target-global-mbox"]:
        if rule["activityId"] != HERO_ACTIVITY:
            continue
        title = next(
            a["content"] for a in rule["consequence"]["options"][0]["content"] if "hero-title" in a["selector"]
        )
        for metric in rule["consequence"]["metrics"]:
            found[metric["eventToken"]] = (rule["meta"]["experience.id"], title)
    return found


@dataclass(frozen=True, slots=True)
class Loop:
    edge: str
    shop: str

    def notifications(self) -> list[dict[str, Any]]:
        return httpx.get(self.edge + "/notifications", timeout=10).json()  # type: ignore[no-any-return]

    def report(self) -> dict[tuple[int, int], dict[str, Any]]:
        data = httpx.get(self.edge + "/report", timeout=10).json()
        return {(a["id"], e["id"]): e for a in data["activities"] for e in a["experiences"]}

    def wait_for(self, found: Callable[[list[dict[str, Any]]], bool], what: str) -> list[dict[str, Any]]:
        """The edge's notifications once ``found`` holds for them (forwarding is batched in the background)."""
        deadline = time.monotonic() + 60  # far past any batching delay, on a loaded machine too
        while True:
            notes = self.notifications()
            if found(notes):
                return notes
            assert time.monotonic() < deadline, f"the edge never received {what}: {notes}"
            time.sleep(0.1)


def tnt_id_of(mbox_cookie: str) -> str:
    visitor = Visitor.from_cookies({"mbox": unquote(mbox_cookie)})
    assert visitor.tnt_id is not None
    return visitor.tnt_id


@contextmanager
def demo_against_local_edge(**env: str) -> Iterator[Loop]:
    """The local edge over the demo's artifact, and the demo deciding server-side against it (its Delivery API, or
    its Edge Network interact endpoint with ``TARGET_TRANSPORT="edge-network"``)."""
    engine = DecisioningEngine(load_artifact(ARTIFACT), client_code="demoshop")
    with serve(create_edge_app(engine)) as edge:
        settings = settings_from_env(
            {
                "TARGET_SERVER_DOMAIN": edge.removeprefix("http://"),
                "TARGET_EDGE_DOMAIN": edge.removeprefix("http://"),  # read with TARGET_TRANSPORT=edge-network
                "TARGET_TIMEOUT": "10",  # a loaded machine must not turn a test's page unpersonalized
                "TARGET_SIGNING_KEY": SIGNING_KEY,
                **env,
            }
        )
        with serve(create_app(settings)) as shop:
            yield Loop(edge, shop)
