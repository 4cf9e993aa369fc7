"""getOffer options validation and the legacy action list at.js hands to success()."""

from __future__ import annotations

from typing import Any

import pytest

from target_middleware.delivery import TargetClient, to_atjs_actions
from target_middleware.delivery.models import Action, Metric, MetricType, Option, OptionType


def _opt(kind: OptionType, content: Any) -> Option:
    return Option(kind, content, None, {})


def test_html_joined_json_grouped_redirect_and_clicks() -> None:
    actions = to_atjs_actions(
        [
            _opt(OptionType.HTML, "<a>"),
            _opt(OptionType.JSON, {"x": 1}),
            _opt(OptionType.HTML, "<b>"),
            _opt(OptionType.REDIRECT, "https://e.example/"),
            _opt(OptionType.JSON, [2]),
        ],
        [
            Metric(MetricType.CLICK, "#buy", "tok"),
            Metric(MetricType.CLICK, None, "tok2"),
            Metric(MetricType.DISPLAY, None, "d"),
        ],
    )
    assert actions == [
        {"action": "setContent", "content": "<a><b>"},
        {"action": "setJson", "content": [{"x": 1}, [2]]},
        {"action": "redirect", "url": "https://e.example/"},
        {"action": "trackClick", "selector": "#buy", "clickTrackId": "tok"},
        {"action": "signalClick", "clickTrackId": "tok2"},
    ]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (Action("setHtml", "#a", "#a", "x"), {"action": "setContent", "content": "x"}),
        (Action("appendHtml", "#a", "#a", "x"), {"action": "appendContent", "content": "x"}),
        (Action("prependHtml", "#a", "#a", "x"), {"action": "prependContent", "content": "x"}),
        (Action("replaceHtml", "#a", "#a", "x"), {"action": "replaceContent", "content": "x"}),
        (
            Action("setImageSource", "#a", "#a", "/i.png"),
            {"action": "setAttribute", "attribute": "src", "value": "/i.png"},
        ),
        (Action("resize", "#a", "#a", {"width": "1px"}), {"action": "setStyle", "style": {"width": "1px"}}),
        (Action("move", "#a", "#a", {"left": "1px"}), {"action": "setStyle", "style": {"left": "1px"}}),
        (Action("rearrange", "#a", "#a", {"from": 0, "to": 2}), {"action": "rearrange", "from": 0, "to": 2}),
        (Action("remove", "#a", "#a", None), {"action": "remove"}),
    ],
)
def test_vec_actions_get_legacy_names(action: Action, expected: dict[str, Any]) -> None:
    (got,) = to_atjs_actions([_opt(OptionType.ACTIONS, (action,))])
    assert got == {"selector": "#a", "cssSelector": "#a", **expected}


def _ok(*args: Any) -> None:
    return None


@pytest.mark.parametrize(
    "options",
    [
        {"success": _ok, "error": _ok},
        {"mbox": "", "success": _ok, "error": _ok},
        {"mbox": 5, "success": _ok, "error": _ok},
        {"mbox": "m", "success": "not callable", "error": _ok},
        {"mbox": "m", "success": _ok},
        {"mbox": "m", "success": _ok, "error": _ok, "timeout": -1},
        {"mbox": "m", "success": _ok, "error": _ok, "timeout": "100"},
        {"mbox": "m", "success": _ok, "error": _ok, "params": ["a"]},
        {"mbox": "m", "success": _ok, "error": _ok, "params": {"orderTotal": "x"}},
        {"mbox": "m", "success": _ok, "error": _ok, "visitor": "me"},
    ],
)
async def test_bad_options_are_value_errors_at_once(options: dict[str, Any]) -> None:
    client = TargetClient("acme", "O@AdobeOrg", server_domain="127.0.0.1:9", secure=False)
    with pytest.raises(ValueError, match=r"getOffer|param"):
        await client.get_offer(options)
    assert len(client._pools) == 0  # nothing was sent


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_code": "acme.evil.com"},
        {"client_code": ""},
        {"organization_id": " "},
        {"server_domain": "evil.com/path"},
        {"server_domain": "a@b"},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"decisioning": "on-device"},
        {"decisioning": "sometimes"},
    ],
)
def test_client_config_is_validated(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"client_code": "acme", "organization_id": "O@AdobeOrg", **kwargs}
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        TargetClient(**args)
