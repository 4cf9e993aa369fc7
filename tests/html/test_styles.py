from __future__ import annotations

from target_middleware.html.styles import edit_style, parse_style


def test_parse_keeps_important_and_values_with_semicolons_in_parentheses() -> None:
    assert parse_style("color: red !important; background: url(a;b.png); ;bad") == {
        "color": ("red", True),
        "background": ("url(a;b.png)", False),
    }


def test_camel_case_keys_become_dashed_and_numbers_get_px_except_unitless() -> None:
    style = edit_style(None, {"fontSize": 12, "zIndex": 3, "lineHeight": 1.5, "marginTop": "1em"})
    assert parse_style(style) == {
        "font-size": ("12px", False),
        "z-index": ("3", False),
        "line-height": ("1.5", False),
        "margin-top": ("1em", False),
    }


def test_strings_are_not_normalised() -> None:
    assert edit_style(None, {"color": "rgba(0,0,0,1)", "width": "10"}) == "color: rgba(0,0,0,1); width: 10;"


def test_empty_value_removes_the_property() -> None:
    assert edit_style("color: red; margin: 0", {"color": ""}) == "margin: 0;"
    assert edit_style("color: red", {"color": None}) == ""


def test_existing_declarations_keep_their_place_and_new_ones_follow() -> None:
    assert edit_style("color: red; margin: 0", {"color": "blue", "padding": "1px"}) == (
        "color: blue; margin: 0; padding: 1px;"
    )


def test_inline_important_beats_a_normal_value_but_not_priority_important() -> None:
    assert edit_style("color: red !important", {"color": "blue"}) == "color: red !important;"
    assert edit_style("color: red !important", {"color": "blue", "priority": "important"}) == (
        "color: blue !important;"
    )


def test_priority_important_converts_camel_case_too() -> None:
    # at.js ignores camelCase keys with priority; we convert them as without it.
    assert edit_style(None, {"backgroundColor": "red", "priority": "important"}) == (
        "background-color: red !important;"
    )


def test_dimensions_add_px_only_to_bare_numbers_and_ignore_priority() -> None:
    style = edit_style(
        None, {"width": "100", "height": "50%", "left": "auto", "top": 5.5, "priority": "important"}, dimensions=True
    )
    assert parse_style(style) == {
        "width": ("100px", False),
        "height": ("50%", False),
        "left": ("auto", False),
        "top": ("5.5px", False),
    }
