"""The rewrite cache on its own: exact keys, the same bytes as a fresh rewrite, bounded, one rewrite per key."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_middleware import rewritecache
from target_middleware.rewritecache import ENTRY_OVERHEAD, Rewrite, RewriteCache, cache_key, rewrite
from tests.html.test_properties import documents, engines, raw_actions

PAGE = b'<!DOCTYPE html><html><head><title>Shop</title></head><body><h1 id="hero">Welcome</h1></body></html>'
HERO = [{"type": "setHtml", "selector": "#hero", "content": "Winter sale"}]
SCRIPT = [{"type": "appendHtml", "selector": "BODY", "content": "<script>track()</script>"}]
OPTIONS: dict[str, Any] = {"engine": None, "nonce": None, "charset": None, "click_endpoint": None}


def page_of(size: int, marker: str = "x") -> bytes:
    filler = "<p>" + marker * max(0, size - 120) + "</p>"
    return f'<html><body><h1 id="hero">Welcome</h1>{filler}</body></html>'.encode()


async def test_the_second_rewrite_is_a_counted_hit_with_the_bytes_of_a_fresh_one() -> None:
    cache = RewriteCache(1024 * 1024)
    first = await cache.apply(PAGE, HERO, OPTIONS, offload=False)
    again = await cache.apply(bytes(bytearray(PAGE)), [dict(a) for a in HERO], dict(OPTIONS), offload=False)
    assert again is first  # equal inputs in other objects: the entry itself
    assert again == rewrite(PAGE, HERO, OPTIONS)
    assert b'<h1 id="hero">Winter sale</h1>' in again.body
    assert cache.stats == Counter({"rewrite-cache-miss": 1, "rewrite-cache-hit": 1})
    assert cache.info().entries == 1


@pytest.mark.parametrize(
    ("page", "actions", "options"),
    [
        (PAGE.replace(b"Shop", b"Shoq"), HERO, OPTIONS),  # one byte
        (PAGE + b" ", HERO, OPTIONS),
        (PAGE, [{**HERO[0], "content": "Summer sale"}], OPTIONS),  # another experience
        (PAGE, [{**HERO[0], "selector": "H1"}], OPTIONS),
        (PAGE, [*HERO, *HERO], OPTIONS),
        (PAGE, HERO, {**OPTIONS, "engine": "soup"}),
        (PAGE, HERO, {**OPTIONS, "charset": "windows-1252"}),
        (PAGE, HERO, {**OPTIONS, "click_endpoint": "/_t"}),
    ],
)
async def test_anything_the_output_depends_on_makes_a_fresh_rewrite(
    page: bytes, actions: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    cache = RewriteCache(1024 * 1024)
    await cache.apply(PAGE, HERO, OPTIONS, offload=False)
    got = await cache.apply(page, actions, options, offload=False)
    assert got == rewrite(page, actions, options)
    assert cache.stats == Counter({"rewrite-cache-miss": 2})


def test_json_types_stay_apart_and_key_order_counts() -> None:
    def key(content: Any) -> Any:
        return cache_key(PAGE, [{"type": "setAttribute", "selector": "#hero", "content": content}], OPTIONS)

    assert len({key({"a": 1}), key({"a": 1.0}), key({"a": True}), key({"a": "1"})}) == 4
    assert key({"a": "1", "b": "2"}) != key({"b": "2", "a": "1"})  # attribute order shows in the page
    assert cache_key(PAGE, [{"type": "setHtml", "selector": "#hero", "content": object()}], OPTIONS) is None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300)
@given(JSON_VALUES, JSON_VALUES)
def test_two_actions_share_a_key_exactly_when_their_json_is_the_same(a: Any, b: Any) -> None:
    def key(content: Any) -> Any:
        return cache_key(PAGE, [{"type": "setAttribute", "selector": "#hero", "content": content}], OPTIONS)

    def exact(value: Any) -> str:  # JSON that keeps 1, 1.0 and True apart, and -0.0 from 0.0
        return json.dumps(value, default=str) + repr(value)

    assert (key(a) == key(b)) == (exact(a) == exact(b))


async def test_the_nonce_is_keyed_only_when_the_actions_can_carry_it() -> None:
    cache = RewriteCache(1024 * 1024)
    for nonce in ("n1", "n2"):  # a fresh nonce per request: text offers still hit
        got = await cache.apply(PAGE, HERO, {**OPTIONS, "nonce": nonce}, offload=False)
        assert got == rewrite(PAGE, HERO, {**OPTIONS, "nonce": nonce})
    assert cache.stats == Counter({"rewrite-cache-miss": 1, "rewrite-cache-hit": 1})
    for nonce in ("n1", "n2", "n1"):  # an inserted script carries each request's own
        got = await cache.apply(PAGE, SCRIPT, {**OPTIONS, "nonce": nonce}, offload=False)
        assert f'<script nonce="{nonce}">track()</script>'.encode() in got.body
    clicks = [{"type": "click", "selector": "#hero", "eventToken": "tok"}]
    for nonce in ("n1", "n2"):  # the click listener carries it too
        got = await cache.apply(PAGE, clicks, {**OPTIONS, "nonce": nonce}, offload=False)
        assert f'nonce="{nonce}"'.encode() in got.body
    assert cache.stats == Counter({"rewrite-cache-miss": 5, "rewrite-cache-hit": 2})


async def test_actions_that_are_not_plain_json_are_rewritten_every_time() -> None:
    cache = RewriteCache(1024 * 1024)
    odd = [{"type": "setHtml", "selector": "#hero", "content": "x", "extra": object()}]
    for _ in range(2):
        assert (await cache.apply(PAGE, odd, OPTIONS, offload=False)).changed
    assert cache.stats == Counter()
    assert cache.info().entries == 0


async def test_size_zero_rewrites_every_time_and_counts_nothing() -> None:
    cache = RewriteCache(0)
    first = await cache.apply(PAGE, HERO, OPTIONS, offload=False)
    second = await cache.apply(PAGE, HERO, OPTIONS, offload=True)
    assert first == second
    assert first is not second
    assert cache.stats == Counter()
    with pytest.raises(ValueError, match="size in bytes"):
        RewriteCache(-1)


async def test_least_recently_used_entries_go_first_and_the_bytes_stay_within_the_size() -> None:
    a, b, c, d, e = (page_of(2000, letter) for letter in "abcde")
    one = ENTRY_OVERHEAD + 2 * 2000 + 600  # page, output, key and reports, roughly
    cache = RewriteCache(int(one * 4.5))
    for page in (a, b, c, d):
        await cache.apply(page, HERO, OPTIONS, offload=False)
    await cache.apply(a, HERO, OPTIONS, offload=False)  # a is now the most recently used
    await cache.apply(e, HERO, OPTIONS, offload=False)  # b goes
    assert cache.info().entries == 4
    assert cache.info().used <= cache.size
    cache.stats.clear()
    for page in (a, c, d, e):
        await cache.apply(page, HERO, OPTIONS, offload=False)
    assert cache.stats == Counter({"rewrite-cache-hit": 4})
    await cache.apply(b, HERO, OPTIONS, offload=False)
    assert cache.stats == Counter({"rewrite-cache-hit": 4, "rewrite-cache-miss": 1})
    for size in range(100, 9000, 97):  # any page size against a small cache: never over its bound
        await cache.apply(page_of(size), HERO, OPTIONS, offload=False)
        assert cache.info().used <= cache.size


async def test_an_entry_over_a_quarter_of_the_cache_is_not_kept() -> None:
    cache = RewriteCache(40_000)
    big = page_of(6_000)  # page + output: over 10 000 bytes
    await cache.apply(big, HERO, OPTIONS, offload=False)
    await cache.apply(big, HERO, OPTIONS, offload=False)
    assert cache.stats == Counter({"rewrite-cache-miss": 2})
    assert cache.info() == rewritecache.CacheInfo(40_000, 0, 0)
    small = page_of(3_000)
    await cache.apply(small, HERO, OPTIONS, offload=False)
    assert cache.info().entries == 1


async def test_a_digest_collision_costs_a_rewrite_never_another_pages_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # xxh3 collisions cannot be made to order: stand them in for the digests to show the page is compared too.
    monkeypatch.setattr(rewritecache.xxhash, "xxh3_64_intdigest", lambda data, seed=0: 7)
    monkeypatch.setattr(rewritecache.xxhash, "xxh3_128_digest", lambda data, seed=0: b"same")
    cache = RewriteCache(1024 * 1024)
    first, other = page_of(500, "a"), page_of(500, "b")
    await cache.apply(first, HERO, OPTIONS, offload=False)
    got = await cache.apply(other, HERO, OPTIONS, offload=False)
    assert got == rewrite(other, HERO, OPTIONS)
    assert b"bbbb" in got.body
    assert b"aaaa" not in got.body
    assert cache.stats == Counter({"rewrite-cache-miss": 2})


async def test_pages_alike_but_in_the_middle_are_each_kept() -> None:
    """Same length, same first and last 4 KB: the second page is keyed by all its bytes, and both hit."""
    head, tail = b"<html><head></head><body>" + b" " * 5000, b" " * 5000 + b"</body></html>"
    one, two = head + b"<p id=hero>one</p>" + tail, head + b"<p id=hero>two</p>" + tail
    cache = RewriteCache(1024 * 1024)
    for page in (one, two, one, two, bytes(bytearray(one))):
        got = await cache.apply(page, HERO, OPTIONS, offload=False)
        assert got == rewrite(page, HERO, OPTIONS)
    assert cache.stats == Counter({"rewrite-cache-miss": 2, "rewrite-cache-hit": 3})
    assert cache.info().entries == 2
    last = one[:-1] + b"!"  # one byte apart, at its very end
    assert await cache.apply(last, HERO, OPTIONS, offload=False) == rewrite(last, HERO, OPTIONS)
    assert cache.stats["rewrite-cache-miss"] == 3


async def test_a_page_an_engine_failure_touched_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from target_middleware.html import apply as apply_module

    def failing(*args: Any) -> bool:
        raise RuntimeError("the engine failed")

    monkeypatch.setattr(apply_module, "perform", failing)  # an engine failure cannot be made to order
    cache = RewriteCache(1024 * 1024)
    for _ in range(2):
        got = await cache.apply(PAGE, HERO, OPTIONS, offload=False)
        assert [r.reason for r in got.skipped] == ["error"]
    assert cache.stats == Counter({"rewrite-cache-miss": 2})
    assert cache.info().entries == 0


class Gate:
    """The real rewrite, held on its worker thread until released; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, page: bytes, actions: Any, options: Any) -> Rewrite:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(60)
        return rewrite(page, actions, options)


async def test_concurrent_requests_for_one_key_share_one_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate()
    monkeypatch.setattr(rewritecache, "rewrite", gate)
    cache = RewriteCache(1024 * 1024)
    leader = asyncio.create_task(cache.apply(PAGE, HERO, OPTIONS, offload=True))
    for _ in range(6000):  # up to a minute for a worker thread to pick it up
        if gate.entered.is_set():
            break
        await asyncio.sleep(0.01)
    assert gate.entered.is_set()
    followers = [asyncio.create_task(cache.apply(PAGE, HERO, OPTIONS, offload=False)) for _ in range(10)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(task.done() for task in followers)  # they wait for the one rewrite under way
    gate.release.set()
    results = await asyncio.gather(leader, *followers)
    assert gate.calls == 1
    assert all(r is results[0] for r in results)
    assert results[0] == rewrite(PAGE, HERO, OPTIONS)
    assert cache.stats == Counter({"rewrite-cache-miss": 1, "rewrite-cache-hit": 10})


async def test_when_the_shared_rewrite_fails_every_waiter_learns_it_and_none_hangs() -> None:
    cache = RewriteCache(1024 * 1024)
    undecodable = PAGE + b"\xff\xfe"
    options = {**OPTIONS, "charset": "utf-8"}
    results = await asyncio.wait_for(
        asyncio.gather(
            *(cache.apply(undecodable, HERO, options, offload=True) for _ in range(5)), return_exceptions=True
        ),
        timeout=60,
    )
    assert all(isinstance(r, ValueError) for r in results)
    assert not cache._inflight
    assert cache.info().entries == 0
    assert (await cache.apply(PAGE, HERO, OPTIONS, offload=True)).changed  # and the cache still works


def test_loops_on_several_threads_share_one_cache_without_tearing_it() -> None:
    cache = RewriteCache(60_000)  # small: entries are evicted while others read
    pages = [page_of(1500 + 10 * i, chr(ord("a") + i)) for i in range(12)]
    fresh = {page: rewrite(page, HERO, OPTIONS) for page in pages}
    failures: list[str] = []

    def worker(offset: int) -> None:
        async def run() -> None:
            for n in range(120):
                page = pages[(n * 5 + offset) % len(pages)]
                got = await cache.apply(page, HERO, OPTIONS, offload=n % 3 == 0)
                if got != fresh[page]:
                    failures.append(f"thread {offset}, round {n}")
                if cache.info().used > cache.size:
                    failures.append("over size")

        asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    assert cache.stats["rewrite-cache-hit"] + cache.stats["rewrite-cache-miss"] == 4 * 120
    assert cache.stats["rewrite-cache-hit"] > 0


SHARED = RewriteCache(256 * 1024)  # one cache across every example: a key that confused two inputs would show


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html=documents,
    actions=st.lists(raw_actions, max_size=5),
    engine=engines,
    nonce=st.sampled_from([None, "n1", "n2"]),
    offload=st.booleans(),
)
def test_cache_on_and_cache_off_give_the_same_bytes(
    html: str, actions: list[dict[str, Any]], engine: str, nonce: str | None, offload: bool
) -> None:
    page = html.encode()
    options = {**OPTIONS, "engine": engine, "nonce": nonce}
    expected = rewrite(page, actions, options)

    async def twice() -> tuple[Rewrite, Rewrite]:
        return (
            await SHARED.apply(page, actions, options, offload=offload),
            await SHARED.apply(page, actions, options, offload=not offload),
        )

    first, second = asyncio.run(twice())
    assert first == expected
    assert second == expected
    assert SHARED.info().used <= SHARED.size


# Pages of one length that differ at the start, in the middle (same sampled digest) or at the end, and others.
_HEAD, _TAIL = b"<html><head></head><body>" + b" " * 5000, b" " * 5000 + b"</body></html>"
LOOKALIKES = [
    _HEAD + b"<p id=hero>one</p>" + _TAIL,
    _HEAD + b"<p id=hero>two</p>" + _TAIL,
    b"!" + _HEAD[1:] + b"<p id=hero>one</p>" + _TAIL,
    _HEAD + b"<p id=hero>one</p>" + _TAIL[:-1] + b"!",
    page_of(3_000, "a"),
    page_of(3_000, "b"),
    PAGE,
]
# Two experiences, each with its plan key (what plankey.plan_key gives for its actions: here any exact stand-in).
EXPERIENCES = [
    ([{"type": "setHtml", "selector": "#hero", "content": "Winter sale"}], ("setHtml", "#hero", "Winter sale")),
    ([{"type": "setHtml", "selector": "#hero", "content": "Summer sale"}], ("setHtml", "#hero", "Summer sale")),
    (  # the nonce goes on its script: part of the key
        [{"type": "setHtml", "selector": "#hero", "content": "<script>sale()</script>"}],
        ("setHtml", "#hero", "<script>sale()</script>"),
    ),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["apply", "cached", "cached", "clear"]),
            st.integers(0, len(LOOKALIKES) - 1),
            st.integers(0, 2),
            st.booleans(),  # the plan key as the same object, or an equal one
            st.sampled_from(["utf-8", None]),
            st.sampled_from([None, "n1", "n2"]),
        ),
        max_size=25,
    ),
    size=st.sampled_from([90_000, 1024 * 1024]),  # 90 KB: four 10 KB pages and their rewrites at most
)
def test_a_hit_found_by_comparing_with_the_latest_page_is_the_pages_own(
    steps: list[tuple[str, int, int, bool, str | None, str | None]], size: int
) -> None:
    """``cached`` tries the entry its plan hit last (with equal options), then compares a page with the latest entry
    of its actions, settings and length before any digest: whatever pages of one length came and went (a small
    cache evicts, or is cleared), with whatever charsets and nonces, a hit is this page's fresh rewrite, and the
    last hits and latest entries are ones the cache still holds (an evicted entry is not kept alive by them)."""
    cache = RewriteCache(size)
    keys = [plan for _, plan in EXPERIENCES]

    async def run() -> None:
        for op, index, experience, same, charset, nonce in steps:
            got: Rewrite | None = None
            page, (actions, plan) = bytes(bytearray(LOOKALIKES[index])), EXPERIENCES[experience]
            plan = keys[experience] if same else tuple(part for part in plan)  # equal, another object
            options = {**OPTIONS, "charset": charset, "nonce": nonce}
            expected = rewrite(page, actions, options)
            if op == "clear":
                cache.clear()
            elif op == "apply":
                got = await cache.apply(page, actions, options, offload=False, plan=plan)
                assert got == expected
            else:
                got = cache.cached(page, plan, options)
                assert got is None or got == expected
            if got is not None and any(entry.rewrite is got for entry in cache._order):
                assert next(reversed(cache._order)).rewrite is got  # the most recently used now
            assert all(cache._entries.get(key) is entry for key, entry in cache._latest.values())
            assert all(cache._entries.get(entry.key) is entry for _, _, entry in cache._hits.values())
            # The recency order holds exactly the entries the cache holds.
            assert len(cache._order) == len(cache._entries)
            assert all(cache._entries.get(entry.key) is entry for entry in cache._order)

    asyncio.run(run())


async def test_a_page_met_again_is_found_by_comparing_without_a_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route's latest page, sent again, is a hit before any digest is made; another page of its length is not
    taken for it (it is keyed by its digests and rewritten)."""
    cache = RewriteCache(1024 * 1024)
    one, two = LOOKALIKES[0], LOOKALIKES[1]
    actions, plan = EXPERIENCES[0]
    first = await cache.apply(one, actions, OPTIONS, offload=False, plan=plan)
    digests: list[int] = []
    real = rewritecache.xxhash.xxh3_64_intdigest
    monkeypatch.setattr(
        rewritecache.xxhash, "xxh3_64_intdigest", lambda data, seed=0: digests.append(1) or real(data, seed)
    )
    assert cache.cached(bytes(bytearray(one)), plan, OPTIONS) is first
    assert digests == []
    assert cache.cached(two, plan, OPTIONS) is None
    assert digests
    assert await cache.apply(two, actions, OPTIONS, offload=False, plan=plan) == rewrite(two, actions, OPTIONS)
    assert cache.stats == Counter({"rewrite-cache-miss": 2, "rewrite-cache-hit": 1})


async def test_a_plan_s_last_hit_is_used_only_with_the_options_it_was_hit_with() -> None:
    """The entry a plan hit last is tried first, with equal options only: another nonce (keyed for actions with a
    script) or charset is looked up apart and never given that entry's bytes."""
    cache = RewriteCache(1024 * 1024)
    actions, plan = EXPERIENCES[2]
    page = LOOKALIKES[0]
    first, second = {**OPTIONS, "nonce": "n1"}, {**OPTIONS, "nonce": "n2"}
    one = await cache.apply(page, actions, first, offload=False, plan=plan)
    assert b'nonce="n1"' in one.body
    assert cache.cached(page, plan, dict(first)) is one  # kept as the plan's last hit
    assert cache.cached(page, plan, second) is None  # not n1's page
    two = await cache.apply(page, actions, second, offload=False, plan=plan)
    assert b'nonce="n2"' in two.body
    assert cache.cached(page, plan, dict(second)) is two
    assert cache.cached(page, plan, dict(first)) is one
    assert cache.cached(LOOKALIKES[1], plan, dict(first)) is None  # another page of the same length
    assert cache.stats == Counter({"rewrite-cache-miss": 2, "rewrite-cache-hit": 3})


async def test_an_evicted_entry_is_not_kept_by_its_plan_s_last_hit() -> None:
    """Evicted (or replaced, or cleared), an entry leaves its plan's last hit with it: no bytes are held beyond the
    cache's size, and the page is rewritten again."""
    page = page_of(3_000, "a")
    actions, plan = EXPERIENCES[0]
    cache = RewriteCache(4 * (2 * 3_000 + 1_000))
    kept = await cache.apply(page, actions, OPTIONS, offload=False, plan=plan)
    assert cache.cached(page, plan, OPTIONS) is kept
    assert [hit[2].rewrite for hit in cache._hits.values()] == [kept]
    for marker in "bcdef":  # newer pages push it out
        await cache.apply(page_of(3_000, marker), actions, OPTIONS, offload=False, plan=plan)
    assert all(hit[2].rewrite is not kept for hit in cache._hits.values())
    assert cache.cached(page, plan, OPTIONS) is None
    assert cache.cached(page_of(3_000, "f"), plan, OPTIONS) is not None
    assert cache._hits
    cache.clear()
    assert not cache._hits
    assert cache.cached(page_of(3_000, "f"), plan, OPTIONS) is None


async def test_a_hit_on_a_plan_s_last_entry_makes_it_the_most_recently_used() -> None:
    """A hit that ``cached`` finds by the plan's last hit moves its entry to the end of the recency order, as every
    other hit does: the next eviction takes the least recently used entry, not it."""
    actions, plan = EXPERIENCES[0]
    a, b, c, d, e = (page_of(3_000, letter) for letter in "abcde")
    probe = RewriteCache(1024 * 1024)
    await probe.apply(a, actions, OPTIONS, offload=False, plan=plan)
    cache = RewriteCache(int(probe.info().used * 4.5))  # four entries fit
    await cache.apply(a, actions, OPTIONS, offload=False, plan=plan)
    assert cache.cached(a, plan, OPTIONS) is not None  # now the plan's last hit
    for page in (b, c, d):
        await cache.apply(page, actions, OPTIONS, offload=False, plan=plan)
    assert cache.cached(a, plan, dict(OPTIONS)) is not None  # by the plan's last hit: a is the most recent
    await cache.apply(e, actions, OPTIONS, offload=False, plan=plan)  # b goes
    assert cache.info().entries == 4
    assert cache.cached(b, plan, OPTIONS) is None
    assert all(cache.cached(page, plan, OPTIONS) is not None for page in (a, c, d, e))
