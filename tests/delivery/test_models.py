"""Strict response parsing: anything that does not fit the schema is a parseerror saying where."""

from __future__ import annotations

import re
from typing import Any

import pytest

from target_middleware.delivery import ErrorStatus, OptionType, ResponseParseError, parse_response


def test_parses_execute_and_prefetch() -> None:
    response = parse_response(
        {
            "status": 200,
            "requestId": "r",
            "client": "acme",
            "id": {"tntId": "t.1_0"},
            "edgeHost": "mboxedge1.tt.omtrdc.net",
            "execute": {
                "pageLoad": {"options": [{"type": "actions", "content": [{"type": "remove", "selector": "#x"}]}]},
                "mboxes": [
                    {
                        "index": 0,
                        "name": "m",
                        "options": [{"type": "json", "content": {"a": 1}, "responseTokens": {"k": "v"}}],
                    }
                ],
            },
            "prefetch": {
                "mboxes": [
                    {
                        "index": 0,
                        "name": "p",
                        "state": "st",
                        "options": [{"type": "html", "content": "<b>", "eventToken": "e"}],
                    }
                ]
            },
            "notifications": [{"id": "n1"}],
            "somethingNew": True,
        }
    )
    assert response.execute_page_load is not None
    assert response.execute_page_load.options[0].content[0].content is None
    assert response.execute_mboxes[0].options[0].type is OptionType.JSON
    assert response.response_tokens == ({"k": "v"},)
    assert response.prefetch_mboxes[0].state == "st"
    assert response.notification_ids == ("n1",)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([], "$"),
        ({"status": "200"}, "status"),
        ({"execute": []}, "execute"),
        ({"execute": {"mboxes": {}}}, "execute.mboxes"),
        ({"execute": {"mboxes": [{"index": "0"}]}}, "execute.mboxes[0].index"),
        ({"execute": {"mboxes": [{"options": [{"type": "video"}]}]}}, "execute.mboxes[0].options[0].type"),
        ({"execute": {"mboxes": [{"options": [{"type": "html", "content": 5}]}]}}, "options[0].content"),
        (
            {"execute": {"pageLoad": {"options": [{"type": "actions", "content": [{"selector": "x"}]}]}}},
            "content[0].type",
        ),
        ({"execute": {"pageLoad": {"metrics": [{"type": "hover"}]}}}, "metrics[0].type"),
        ({"id": {"tntId": 5}}, "id.tntId"),
        ({"prefetch": {"views": [{"name": 1}]}}, "prefetch.views[0].name"),
    ],
)
def test_misfits_are_parseerrors(body: Any, where: str) -> None:
    with pytest.raises(ResponseParseError, match=r"at [^ ]*" + re.escape(where)) as info:
        parse_response(body)
    assert info.value.status is ErrorStatus.PARSEERROR
