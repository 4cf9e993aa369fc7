from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from target_middleware.routing import MboxRule, Rules, resolve_params


def scope(path: str, method: str = "GET", host: str = "shop.example") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [(b"host", host.encode())]}


def test_first_matching_rule_wins_with_path_params_converted() -> None:
    rules = Rules(
        [
            MboxRule("/products/{sku}", mboxes=["pdp"]),
            MboxRule("/items/{n:int}", mboxes=["item"]),
            MboxRule("/{rest:path}", mboxes=["target-global-mbox"]),
        ]
    )
    product = rules.match(scope("/products/abc"))
    assert product is not None
    assert (product.rule.mboxes, product.path_params) == (("pdp",), {"sku": "abc"})
    item = rules.match(scope("/items/42"))
    assert item is not None
    assert item.path_params == {"n": 42}
    fallback = rules.match(scope("/products/abc/reviews"))
    assert fallback is not None
    assert fallback.rule.mboxes == ("target-global-mbox",)


def test_method_host_and_exclude_narrow_a_rule() -> None:
    rules = Rules([MboxRule("/{p:path}", mboxes=["m"], host="{sub}.example", exclude=["/api/{x:path}"])])
    assert rules.match(scope("/home")) is not None
    assert rules.match(scope("/home", method="POST")) is None
    assert rules.match(scope("/home", host="other.test")) is None
    assert rules.match(scope("/home", host="shop.example:8000")) is not None
    assert rules.match(scope("/api/cart")) is None
    assert Rules([MboxRule("/f", mboxes=["m"], methods=["get", "post"])]).match(scope("/f", "POST")) is not None


def test_no_rule_no_match() -> None:
    assert Rules([MboxRule("/", mboxes=["m"])]).match(scope("/other")) is None
    assert not Rules([])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "products", "mboxes": ["m"]}, "must start with '/'"),
        ({"path": "/p/{x:nope}", "mboxes": ["m"]}, "invalid path"),
        ({"path": "/", "mboxes": []}, "mboxes"),
        ({"path": "/", "mboxes": "home"}, "mboxes"),
        ({"path": "/", "mboxes": [""]}, "invalid mbox name"),
        ({"path": "/", "mboxes": ["m"], "params": 5}, "params must be"),
        ({"path": "/", "mboxes": ["m"], "methods": []}, "methods"),
    ],
)
def test_invalid_configuration_fails_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MboxRule(**kwargs)
    with pytest.raises(ValueError, match="MboxRule"):
        Rules(["/"])  # type: ignore[list-item]


async def test_params_from_a_mapping_or_a_sync_or_async_callable() -> None:
    request = Request({**scope("/products/abc"), "path_params": {"sku": "abc"}, "query_string": b""})

    async def from_path(r: Request) -> dict[str, str]:
        return {"productId": r.path_params["sku"]}

    assert await resolve_params({"a": 1}, request) == {"a": 1}
    assert await resolve_params(lambda r: {"p": r.url.path}, request) == {"p": "/products/abc"}
    assert await resolve_params(from_path, request) == {"productId": "abc"}
    assert await resolve_params(None, request) == {}
    with pytest.raises(TypeError, match="mapping"):
        await resolve_params(lambda r: ["x"], request)  # type: ignore[arg-type,return-value]
