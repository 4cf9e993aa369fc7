"""What the local edge received, and what it adds up to per activity and experience.

The edge keeps the notifications it is sent and every Delivery request's ids (bounded, newest last), and tallies
visitors, impressions, clicks and conversions per experience. Target's artifact names no goal metric, so the rule
is ours, close to what Target counts for an A/B activity:

- an event token means ``display|click`` and the experiences it may stand for: the tokens the edge handed out in
  its answers (remembered, bounded), else its current artifact (options' tokens are display tokens, one per
  experience; metrics' tokens are click tokens, and Target gives a click metric one token for all the
  experiences of its activity, so a click counts for the experience of that activity the visitor saw);
- **impression**: a ``display`` notification with an experience's token, or an ``execute`` the edge answered
  itself (Target counts those with no notification); once per ``impressionId``, which stitches notifications;
- **click**: a ``click`` notification with a click token;
- **conversion**: a notification or executed mbox for a *conversion mbox* (``orderConfirmPage`` unless told
  otherwise) or carrying an ``order``, for every experience that visitor has seen (Target's "viewed an mbox"
  goal); an order id converts once per experience, and ``order.total`` adds to the experience's revenue;
- **visitors**: distinct visitors that saw or clicked an experience. A visitor is known by every id it sends
  (ECID, tntId without its location hint, thirdPartyId, customer ids), so one that gains an ECID stays one.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .decisioning import Artifact, Decision
from .edgetokens import Experience, Meaning, Metric, event_tokens, token_index, visitor_ids, visitor_keys

__all__ = ["DEFAULT_CONVERSION_MBOXES", "EdgeRecorder", "Tally"]

DEFAULT_CONVERSION_MBOXES = ("orderConfirmPage",)
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(slots=True)
class Tally:
    """Counts for one experience (mutable: the recorder adds to it)."""

    visitors: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0


class _Recent(Generic[_K, _V]):
    """A mapping that forgets its least recently used keys past ``size``."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[_K, _V] = OrderedDict()
        self._size = size

    def get(self, key: _K) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(slots=True)
class _Totals:
    requests: int = 0
    notifications: int = 0
    unattributed: int = 0
    tallies: dict[Experience, Tally] = field(default_factory=dict)


class EdgeRecorder:
    """Keeps what the edge receives; the edge calls :meth:`record` for every request it answers.

    ``keep``: how many notifications and requests ``/notifications`` and ``/requests`` list. ``remember``: how
    many visitors, handed-out tokens and impression or order ids the tallies remember (least recent forgotten:
    a forgotten visitor who comes back counts again). ``conversion_mboxes``: the mboxes whose notifications are
    conversions. Used from the edge's event loop only.
    """

    def __init__(
        self,
        *,
        keep: int = 1000,
        remember: int = 100_000,
        conversion_mboxes: Iterable[str] = DEFAULT_CONVERSION_MBOXES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(conversion_mboxes, str):
            raise TypeError("conversion_mboxes is a collection of mbox names, not one string")
        if keep < 1 or remember < 1:
            raise ValueError("keep and remember must be at least 1")
        self.conversion_mboxes = frozenset(conversion_mboxes)
        self._clock = clock
        self._notifications: deque[dict[str, Any]] = deque(maxlen=keep)
        self._requests: deque[dict[str, Any]] = deque(maxlen=keep)
        self._handed_out: _Recent[str, Meaning] = _Recent(remember)
        self._seen_by: _Recent[str, set[Experience]] = _Recent(remember)
        self._counted: _Recent[tuple[str, str, Experience], bool] = _Recent(remember)
        self._index: tuple[Artifact | None, dict[str, Meaning]] = (None, {})
        self._totals = _Totals()

    def notifications(self) -> list[dict[str, Any]]:
        """The notifications received, newest last: ``{receivedAt, id, notification}`` each."""
        return list(self._notifications)

    def requests(self) -> list[dict[str, Any]]:
        """The Delivery requests answered, newest last: their visitor ids and what they asked for."""
        return list(self._requests)

    def tallies(self, artifact: Artifact | None = None) -> dict[Experience, Tally]:
        """Every experience of the artifact (zeros until something counts) and any counted before."""
        if artifact is not None:
            self._meanings(artifact)
        known = {experience: Tally() for _, experiences in self._index[1].values() for experience in experiences}
        return {**known, **self._totals.tallies}

    @property
    def totals(self) -> dict[str, int]:
        t = self._totals
        return {"requests": t.requests, "notifications": t.notifications, "unattributed": t.unattributed}

    def record(self, request: Mapping[str, Any], decision: Decision, artifact: Artifact) -> None:
        """One answered Delivery request: its ids, the tokens handed out, impressions, and what it notified."""
        now = int(self._clock() * 1000)
        ids = visitor_ids(request.get("id"))
        keys = visitor_keys(ids)
        received = [n for n in request.get("notifications") or () if isinstance(n, Mapping)]
        self._totals.requests += 1
        self._requests.append(_request_entry(now, ids, request, len(received)))
        meanings = self._meanings(artifact)
        self._link(keys)
        for mode in ("execute", "prefetch"):
            for token in event_tokens(decision.response.get(mode)):
                if token in meanings:
                    self._handed_out.put(token, meanings[token])
        for owed in decision.notifications:  # an execute: the edge counts the impression itself, as Target does
            self._notified(owed, keys, meanings)
        execute = request.get("execute")
        for mbox in (execute.get("mboxes") or ()) if isinstance(execute, Mapping) else ():
            if isinstance(mbox, Mapping) and self._is_conversion(mbox, mbox.get("name")):
                self._convert(mbox, keys, set())
        for note in received:
            self._totals.notifications += 1
            self._notifications.append({"receivedAt": now, "id": ids, "notification": dict(note)})
            if not self._notified(note, keys, meanings):
                self._totals.unattributed += 1

    def _meanings(self, artifact: Artifact) -> Mapping[str, Meaning]:
        if self._index[0] is not artifact:
            self._index = (artifact, token_index(artifact))
        return self._index[1]

    def _experience(self, token: Any, meanings: Mapping[str, Meaning], seen: set[Experience]) -> Experience | None:
        """The experience a token counts for: its own, or the one of its activity that the visitor saw."""
        meaning = (self._handed_out.get(token) or meanings.get(token)) if isinstance(token, str) else None
        candidates = meaning[1] if meaning else frozenset()
        if len(candidates) > 1:
            candidates &= seen
        return next(iter(candidates)) if len(candidates) == 1 else None

    def _notified(self, note: Mapping[str, Any], keys: tuple[str, ...], meanings: Mapping[str, Meaning]) -> bool:
        """Count one notification; False when it counted for nothing."""
        seen = self._seen_union(keys)
        found = (self._experience(token, meanings, seen) for token in note.get("tokens") or ())
        experiences = {experience for experience in found if experience is not None}
        kind = note.get("type")
        impression = note.get("impressionId")
        for experience in experiences:
            tally = self._tally(experience)
            if kind == Metric.CLICK:
                tally.clicks += 1
            elif kind == Metric.DISPLAY:
                if not self._once("impression", impression, experience):
                    continue  # the same impression, notified again
                tally.impressions += 1
            self._seen(experience, keys, tally)
        mbox = note.get("mbox")
        converted = self._is_conversion(note, mbox.get("name") if isinstance(mbox, Mapping) else None) and (
            self._convert(note, keys, experiences)
        )
        return bool(experiences) or converted

    def _is_conversion(self, details: Mapping[str, Any], mbox: Any) -> bool:
        return isinstance(details.get("order"), Mapping) or (isinstance(mbox, str) and mbox in self.conversion_mboxes)

    def _link(self, keys: tuple[str, ...]) -> None:
        """Ids sent together are one visitor: each learns what the others saw."""
        seen = self._seen_union(keys)
        if seen:
            for key in keys:
                self._seen_by.put(key, set(seen))

    def _seen_union(self, keys: tuple[str, ...]) -> set[Experience]:
        """The experiences a visitor has seen, under any of its ids."""
        return set().union(*(self._seen_by.get(key) or () for key in keys))

    def _convert(self, details: Mapping[str, Any], keys: tuple[str, ...], experiences: set[Experience]) -> bool:
        experiences = experiences | self._seen_union(keys)
        order = details.get("order")
        order = order if isinstance(order, Mapping) else {}
        total = order.get("total")
        for experience in experiences:
            if not self._once("order", order.get("id"), experience):
                continue
            tally = self._tally(experience)
            tally.conversions += 1
            if isinstance(total, int | float) and not isinstance(total, bool) and total > 0:
                tally.revenue = round(tally.revenue + float(total), 2)
        return bool(experiences)

    def _once(self, kind: str, value: Any, experience: Experience) -> bool:
        """False when this impression or order id already counted for the experience."""
        if not isinstance(value, str) or not value:
            return True
        if self._counted.get((kind, value, experience)):
            return False
        self._counted.put((kind, value, experience), True)
        return True

    def _seen(self, experience: Experience, keys: tuple[str, ...], tally: Tally) -> None:
        known = [self._seen_by.get(key) for key in keys]
        if keys and not any(experience in seen for seen in known if seen is not None):
            tally.visitors += 1
        for key, seen in zip(keys, known, strict=True):
            self._seen_by.put(key, {*(seen or ()), experience})

    def _tally(self, experience: Experience) -> Tally:
        return self._totals.tallies.setdefault(experience, Tally())


def _request_entry(now: int, ids: Mapping[str, Any], request: Mapping[str, Any], notes: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"receivedAt": now, "id": dict(ids)}
    for mode in ("execute", "prefetch"):
        part = request.get(mode)
        if isinstance(part, Mapping):
            names = [m.get("name") for m in part.get("mboxes") or () if isinstance(m, Mapping)]
            entry[mode] = {"pageLoad": part.get("pageLoad") is not None, "mboxes": names}
    cloud = request.get("experienceCloud")
    analytics = cloud.get("analytics") if isinstance(cloud, Mapping) else None
    if isinstance(analytics, Mapping) and analytics.get("supplementalDataId"):
        entry["supplementalDataId"] = analytics["supplementalDataId"]
    entry["notifications"] = notes
    return entry
