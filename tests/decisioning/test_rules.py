from __future__ import annotations

from typing import Any

import pytest

from target_middleware.decisioning.rules import RuleError, compile_condition, loose_equals


def evaluate(logic: Any, data: Any = None) -> Any:
    return compile_condition(logic)(data or {})


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("5", 5, True),
        (5, 5.0, True),
        ("5.0", 5, True),
        ("a", "a", True),
        ("a", "A", False),
        (None, None, True),
        (None, 0, False),
        (True, 1, True),
        ("true", True, False),
        ("", 0, True),
        ([1], 1, True),
        ({}, {}, False),
        (" 7 ", 7, True),
        ("x", 0, False),
        # An array or object against a primitive: its String() form, as JavaScript writes it.
        ([1e21], "1e+21", True),
        ([1e-7, None, True], "1e-7,,true", True),
        ([[1, 2], 3], "1,2,3", True),
        ({}, "[object Object]", True),
    ],
)
def test_loose_equality_is_javascripts(a: Any, b: Any, equal: bool) -> None:
    assert loose_equals(a, b) is equal
    assert evaluate({"==": [a, b]}) is equal
    assert evaluate({"!=": [a, b]}) is (not equal)


def test_strict_equality() -> None:
    assert evaluate({"===": [1, 1.0]}) is True
    assert evaluate({"===": ["1", 1]}) is False


@pytest.mark.parametrize(
    ("logic", "expected"),
    [
        ({"in": ["bar", "http://x/?bar=true"]}, True),
        ({"in": ["baz", "http://x/?bar=true"]}, False),
        ({"in": [2, [1, 2, 3]]}, True),
        ({"in": ["2", [1, 2, 3]]}, False),
        ({"in": ["a", None]}, False),
        # A number looked up in a string is its JavaScript String() form.
        ({"in": [1e21, "limit=1e+21"]}, True),
        ({"in": [1e21, "limit=1000000000000000000000"]}, False),
        ({"in": [1.0, "x=1&y"]}, True),
        ({"in": [1e-7, "1e-7"]}, True),
        ({"in": [True, "flag=true"]}, True),
        ({"<=": [0, 50, 100]}, True),
        ({"<=": [0, 100.01, 100]}, False),
        ({"<": [0, 0, 100]}, False),
        ({"<": ["10", 9]}, False),
        ({"<": ["abc", "abd"]}, True),
        ({">=": [50, "50"]}, True),
        ({">": ["x", 1]}, False),
        ({"!": [[]]}, True),
        ({"!": [""]}, True),
        ({"!!": ["0"]}, True),
        ({"and": [True, 1, "x"]}, "x"),
        ({"or": [0, "", "y"]}, "y"),
        ({"if": [False, "a", True, "b", "c"]}, "b"),
        (True, True),
    ],
)
def test_operators(logic: Any, expected: Any) -> None:
    assert evaluate(logic) == expected


def test_var_paths_and_defaults() -> None:
    data = {"mbox": {"favorite": {"color_lc": "red"}}, "list": [10, 20], "zero": 0}
    assert evaluate({"var": "mbox.favorite.color_lc"}, data) == "red"
    assert evaluate({"var": "list.1"}, data) == 20
    assert evaluate({"var": ["missing.path", "dflt"]}, data) == "dflt"
    assert evaluate({"var": "zero"}, data) == 0
    assert evaluate({"var": "mbox.favorite.color_lc.deeper"}, data) is None
    assert evaluate({"==": [{"var": "page.url"}, None]}, data) is True


def test_the_artifacts_shape_of_condition() -> None:
    condition = {
        "and": [
            {"<=": [0, {"var": "allocation"}]},
            {">=": [50, {"var": "allocation"}]},
            {"==": ["firefox", {"var": "user.browserType"}]},
        ]
    }
    assert evaluate(condition, {"allocation": 48.44, "user": {"browserType": "firefox"}}) is True
    assert evaluate(condition, {"allocation": 50.01, "user": {"browserType": "firefox"}}) is False


@pytest.mark.parametrize("logic", [{"frobnicate": [1]}, {"==": [1]}, {"a": 1, "b": 2}, {">": [1, 2, 3]}])
def test_unsupported_logic_is_an_error(logic: Any) -> None:
    with pytest.raises(RuleError):
        compile_condition(logic)


def test_a_comparison_with_the_variable_read_inline_is_the_general_one() -> None:
    """``{op: [literal, {"var": path}]}`` (and the other way round) is compiled to one closure that reads a short
    path itself; the same operands through ``if`` take the general compile. Equal on every context shape."""
    import itertools
    from collections import UserDict

    values: list[Any] = [None, 0, 49.99, 50, 100, "50", "/page", "/other", "", True, [], {}, float("nan")]
    paths = ["allocation", "page.path", "page", "page.", "a.b.c", ""]
    contexts: list[Any] = [{}, {"page": None}, {"page": "x"}, UserDict({"allocation": 50})]
    for value in values:
        contexts += [{"allocation": value, "page": {"path": value, "": value}}, {"page": UserDict({"path": value})}]
    for op, literal, path, first in itertools.product(
        ["==", "<", "<=", ">", ">="], [0, 50, 99.5, "/page", "50", None], paths, [True, False]
    ):
        var = {"var": path}
        wrapped = {"if": [True, var]}
        inline = compile_condition({op: [literal, var] if first else [var, literal]})
        general = compile_condition({op: [literal, wrapped] if first else [wrapped, literal]})
        for ctx in contexts:
            assert inline(ctx) == general(ctx), (op, literal, path, first, ctx)
