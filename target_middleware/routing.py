"""Which mboxes a request asks Target for: route rules in Starlette's path syntax, matched before the app runs.

Starlette sets ``scope["route"]`` only after routing, that is inside the app, too late to start a decision
concurrently with it; so rules are matched on the raw path here, with Starlette's own path compiler.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from re import Pattern
from types import MappingProxyType
from typing import Any

from starlette.convertors import Convertor, PathConvertor, StringConvertor
from starlette.requests import Request
from starlette.routing import compile_path

from .delivery.params import Mbox
from .frozen import builder
from .identity import CustomerIdsSource, ThirdPartyIdSource, check_identity_sources
from .options import check_bool, check_strings

__all__ = ["MboxRule", "RouteMatch", "Rules", "resolve_params"]

_METHOD = re.compile(r"[A-Za-z]{1,20}")
_AS_MATCHED = (StringConvertor, PathConvertor)  # their convert() gives the matched str back as it is

ParamsSource = Mapping[str, Any] | Callable[[Request], Mapping[str, Any] | Awaitable[Mapping[str, Any]]] | None


def _compiled(pattern: str, what: str) -> tuple[Pattern[str], dict[str, Convertor[Any]]]:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{what} must be a non-empty string like '/products/{{sku}}'")
    try:
        regex, _, convertors = compile_path(pattern)
    except (AssertionError, ValueError) as exc:  # starlette asserts on unknown convertors and duplicates
        raise ValueError(f"invalid {what} {pattern!r}: {exc}") from None
    return regex, convertors


@dataclass(frozen=True, slots=True)
class MboxRule:
    """The mboxes to decide for requests whose path matches ``path`` (Starlette syntax: ``/p/{sku}``, ``{x:path}``).

    ``params`` and ``profile_params`` are a mapping or a (sync or async) callable of the request. ``html_selectors``
    says where each mbox's form-based ``html`` offer goes (a selector; at.js defaults to ``head``). ``methods``,
    ``host`` (Starlette host syntax) and ``exclude`` (path patterns) narrow the match. ``customer_ids`` and
    ``third_party_id`` (a value or a sync/async callable of the request) replace the middleware's for this rule.
    ``host`` (Starlette host syntax) and ``exclude`` (path patterns) narrow the match. ``views=True`` also prefetches
    the page's views (for at.js's ``triggerView``); ``handoff`` overrides the middleware's at.js hand-off for this
    rule (``"atjs"``, ``"websdk"``, or ``"off"``; None: the middleware's).
    """

    path: str
    mboxes: Sequence[str]
    params: ParamsSource = None
    profile_params: ParamsSource = None
    methods: Collection[str] = ("GET",)
    host: str | None = None
    exclude: Collection[str] = ()
    html_selectors: Mapping[str, str] = field(default_factory=dict)
    customer_ids: CustomerIdsSource = None
    third_party_id: ThirdPartyIdSource = None
    views: bool = False
    handoff: str | None = None
    _path: Pattern[str] = field(init=False, repr=False, compare=False)
    _convertors: dict[str, Convertor[Any]] = field(init=False, repr=False, compare=False)
    # The path parameters whose value is not the matched text itself (a str or path one's is): int, float, ...
    _converting: dict[str, Convertor[Any]] = field(init=False, repr=False, compare=False)
    _host: Pattern[str] | None = field(init=False, repr=False, compare=False)
    _exclude: tuple[Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _methods: frozenset[str] = field(init=False, repr=False, compare=False)
    # Its mboxes as a request asks for them, when it has no params: the same values every request, built once.
    _bare_mboxes: tuple[Mbox, ...] | None = field(init=False, repr=False, compare=False)
    # A path of plain text, or plain text and then one {name:path} (see ``plain_path``): (text, name or None).
    _plain: tuple[str, str | None] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str):
            raise TypeError(f"MboxRule path must be a string like '/products/{{sku}}', not {type(self.path).__name__}")
        path, convertors = _compiled(self.path, "path")
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must start with '/'")
        where = f"MboxRule {self.path!r}"
        mboxes = check_strings(self.mboxes, f"{where}: mboxes", '["home-hero"]', allow_empty=False)
        for name in mboxes:
            if len(name) > 250 or name != name.strip():
                raise ValueError(f"{where}: invalid mbox name {name!r} (1-250 characters, no surrounding spaces)")
        for what, source in (("params", self.params), ("profile_params", self.profile_params)):
            if source is not None and not isinstance(source, Mapping) and not callable(source):
                raise TypeError(
                    f"{where}: {what} must be a mapping or a (sync or async) callable of the request, "
                    f"not {type(source).__name__}"
                )
        methods = check_strings(self.methods, f"{where}: methods", '["GET", "POST"]', allow_empty=False)
        for method in methods:
            if not _METHOD.fullmatch(method):
                raise ValueError(f"{where}: methods must hold HTTP methods like 'GET', not {method!r}")
        if self.host is not None and not isinstance(self.host, str):
            raise TypeError(f"{where}: host must be a string like '{{sub}}.shop.example', not {type(self.host)}")
        exclude = check_strings(self.exclude, f"{where}: exclude", '["/api/{rest:path}"]')
        check_identity_sources(self.customer_ids, self.third_party_id, where=f"{where}: ")
        if self.handoff not in (None, "atjs", "websdk", "off"):
            raise ValueError(
                f"{where}: handoff must be 'atjs', 'websdk', 'off' or None (the middleware's), not {self.handoff!r}"
            )
        check_bool(self.views, f"{where}: views")
        if not isinstance(self.html_selectors, Mapping):
            raise TypeError(f'{where}: html_selectors must map an mbox to a selector, like {{"home-hero": "#hero"}}')
        for mbox, selector in self.html_selectors.items():
            if mbox not in mboxes:
                raise ValueError(f"{where}: html_selectors names {mbox!r}, not one of its mboxes {list(mboxes)}")
            if not isinstance(selector, str) or not selector.strip():
                raise ValueError(f"{where}: html_selectors[{mbox!r}] must be a selector like '#hero', not {selector!r}")
        object.__setattr__(self, "mboxes", mboxes)
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "exclude", exclude)
        object.__setattr__(self, "html_selectors", dict(self.html_selectors))
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_convertors", convertors)
        converting = {key: c for key, c in convertors.items() if type(c) not in _AS_MATCHED}
        object.__setattr__(self, "_converting", converting)
        object.__setattr__(self, "_host", _compiled(self.host, "host")[0] if self.host else None)
        object.__setattr__(self, "_exclude", tuple(_compiled(p, f"{where}: exclude pattern")[0] for p in exclude))
        object.__setattr__(self, "_methods", frozenset(m.upper() for m in methods))
        bare = self.params is None and self.profile_params is None
        object.__setattr__(self, "_bare_mboxes", tuple(Mbox(name, _NO_PARAMS) for name in mboxes) if bare else None)
        object.__setattr__(self, "_plain", plain_path(self.path))

    def match(self, method: str, path: str, host: str) -> dict[str, Any] | None:
        """The path parameters when this rule applies to the request, else None."""
        if method not in self._methods:
            return None
        plain = self._plain
        if plain is not None and "\n" not in path:  # what the pattern's regex says, without the regex
            text, name = plain
            if name is None:
                if path != text:
                    return None
                params: dict[str, Any] = {}
            elif path.startswith(text):
                params = {name: path[len(text) :]}
            else:
                return None
        else:
            found = self._path.match(path)
            if found is None:
                return None
            params = found.groupdict()
        if self._host is not None and not self._host.match(host.split(":", 1)[0]):
            return None
        if self._exclude and any(pattern.match(path) for pattern in self._exclude):
            return None
        if self._converting:  # str and path parameters convert to what matched
            for key, convertor in self._converting.items():
                params[key] = convertor.convert(params[key])
        return params


_TRAILING_PATH = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*):path\}\Z")


def plain_path(pattern: str) -> tuple[str, str | None] | None:
    """A path pattern that needs no regex to match: plain text (``/about``: the path is that text), or plain text and
    then one path parameter (``/{p:path}``, ``/shop/{rest:path}``: the path starts with the text, the parameter is
    the rest). None for any other pattern.

    Starlette's regex for these is ``^text$`` or ``^text(?P<name>.*)$``: the same answer for every path without a
    newline (``.`` takes none, ``$`` also matches before a final one), which is what this is used for.
    """
    trailing = _TRAILING_PATH.search(pattern)
    text = pattern[: trailing.start()] if trailing else pattern
    if "{" in text:
        return None
    return text, trailing[1] if trailing else None


@dataclass(frozen=True, slots=True)
class RouteMatch:
    rule: MboxRule
    path_params: dict[str, Any]


_new_match = builder(RouteMatch)
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})  # shared by every bare rule's Mbox values: read-only


# (method, path) -> the match, remembered for the last few of a site's paths (a path names a page, never
# a visitor): cleared when full, so a flood of odd paths costs a re-match of the usual ones, never memory.
_MAX_SEEN = 512
_MAX_PATH = 512  # a longer path is matched each time, not kept
_UNSEEN: Any = object()


class Rules:
    """An ordered list of rules; the first that matches wins."""

    __slots__ = ("_rules", "_seen")

    def __init__(self, rules: Iterable[MboxRule]) -> None:
        if isinstance(rules, MboxRule | str) or not isinstance(rules, Iterable):
            raise TypeError(f"rules must be a list of MboxRule, like [MboxRule('/', mboxes=[...])], not {rules!r}")
        self._rules = tuple(rules)
        for rule in self._rules:
            if not isinstance(rule, MboxRule):
                raise TypeError(f"rules must be MboxRule objects, not {type(rule).__name__} {rule!r}")
        # With no rule reading the host, which rule matches is a function of the method and path alone.
        self._seen: dict[tuple[str, str], RouteMatch | None] | None = (
            {} if all(rule.host is None for rule in self._rules) else None
        )

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __iter__(self) -> Iterator[MboxRule]:
        return iter(self._rules)

    def match(self, scope: Mapping[str, Any]) -> RouteMatch | None:
        """The first rule that applies to the request, and its path parameters (a dict of the caller's own)."""
        found = self._remembered(scope)
        return None if found is None else _new_match(found.rule, dict(found.path_params))

    def rule(self, scope: Mapping[str, Any]) -> MboxRule | None:
        """``match(scope).rule`` (None: no rule matches), for a request that needs no path parameters."""
        seen = self._seen
        found = _UNSEEN if seen is None else seen.get((scope.get("method", "GET"), scope.get("path", "/")), _UNSEEN)
        if found is _UNSEEN:  # _remembered's lookup, written out: once a request
            found = self._remembered(scope)
        return None if found is None else found.rule

    def _remembered(self, scope: Mapping[str, Any]) -> RouteMatch | None:
        """The match, shared (its ``path_params`` never handed out): remembered by method and path when no rule
        reads the host, so a site's usual pages are one dict lookup, no regex."""
        seen = self._seen
        if seen is None:
            return self._match(scope)
        key = (scope.get("method", "GET"), scope.get("path", "/"))
        found = seen.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._match(scope)
            # a convertor's value is its own: asked every time
            if (found is None or not found.rule._converting) and len(key[1]) <= _MAX_PATH:
                if len(seen) >= _MAX_SEEN:
                    seen.clear()
                seen[key] = found
        return found  # type: ignore[no-any-return]

    def _match(self, scope: Mapping[str, Any]) -> RouteMatch | None:
        method = scope.get("method", "GET")
        path = scope.get("path", "/")
        host = ""
        for rule in self._rules:
            if rule.host is not None and not host:
                host = _host_header(scope)
            params = rule.match(method, path, host)
            if params is not None:
                return _new_match(rule, params)  # both fields known good: no frozen stores (see ``frozen``)
        return None


def _host_header(scope: Mapping[str, Any]) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server")
    return str(server[0]) if server else ""


async def resolve_params(source: ParamsSource, request: Request) -> dict[str, Any]:
    """A rule's params for this request: the mapping, or what the callable returns (awaited when async)."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    value = source(request)
    if inspect.isawaitable(value):
        value = await value
    if not isinstance(value, Mapping):
        raise TypeError(f"params callable returned {type(value).__name__}, not a mapping")
    return dict(value)
