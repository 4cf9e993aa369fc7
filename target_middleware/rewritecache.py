"""The rewrite cache: a page that Target's actions change the same way twice is rewritten once.

``apply_actions`` is a pure function of the page's bytes, the actions and a few options (engine, charset, nonce,
click endpoint), so what it made of a page can be kept and sent again. Only that part is kept, the part that is the
same for every visitor with the same experience: cookies, Vary, Server-Timing and anything else per visitor or per
request are added to each response after it, hit or miss.

An entry is found by the actions (exact: the plan's key read off the decision, ``plankey.plan_key``, on the
personalizer's path; else their marshalled bytes) and options, the page's length and a seeded xxh3 digest of its
first and last 4 KB (a page whose length, start and end another entry's page shares is keyed by a 128-bit digest of
all its bytes instead), and it is used only when its page is byte for byte the page at hand: a collision, accidental
or crafted, costs a rewrite, never someone else's page. A hit reads the page once, to compare it. The nonce is part
of the key only when the actions could carry it (scripts, styles, click tracking): otherwise a page with a fresh CSP
nonce per request still hits.

Bounded in bytes (page + output + key + a fixed overhead per entry), least recently used first out; an entry over a
quarter of the cache is not kept. Concurrent requests for the same key on one event loop share one rewrite. Entries
are read and written under a lock, so a rewrite finishing on a worker thread never tears one.
"""

from __future__ import annotations

import asyncio
import marshal
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
import xxhash

from .html import ActionReport, SkipReason, apply_actions
from .outcomes import counting
from .pagebytes import body_end
from .plankey import plan_strings, uses_nonce

__all__ = ["CacheInfo", "Rewrite", "RewriteCache", "cache_key", "rewrite"]

T = TypeVar("T")

DEFAULT_SIZE = 32 * 1024 * 1024
_HIT, _MISS = "rewrite-cache-hit", "rewrite-cache-miss"  # their counts' names in stats
ENTRY_OVERHEAD = 512  # what an entry's objects (tuple, dataclass, dict slot, digest) cost beyond their bytes
REPORT_OVERHEAD = 200
# Actions that mention none of script, style, click cannot put the nonce in the page (it goes on inserted <script>
# and <style>, and on the click listener): a lowercase substring test over their marshalled bytes errs only toward
# keying on it.
SAMPLE = 4096  # bytes of the page's start, and of its end, a key digests
_SAMPLED = 4  # the length of a sampled key; a whole-page key has one part more
_SEED = secrets.randbits(64)  # per process: no one can compute collisions ahead of time


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What the actions made of a page: the bytes to send (the page itself when nothing changed) and the reports."""

    body: bytes
    changed: bool
    applied: tuple[ActionReport, ...] = ()
    skipped: tuple[ActionReport, ...] = ()
    encoding: str = "utf-8"  # the page's charset, for what is spliced into ``body`` after
    # Found once with the rewrite, for every visitor it is sent to: the event tokens of the click actions applied,
    # and where a snippet goes before ``</body>`` in ``body`` (pagebytes.body_end; None: search it each time).
    clicked: frozenset[object] = frozenset()
    body_end: int | None = None
    # What a response made from this rewrite keeps for the next one (``pageheaders.kept_edit``): a rewrite the
    # cache holds is sent to every visitor of its experience, and their responses differ only in their own parts.
    memo: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)


def rewrite(page: bytes, actions: Sequence[Mapping[str, Any]], options: Mapping[str, Any]) -> Rewrite:
    """``apply_actions`` on the page's bytes, encoded back to bytes in the page's charset."""
    result = apply_actions(page, actions, **options)
    if not result.changed:
        return Rewrite(page, False, result.applied, result.skipped, result.encoding)
    body = result.encode()
    clicked = frozenset(actions[r.index].get("eventToken") for r in result.applied if r.type == "click")
    end = body_end(body, result.encoding) if clicked else None
    return Rewrite(body, True, result.applied, result.skipped, result.encoding, clicked, end)


@dataclass(frozen=True, slots=True)
class CacheInfo:
    size: int
    used: int
    entries: int


@dataclass(frozen=True, slots=True, eq=False)
class _Entry:
    """A kept rewrite and the key it is kept under; hashed and compared by identity (the recency order's key)."""

    page: bytes
    rewrite: Rewrite
    cost: int
    key: tuple[Any, ...]


class RewriteCache:
    """Rewrites by page and experience, at most ``size`` bytes of them; ``size=0`` rewrites every time.

    Hits and misses are counted in ``stats`` as ``rewrite-cache-hit`` and ``rewrite-cache-miss``.
    """

    def __init__(self, size: int = DEFAULT_SIZE, *, stats: Counter[str] | None = None) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("rewrite_cache is the cache's size in bytes: 0 (off) or more")
        self.size = size
        self.max_entry = size // 4
        self.stats: Counter[str] = Counter() if stats is None else stats
        self._count_of, self._set_count = counting(self.stats)  # stats[name] += 1, stored without the generic slot
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        # The entries, least recently used first: keyed by the entry itself, whose hash is its identity's, where a
        # key tuple would be hashed value by value on every hit that moves it to the end.
        self._order: OrderedDict[_Entry, None] = OrderedDict()
        # (actions, settings, page length) -> the key and entry last stored or hit for them: see ``cached``. Only
        # entries the cache holds (an evicted one leaves it with its key).
        self._latest: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Entry]] = {}
        # plan -> (options, page length, entry) of the entry ``cached`` hit last for that plan: see ``cached``.
        # Only entries the cache holds (eviction and replacement drop it).
        self._hits: dict[_Plan, tuple[dict[str, Any], int, _Entry]] = {}
        self._used = 0
        self._lock = threading.Lock()
        self._inflight: dict[tuple[Any, ...], asyncio.Future[_Entry | None]] = {}

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.size, self._used, len(self._entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._order.clear()
            self._latest.clear()
            self._hits.clear()
            self._used = 0

    def cached(self, page: bytes, plan: tuple[Any, ...], options: Mapping[str, Any]) -> Rewrite | None:
        """The rewrite of ``page`` by the actions ``plan`` keys (``plankey.plan_key``) when the cache holds it, counted
        as a hit; None otherwise, counting nothing (``apply`` with the same ``plan`` then looks again, and rewrites).

        ``apply``'s lookup without its awaits: no key on a worker thread (a sampled key reads 8 KB), no wait for a
        rewrite in flight (``apply`` waits), no page keyed by all its bytes (``apply`` finds those).

        First, before any digest, the page is compared with the latest entry of these actions, settings and page
        length (usually the route's one page): the same bytes are the same page whatever its key, and the compare
        is what a hit reads anyway. Only another page of that length is keyed by its digests.

        Before that, the entry this plan hit last is tried with the options it was hit with (a dict compare, in C):
        the same options are the same settings, and the usual request of an experience's page finds it without
        the settings' tuple made and hashed. Other options (another charset, a fresh nonce the plan does not key
        on) go on to the lookup above, which then keeps its entry for the plan instead."""
        if not self.size:
            return None
        made = _PLANS.of(plan)
        if made is None:  # too big a plan to keep made: ``apply`` keys it by its marshalled actions
            return None
        lock = self._lock
        lock.acquire()  # (not ``with``: its __enter__ and __exit__ calls cost as much again as the lock, per hit)
        try:
            hit = self._hits.get(made)
            if hit is not None and hit[1] == len(page) and hit[0] == options and hit[2].page == page:
                self._order.move_to_end(hit[2])
                self._set_count(_HIT, self._count_of(_HIT, 0) + 1)
                return hit[2].rewrite
        finally:
            lock.release()
        settings = _settings(made.uses_nonce, options)
        with self._lock:
            latest = self._latest.get((made, settings, len(page)))
            if latest is not None and (latest[1].page is page or latest[1].page == page):
                key, entry = latest
            else:
                entry = None
        if entry is None:
            key = _keyed(page, made, settings)
            with self._lock:
                entry, _ = self._lookup(key, page)
            if entry is None:
                return None
        with self._lock:
            if self._entries.get(key) is entry:
                self._order.move_to_end(entry)
                self._hits[made] = (dict(options), len(page), entry)
        self._set_count(_HIT, self._count_of(_HIT, 0) + 1)
        return entry.rewrite

    async def apply(
        self,
        page: bytes,
        actions: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any],
        *,
        offload: bool,
        plan: tuple[Any, ...] | None = None,
    ) -> Rewrite:
        """The page rewritten: from the cache when it holds it, else rewritten (on a worker thread if ``offload``).

        ``plan``, when given, is ``plankey.plan_key``'s key of ``actions``: the entry is keyed by it (as ``cached``
        looks for it) instead of by the marshalled actions."""
        if not self.size:
            return await _run(rewrite, offload, page, actions, options)
        key = await _run(cache_key, offload, page, actions, options, plan)
        if key is None:  # actions that are not plain JSON: nothing exact to key on
            return await _run(rewrite, offload, page, actions, options)
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                entry, taken = self._lookup(key, page)
                pending = self._inflight.get(key) if entry is None and not taken else None
                if entry is None and not taken and (pending is None or pending.get_loop() is not loop):
                    mine: asyncio.Future[_Entry | None] = loop.create_future()
                    self._inflight[key] = mine
                    break
            if taken:  # another page of this length, start and end holds the key: key this one by all its bytes
                key = await _run(whole_page_key, offload, key, page)
                continue
            if entry is None:  # the same rewrite is under way on this loop: wait for it
                assert pending is not None
                entry = await asyncio.shield(pending)
                if entry is None:  # it failed or was cancelled: look again, or do it
                    continue
                if entry.page != page:  # same key, other page: rewrite this one apart
                    return await _run(rewrite, offload, page, actions, options)
            self._set_count(_HIT, self._count_of(_HIT, 0) + 1)
            return entry.rewrite
        self._set_count(_MISS, self._count_of(_MISS, 0) + 1)
        fresh: _Entry | None = None
        try:
            result = await _run(rewrite, offload, page, actions, options)
            fresh = _Entry(page, result, _cost(key, page, result), key)
            # An engine failure on one action may not happen again: that page is not kept.
            if not any(r.reason is SkipReason.ERROR for r in result.skipped):
                self._store(key, fresh)
            return result
        finally:
            with self._lock:
                if self._inflight.get(key) is mine:
                    del self._inflight[key]
            mine.set_result(fresh)

    def _lookup(self, key: tuple[Any, ...], page: bytes) -> tuple[_Entry | None, bool]:
        """The entry for ``key`` and ``page``, and whether the key holds another page (a sampled key only: a
        whole-page key that does is a digest collision, a miss whose rewrite takes the place)."""
        entry = self._entries.get(key)
        if entry is None:
            return None, False
        if entry.page is not page and entry.page != page:
            return None, len(key) == _SAMPLED
        self._order.move_to_end(entry)
        self._latest[key[:3]] = (key, entry)
        return entry, False

    def _store(self, key: tuple[Any, ...], entry: _Entry) -> None:
        if entry.cost > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                del self._order[old]
                self._used -= old.cost
                self._forget(key, old)
            self._entries[key] = entry
            self._order[entry] = None
            self._latest[key[:3]] = (key, entry)
            self._used += entry.cost
            while self._used > self.size:
                evicted, _ = self._order.popitem(last=False)
                gone = evicted.key
                del self._entries[gone]
                self._used -= evicted.cost
                latest = self._latest.get(gone[:3])
                if latest is not None and latest[1] is evicted:
                    del self._latest[gone[:3]]
                self._forget(gone, evicted)

    def _forget(self, key: tuple[Any, ...], entry: _Entry) -> None:
        """``entry`` (under ``key``) leaves the cache: its plan's last hit no longer finds it (under the lock)."""
        hit = self._hits.get(key[0]) if type(key[0]) is _Plan else None
        if hit is not None and hit[2] is entry:
            del self._hits[key[0]]


def cache_key(
    page: bytes,
    actions: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
    plan: tuple[Any, ...] | None = None,
) -> tuple[Any, ...] | None:
    """Everything the rewrite depends on, or None when the actions are not plain values (JSON's and the like).

    The actions are keyed by ``plan`` when given (``plankey.plan_key``'s key of them) and not too big to keep made
    (``_Plans``), else by their marshalled bytes. The page is keyed by its length and a digest of its first and last
    SAMPLE bytes (the whole page when it is shorter than two): an entry is used only when its page is this page byte
    for byte, so a sample is enough to find it, and a page whose length, start and end another's share is keyed by
    all its bytes (``whole_page_key``).
    """
    made = None if plan is None else _PLANS.of(plan)
    if made is not None:
        return _keyed(page, made, _settings(made.uses_nonce, options))
    try:
        # marshal: exact and C-fast (a third of json.dumps). Insertion order kept (attribute order shows in the
        # output); 1, 1.0, True and "1" stay apart; no shared references in version 2; anything that is not a
        # plain value (an object, a cycle) is a ValueError, and keys nothing.
        exact = marshal.dumps(list(actions), 2)
    except ValueError:
        return None
    lowered = exact.lower()
    uses = b"script" in lowered or b"style" in lowered or b"click" in lowered
    return _keyed(page, exact, _settings(uses, options))


def _settings(uses_nonce: bool, options: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The options as a key's part: all of them, or all but the nonce when the actions cannot carry it."""
    return tuple(options.items()) if uses_nonce else tuple((k, v) for k, v in options.items() if k != "nonce")


def _keyed(page: bytes, exact: bytes | _Plan, settings: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    """A sampled key: the actions, the settings, the page's length (these three also key ``_latest``) and digest."""
    if len(page) <= 2 * SAMPLE:
        return exact, settings, len(page), xxhash.xxh3_64_intdigest(page, _SEED)
    view = memoryview(page)
    start, end = xxhash.xxh3_64_intdigest(view[:SAMPLE], _SEED), xxhash.xxh3_64_intdigest(view[-SAMPLE:], _SEED)
    return exact, settings, len(page), (start, end)


class _Plan:
    """A plan key (``plankey.plan_key``) made once per plan: in the cache's keys it is hashed and compared by
    identity, where the tuple would be hashed again, value by value, on every lookup. ``_PLANS`` gives equal plan
    keys the same one; the entries whose keys hold one keep it alive, so no other plan takes its place."""

    __slots__ = ("key", "size", "uses_nonce")

    def __init__(self, key: tuple[Any, ...], size: int) -> None:
        self.key, self.size = key, size
        self.uses_nonce = uses_nonce(key)


MAX_PLAN_BYTES = 4 * 1024 * 1024  # the plans kept made: their strings, 8 bytes a place (see _Plans)


class _Plans:
    """The plan keys seen, each made once into a ``_Plan``: at most 1024 of them and MAX_PLAN_BYTES of their
    strings (on-device, the artifact's own), then it starts over; an entry keyed by a dropped one is not found
    again and ages out. A plan over a quarter of the bytes is not kept: the cache keys it by its marshalled
    actions, as before plan keys."""

    def __init__(self) -> None:
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        # id(plan.key) -> plan: the key object a plan was made from (plankey keeps one per shared on-device
        # answer), found again without hashing its values; the plan holds it, so the id stays its.
        self._by_id: dict[int, _Plan] = {}
        self._bytes = 0

    def of(self, key: tuple[Any, ...]) -> _Plan | None:
        plan = self._by_id.get(id(key))
        if plan is not None and plan.key is key:
            return plan
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        size = 8 * len(key) + sum(map(len, plan_strings(key)))
        if size > MAX_PLAN_BYTES // 4:
            return None
        plan = _Plan(key, size)
        if len(self._plans) >= 1024 or self._bytes + size > MAX_PLAN_BYTES:
            self._plans.clear()
            self._by_id.clear()
            self._bytes = 0
        self._plans[key] = plan
        self._by_id[id(key)] = plan
        self._bytes += size
        return plan


_PLANS = _Plans()


def whole_page_key(key: tuple[Any, ...], page: bytes) -> tuple[Any, ...]:
    """A sampled ``cache_key`` made the page's own: a seeded 128-bit xxh3 digest of all its bytes added."""
    return (*key, xxhash.xxh3_128_digest(page, _SEED))


def _cost(key: tuple[Any, ...], page: bytes, result: Rewrite) -> int:
    reports = (*result.applied, *result.skipped)
    notes = sum(REPORT_OVERHEAD + len(r.type) + len(r.selector or "") + len(r.detail) for r in reports)
    body = len(result.body) if result.body is not page else 0
    exact = key[0]
    # A plan key holds its strings (8 bytes a place, and each string's own bytes counted as if it were not shared).
    actions = len(exact) if type(exact) is bytes else exact.size
    return ENTRY_OVERHEAD + len(page) + body + actions + notes


async def _run(function: Callable[..., T], offload: bool, *args: Any) -> T:
    return await anyio.to_thread.run_sync(function, *args) if offload else function(*args)
