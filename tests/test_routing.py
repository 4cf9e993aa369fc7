from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
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
    ("kwargs", "error", "message"),
    [
        ({"path": "products", "mboxes": ["m"]}, ValueError, "must start with '/'"),
        ({"path": "/p/{x:nope}", "mboxes": ["m"]}, ValueError, "invalid path"),
        ({"path": 5, "mboxes": ["m"]}, TypeError, "path must be a string"),
        ({"path": "/", "mboxes": []}, ValueError, "mboxes must not be empty"),
        ({"path": "/", "mboxes": "home"}, TypeError, "mboxes must be a collection of strings .* not a bare string"),
        ({"path": "/", "mboxes": [""]}, ValueError, "mboxes must hold non-empty strings"),
        ({"path": "/", "mboxes": [" m"]}, ValueError, "invalid mbox name"),
        ({"path": "/", "mboxes": ["m"], "params": 5}, TypeError, "params must be a mapping or a"),
        ({"path": "/", "mboxes": ["m"], "profile_params": "x"}, TypeError, "profile_params must be"),
        ({"path": "/", "mboxes": ["m"], "methods": []}, ValueError, "methods must not be empty"),
        ({"path": "/", "mboxes": ["m"], "methods": "GET"}, TypeError, "methods .* not a bare string 'GET'"),
        ({"path": "/", "mboxes": ["m"], "methods": ["GE T"]}, ValueError, "HTTP methods like 'GET'"),
        ({"path": "/", "mboxes": ["m"], "exclude": "/api"}, TypeError, r"exclude .*\["),
        ({"path": "/", "mboxes": ["m"], "exclude": [3]}, ValueError, "exclude must hold non-empty strings"),
        ({"path": "/", "mboxes": ["m"], "exclude": ["/{x:nope}"]}, ValueError, "exclude pattern"),
        ({"path": "/", "mboxes": ["m"], "host": 3}, TypeError, "host must be a string"),
        ({"path": "/", "mboxes": ["m"], "html_selectors": ["#x"]}, TypeError, "html_selectors must map"),
        ({"path": "/", "mboxes": ["m"], "html_selectors": {"n": "#x"}}, ValueError, "'n', not one of its mboxes"),
        ({"path": "/", "mboxes": ["m"], "html_selectors": {"m": ""}}, ValueError, "selector like '#hero'"),
        ({"path": "/", "mboxes": ["m"], "views": "yes"}, TypeError, "views must be True or False"),
        ({"path": "/", "mboxes": ["m"], "handoff": "on"}, ValueError, "handoff must be 'atjs', 'websdk', 'off'"),
    ],
)
def test_invalid_configuration_fails_at_construction(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        MboxRule(**kwargs)


def test_rules_must_be_a_list_of_mbox_rules() -> None:
    with pytest.raises(TypeError, match="MboxRule objects, not str"):
        Rules(["/"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="a list of MboxRule"):
        Rules(MboxRule("/", mboxes=["m"]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a list of MboxRule"):
        Rules(None)  # type: ignore[arg-type]


def test_exclude_and_methods_are_kept_whole() -> None:
    """A one-item exclude list excludes that pattern, not its letters; methods are matched case-insensitively."""
    rule = MboxRule("/{rest:path}", mboxes=["m"], exclude=["/api/{rest:path}"], methods=["get"])
    assert rule.exclude == ("/api/{rest:path}",)
    rules = Rules([rule])
    assert rules.match(scope("/api/cart")) is None
    assert rules.match(scope("/")) is not None  # read letter by letter, "/api" would have excluded "/" itself
    assert rules.match(scope("/apiary")) is not None


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


_CONVERTING_RULES = [
    MboxRule("/p/{sku}/{n:int}/{rest:path}", mboxes=["m"]),
    MboxRule("/f/{x:float}/{id:uuid}", mboxes=["m"]),
    MboxRule("/{all:path}", mboxes=["m"]),
    MboxRule("/s/{a:str}-{b}", mboxes=["m"]),
]


@given(
    st.sampled_from(_CONVERTING_RULES),
    st.lists(
        st.sampled_from(["p", "f", "s", "12", "1.5", "a-b", "", "x", "12345678-1234-1234-1234-123456789abc"]),
        max_size=5,
    ),
)
@example(_CONVERTING_RULES[0], ["p", "abc", "42", "r", "s"])
@example(_CONVERTING_RULES[1], ["f", "2.5", "12345678-1234-1234-1234-123456789abc"])
def test_path_params_are_what_the_convertors_make_of_the_match(rule: MboxRule, parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    found = rule._path.match(path)
    expected = None if found is None else {k: rule._convertors[k].convert(v) for k, v in found.groupdict().items()}
    got = rule.match("GET", path, "")
    assert got == expected
    if got is not None and expected is not None:
        assert [(k, type(v)) for k, v in got.items()] == [(k, type(v)) for k, v in expected.items()]


_PLAIN_PATTERNS = [
    "/",
    "/page",
    "/{p:path}",
    "/shop/{rest:path}",
    "/a.b/{p:path}",
    "/a+b",
    "/x{y",
    "/{a}",
    "/{a}/{b:path}",
]


@given(
    st.sampled_from(_PLAIN_PATTERNS),
    st.lists(st.sampled_from(["", "/", "page", "shop", "a.b", "a+b", "axb", "x{y", "\n", "é", "rest"]), max_size=4),
)
@example("/page", ["/page", "\n"])  # Starlette's "$" matches before a final newline
@example("/{p:path}", ["/a", "\n"])
@example("/{p:path}", ["/a", "\n", "b"])
@example("/a.b/{p:path}", ["/axb/", "c"])  # the dot is plain text, not "any character"
def test_a_plain_path_matches_as_starlettes_regex_does(pattern: str, parts: list[str]) -> None:
    rule = MboxRule(pattern, mboxes=["m"])
    path = "".join(parts)
    found = rule._path.match(path)
    assert rule.match("GET", path, "") == (None if found is None else found.groupdict())


def test_which_patterns_are_plain() -> None:
    from target_middleware.routing import plain_path

    assert plain_path("/page") == ("/page", None)
    assert plain_path("/{p:path}") == ("/", "p")
    assert plain_path("/shop/{rest:path}") == ("/shop/", "rest")
    assert [plain_path(p) for p in ("/{a}", "/{a}/{b:path}", "/x{y", "/{p:path}/x")] == [None] * 4


_REMEMBERED_RULES = [
    MboxRule("/products/{sku}", mboxes=["pdp"]),
    MboxRule("/items/{n:int}", mboxes=["item"]),
    MboxRule("/cart", mboxes=["cart"], methods=["POST"]),
    MboxRule("/{rest:path}", mboxes=["all"], exclude=["/api/{x:path}"]),
]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["GET", "POST", "HEAD"]),
            st.lists(st.sampled_from(["products", "items", "cart", "api", "12", "x", "", "\n"]), max_size=3),
        ),
        max_size=12,
    )
)
def test_a_remembered_match_is_the_match_again(requests: list[tuple[str, list[str]]]) -> None:
    """Rules remember the match of a method and path: the same rule and path parameters as a match of the rules
    afresh, asked in any order, any number of times, each caller with its own path_params dict."""
    remembered = Rules(_REMEMBERED_RULES)
    for method, parts in requests * 2:
        request = {**scope("/" + "/".join(parts), method)}
        fresh = Rules(_REMEMBERED_RULES).match(request)
        got = remembered.match(request)
        assert got == fresh
        assert remembered.rule(request) is (None if fresh is None else fresh.rule)
        if got is not None:
            got.path_params["mutated"] = True  # the caller's own dict: the next match does not see it
    assert all(key[1].count("/") <= 3 for key in remembered._seen or {})


def test_the_remembered_matches_are_bounded_and_not_kept_for_convertors_or_hosts() -> None:
    from target_middleware import routing

    rules = Rules(_REMEMBERED_RULES)
    assert rules._seen is not None
    for n in range(routing._MAX_SEEN + 10):
        assert rules.rule(scope(f"/p{n}")) is _REMEMBERED_RULES[3]
    assert 0 < len(rules._seen) <= routing._MAX_SEEN  # cleared when full, then filled again
    rules._seen.clear()
    long = "/" + "x" * routing._MAX_PATH
    assert rules.rule(scope(long)) is _REMEMBERED_RULES[3]
    assert rules._seen == {}  # matched, and not kept
    matched = rules.match(scope("/items/7"))
    assert matched is not None
    assert matched.path_params == {"n": 7}
    assert ("GET", "/items/7") not in rules._seen  # a convertor's value is made each time
    hosted = Rules([MboxRule("/", mboxes=["m"], host="shop.example")])
    assert hosted._seen is None  # the host decides too: nothing remembered by path
    assert hosted.rule(scope("/")) is not None
    assert hosted.rule(scope("/", host="other.example")) is None
