"""plan_key against page_plan: two decisions share a key exactly when their plans' actions marshal alike."""

from __future__ import annotations

import marshal
from collections import Counter
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from target_middleware import rewritecache
from target_middleware.decisions import page_plan
from target_middleware.delivery.models import Action, MboxResult, Metric, MetricType, Option, OptionType, PageLoadResult
from target_middleware.delivery.shared import shared_page_load
from target_middleware.plankey import plan_key, uses_nonce
from target_middleware.rewritecache import RewriteCache, cache_key

# Few values, so that two random decisions often plan alike, and the values == confuses (1, 1.0, True; 0, False,
# -0.0) side by side.
LEAVES = st.sampled_from([None, 0, 1, True, False, 1.0, 0.0, -0.0, "", "1", "a", "script"])
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2),
    max_leaves=4,
)
WORDS = st.sampled_from(["", "#a", "B", "click"])
ACTIONS = st.builds(Action, WORDS, st.none() | WORDS, st.none() | WORDS, JSON)
OPTIONS = st.one_of(
    st.builds(Option, st.just(OptionType.ACTIONS), st.lists(ACTIONS, max_size=2).map(tuple), st.none(), st.just({})),
    st.builds(
        Option,
        st.sampled_from([t for t in OptionType if t is not OptionType.ACTIONS]),
        JSON | WORDS,
        st.none(),
        st.just({}),
    ),
)
METRICS = st.builds(Metric, st.sampled_from(list(MetricType)), st.none() | WORDS, st.none() | WORDS)
OPTION_LISTS, METRIC_LISTS = st.lists(OPTIONS, max_size=2).map(tuple), st.lists(METRICS, max_size=2).map(tuple)
RESULTS = st.builds(
    SimpleNamespace,
    page_load=st.none() | st.builds(PageLoadResult, OPTION_LISTS, METRIC_LISTS),
    mboxes=st.lists(st.builds(MboxResult, st.sampled_from(["g", "side"]), st.none(), OPTION_LISTS, METRIC_LISTS)),
)
SELECTORS = st.sampled_from([{}, {"side": "#side"}, {"g": "main"}])


def keyable(value: Any) -> bool:
    """What plan_key keys: JSON of str, int, bool and None (a float or anything else is the marshalled path's)."""
    if isinstance(value, dict):
        return type(value) is dict and all(type(k) is str and keyable(v) for k, v in value.items())
    if isinstance(value, list):
        return type(value) is list and all(keyable(v) for v in value)
    return value is None or type(value) in (str, int, bool)


@settings(max_examples=1000)
@given(a=RESULTS, b=RESULTS, clicks=st.booleans(), selectors=SELECTORS)
def test_two_plans_share_a_key_exactly_when_their_actions_marshal_alike(
    a: Any, b: Any, clicks: bool, selectors: dict[str, str]
) -> None:
    keys, plans = [], []
    for result in (a, b):
        plan = page_plan(result, selectors, "g", page_load_clicks=clicks)
        key = plan_key(result, selectors, "g", page_load_clicks=clicks)
        if plan.redirect is None:
            assert (key is None) == (not keyable(plan.actions))
        # (before a redirect, a value that has no place in a key leaves it to page_plan to find the redirect)
        if key is not None:
            flat, count, redirect = key
            assert redirect == plan.redirect
            assert count == len(plan.actions)
            assert redirect is None or flat == ()
        keys.append(key)
        plans.append(plan)
    if keys[0] is not None and keys[1] is not None:
        same_actions = marshal.dumps(plans[0].actions, 2) == marshal.dumps(plans[1].actions, 2)
        assert (keys[0][0] == keys[1][0]) == same_actions
        assert (hash(keys[0][0]) == hash(keys[1][0])) or not same_actions


def _words(value: Any) -> bool:
    """Whether a string of the JSON ``value`` (a key or a value) holds a word that can carry the nonce."""
    if isinstance(value, str):
        return any(word in value.lower() for word in ("script", "style", "click"))
    if isinstance(value, dict):
        return any(_words(k) or _words(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_words(v) for v in value)
    return False


@settings(max_examples=500)
@given(result=RESULTS, clicks=st.booleans(), selectors=SELECTORS)
def test_the_nonce_is_keyed_exactly_when_the_plans_actions_hold_a_word_that_carries_it(
    result: Any, clicks: bool, selectors: dict[str, str]
) -> None:
    """As the marshalled key tests its bytes: a click metric's action (type "click") included."""
    key = plan_key(result, selectors, "g", page_load_clicks=clicks)
    plan = page_plan(result, selectors, "g", page_load_clicks=clicks)
    if key is not None and plan.redirect is None:
        assert uses_nonce(key[0]) == _words(plan.actions)


async def test_a_click_metric_keys_the_nonce_whatever_its_selector_and_token() -> None:
    """The click listener the rewrite inserts carries the nonce: a second page with another nonce is not the
    first's, though no string of the plan says "click" (the bug: its key left the nonce out)."""
    option = Option(OptionType.ACTIONS, (Action("setContent", "#hero", None, "Winter sale"),), None, {})
    result = SimpleNamespace(
        page_load=PageLoadResult((option,), (Metric(MetricType.CLICK, "a.cta", "tok-1"),)), mboxes=()
    )
    found = plan_key(result, {}, "g")
    assert found is not None
    actions = page_plan(result, {}, "g").actions
    page = b"<html><body><p id='hero'>x</p><a class='cta' href='/'>go</a></body></html>"
    cache = RewriteCache(1 << 20)
    for nonce in ("n1", "n2", "n1"):
        options = {"engine": None, "nonce": nonce, "charset": None, "click_endpoint": None}
        got = await cache.apply(page, actions, options, offload=False, plan=found[0])
        assert f'nonce="{nonce}"'.encode() in got.body
        again = cache.cached(page, found[0], options)
        assert again is not None
        assert f'nonce="{nonce}"'.encode() in again.body


def one(content: Any, kind: str = "setAttribute") -> Any:
    option = Option(OptionType.ACTIONS, (Action(kind, "#hero", None, content),), None, {})
    return SimpleNamespace(page_load=PageLoadResult((option,), ()), mboxes=())


def test_json_types_stay_apart_and_key_order_counts() -> None:
    def key(content: Any) -> Any:
        found = plan_key(one(content), {}, "g")
        assert found is not None
        return found[0]

    assert len({key({"a": 1}), key({"a": True}), key({"a": "1"}), key({"a": [1]}), key({"a": {"b": 1}})}) == 5
    assert key({"a": "1", "b": "2"}) != key({"b": "2", "a": "1"})  # attribute order shows in the page
    assert key([0]) != key([False])
    assert key([[1], 1]) != key([[1, 1]])  # a container's length keeps its items apart from what follows
    assert key({"a": {"b": 1}, "c": 2}) != key({"a": {"b": 1, "c": 2}})
    assert key({"a": True}) == key({"a": True}) != key({"a": 1})  # a dict's bool: walked again, deep
    assert plan_key(one({"a": 1.0}), {}, "g") is None  # 1.0 == 1: the marshalled key keeps them apart
    assert plan_key(one(object()), {}, "g") is None


def test_the_nonce_is_keyed_only_when_a_string_of_the_plan_can_carry_it() -> None:
    options = {"engine": None, "nonce": "n1", "charset": None, "click_endpoint": None}
    for content, uses in (("Winter sale", False), ("<SCRIPT>x()</SCRIPT>", True), ({"style": "x"}, True)):
        found = plan_key(one(content), {}, "g")
        assert found is not None
        first = cache_key(b"<p>page</p>", (), options, found[0])
        second = cache_key(b"<p>page</p>", (), {**options, "nonce": "n2"}, found[0])
        assert (first != second) is uses


async def test_a_plan_too_big_to_keep_is_keyed_by_its_marshalled_actions_and_still_hits() -> None:
    big = "x" * (rewritecache.MAX_PLAN_BYTES // 4 + 1)
    found = plan_key(one(big, "setHtml"), {}, "g")
    assert found is not None
    actions = page_plan(one(big, "setHtml"), {}, "g").actions
    options = {"engine": None, "nonce": None, "charset": None, "click_endpoint": None}
    page = b"<html><body><p id='hero'>x</p></body></html>"
    cache = RewriteCache(64 * 1024 * 1024)
    assert cache.cached(page, found[0], options) is None
    first = await cache.apply(page, actions, options, offload=False, plan=found[0])
    assert cache.cached(page, found[0], options) is None  # never made: no plan key finds it
    second = await cache.apply(page, actions, options, offload=False, plan=found[0])
    assert second is first
    assert cache.stats == Counter({"rewrite-cache-miss": 1, "rewrite-cache-hit": 1})
    assert cache_key(page, actions, options, found[0]) == cache_key(page, actions, options)


async def test_plans_are_made_once_and_the_plans_kept_stay_bounded() -> None:
    options = {"engine": None, "nonce": None, "charset": None, "click_endpoint": None}
    page = b"<html><body><p id='hero'>x</p></body></html>"
    cache = RewriteCache(64 * 1024 * 1024)
    key = plan_key(one("a"), {}, "g")
    assert key is not None
    again = plan_key(one("a"), {}, "g")  # new models, equal values: the same plan, found
    assert again is not None
    await cache.apply(page, page_plan(one("a"), {}, "g").actions, options, offload=False, plan=key[0])
    assert cache.cached(page, again[0], options) is not None
    plans = rewritecache._PLANS
    for i in range(3000):
        made = plans.of(plan_key(one(f"{i}" * 700), {}, "g")[0])  # type: ignore[index]
        assert made is not None
        assert len(plans._plans) <= 1024
        assert plans._bytes <= rewritecache.MAX_PLAN_BYTES


@settings(max_examples=500)
@given(
    page_load=st.builds(PageLoadResult, OPTION_LISTS, METRIC_LISTS),
    mboxes=st.lists(st.builds(MboxResult, st.sampled_from(["g", "side"]), st.none(), OPTION_LISTS, METRIC_LISTS)),
    calls=st.lists(st.tuples(SELECTORS, st.booleans()), min_size=1, max_size=6),
)
def test_a_shared_answer_s_key_worked_out_once_is_the_key_of_its_plan(
    page_load: PageLoadResult, mboxes: list[MboxResult], calls: list[tuple[dict[str, str], bool]]
) -> None:
    """A shared page load keeps its key (per html selector of the global mbox and page_load_clicks): every call,
    the first or a kept one, gives what the walk gives for the same values unshared; beside mboxes, it is walked."""
    shared = shared_page_load({}, page_load.options, page_load.metrics, make=lambda: ({}, page_load.options))
    for selectors, clicks in calls:
        for regional in ((), tuple(mboxes)):
            plain = SimpleNamespace(page_load=page_load, mboxes=regional)
            kept = SimpleNamespace(page_load=shared, mboxes=regional)
            key: Any = plan_key(kept, selectors, "g", page_load_clicks=clicks)
            assert key == plan_key(plain, selectors, "g", page_load_clicks=clicks)  # type: ignore[arg-type]
    assert len(shared.memo) == len({(s.get("g"), c) for s, c in calls})
