"""Fixed offers for users' own tests: a decider that answers every request the same, with no network.

    client = static_client({"home-hero": [actions_option({"type": "setHtml", "selector": "#hero", "content": "Hi"})]})
    app.add_middleware(TargetMiddleware, client=client, rules=[MboxRule("/", mboxes=["home-hero"])])

Keys are mbox names (the global mbox's options answer ``execute.pageLoad``); values are Delivery API options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .delivery.client import TargetClient
from .delivery.params import GLOBAL_MBOX

__all__ = ["StaticDecider", "actions_option", "static_client"]


def actions_option(*actions: Mapping[str, Any]) -> dict[str, Any]:
    """An ``actions`` option holding ``actions`` (``{type, selector, content}`` each)."""
    return {"type": "actions", "content": [dict(a) for a in actions]}


@dataclass(frozen=True, slots=True)
class StaticDecision:
    response: dict[str, Any]
    notifications: tuple[dict[str, Any], ...] = ()
    remote_mboxes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StaticDecider:
    """A LocalDecider that answers each mbox with the options given for it (and nothing for the others)."""

    offers: Mapping[str, Sequence[Mapping[str, Any]]]
    global_mbox: str = GLOBAL_MBOX
    tnt_id: str = "static0000000000.35_0"
    calls: list[Mapping[str, Any]] = field(default_factory=list, compare=False)

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> StaticDecision:
        self.calls.append(request)
        execute = request.get("execute") or {}
        answer: dict[str, Any] = {}
        mboxes = [
            {"index": m.get("index"), "name": m["name"], "options": [dict(o) for o in self.offers.get(m["name"], ())]}
            for m in execute.get("mboxes") or ()
        ]
        if mboxes:
            answer["mboxes"] = mboxes
        if "pageLoad" in execute:
            answer["pageLoad"] = {"options": [dict(o) for o in self.offers.get(self.global_mbox, ())]}
        tnt_id = (request.get("id") or {}).get("tntId") or self.tnt_id
        return StaticDecision({"status": 200, "id": {"tntId": tnt_id}, "execute": answer})


def static_client(offers: Mapping[str, Sequence[Mapping[str, Any]]], **kwargs: Any) -> TargetClient:
    """A TargetClient deciding in process from ``offers``; keyword arguments go to TargetClient."""
    kwargs.setdefault("client_code", "test")
    kwargs.setdefault("organization_id", "TEST@AdobeOrg")
    return TargetClient(decisioning="on-device", decider=StaticDecider(offers), on_notifications=_drop, **kwargs)


def _drop(notifications: Any) -> None:
    """No account behind a static decider: owed notifications go nowhere."""
