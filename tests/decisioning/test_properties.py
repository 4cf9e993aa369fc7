"""Properties over generated inputs: the engine's pieces never fail on what a request can carry."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from target_middleware.decisioning.allocation import allocation
from target_middleware.decisioning.context import mbox_context, url_context
from target_middleware.decisioning.jsvalues import loose_equals
from target_middleware.decisioning.rules import compile_condition

scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=8)


@given(st.text(max_size=40), st.integers(0, 10**9), st.text(max_size=60))
def test_allocation_is_a_deterministic_percentage(client: str, activity: int, visitor: str) -> None:
    value = allocation(client, activity, visitor)
    assert 0 <= value < 100
    assert round(value, 2) == value
    assert allocation(client, activity, visitor) == value


@given(scalars, scalars)
def test_loose_equality_is_symmetric(a: Any, b: Any) -> None:
    assert loose_equals(a, b) == loose_equals(b, a)


@given(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "===", "and", "or"]), scalars, scalars)
def test_comparisons_of_any_two_values_evaluate(op: str, a: Any, b: Any) -> None:
    ctx = {"x": a}
    compile_condition({op: [{"var": "x"}, b]})(ctx)
    compile_condition({op: [b, {"var": "x"}]})(ctx)


@given(st.text(max_size=80))
def test_any_url_string_gives_every_part(url: str) -> None:
    parts = url_context(url)
    assert {"url", "path", "query", "fragment", "domain", "subdomain", "topLevelDomain"} <= set(parts)
    assert all(isinstance(parts[f"{key}_lc"], str) for key in ("domain", "path", "query"))


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=8), max_size=8))
def test_any_mbox_params_build_a_context(params: dict[str, str]) -> None:
    ctx = mbox_context({"parameters": params})
    for key, value in params.items():
        if "." not in key:
            assert ctx[key] == value or isinstance(ctx[key], dict)
