"""get_offers' fast path for the on-device decision most pages ask for: the global mbox alone, executed.

The general path builds a Delivery request, hands it to the engine through the ``LocalDecider`` seam (which works
out which mboxes are remote, builds a ``DecisionRun``, answers each matched rule from its execute template and
merges the answers into a ``pageLoad``), then parses the JSON answer back into models. For a request that only
executes the global mbox (``pageLoad``), with no geo value, trace, QA mode, prefetch or view, from Target's own
engine, every step but a few depends on nothing but the set of rules that matched: that answer is worked out once
per set (``_Answer``) and each request only does what depends on it: the rule context, the allocation and the
conditions, its ids, a fresh copy of the answer's JSON, the models that hold mutable values, its notification and
telemetry. The rest is shared, and only where it is immutable (strings, enums, frozen models of them).

Anything else (a custom decider, hybrid, prefetch, views, a trace, geo, a rule without an execute template because
of macros, an artifact not loaded yet) is not handled here (``decide`` answers None) and takes the general path.
tests/delivery/test_ondevice.py proves the two equal.
"""

from __future__ import annotations

import marshal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from types import MappingProxyType
from typing import Any

from ..delivery.context import PageContext
from ..delivery.deferred import Deferred
from ..delivery.errors import ResponseParseError
from ..delivery.models import Action, DeliveryResponse, Metric, Option, OptionType, PageLoadResult, parse_response
from ..delivery.shared import SharedPageLoad, shared_page_load
from ..frozen import builder
from .allocation import visitor_id_for_allocation
from .artifact import Artifact, Rule
from .consequence import geo_response_tokens
from .context import base_context, mbox_context, time_context
from .matching import candidates, matched
from .procedure import new_id

__all__ = ["PageLoadDecision", "PageLoadPath", "PageViewAnswer", "owed_display"]

_MAX_PAGES = 4096  # (user agent, URL, referring URL) whose rule context parts are kept
_MAX_ANSWERS = 256  # sets of matched rules remembered per artifact (an A/B activity has one per experience)

# What build_request writes for the global mbox alone: anything else (prefetch, views, trace, qaMode, notifications)
# is the general path's.
_REQUEST_KEYS = frozenset({"requestId", "context", "execute", "id", "experienceCloud", "property", "environmentId"})

_HINT_TYPES = frozenset({str, bool})  # what a client hint's value may be for the rule context's table

_new_action, _new_option = builder(Action), builder(Option)
_new_page_load, _new_response = builder(PageLoadResult), builder(DeliveryResponse)

_Made = tuple[dict[str, Any], tuple[Option, ...]]


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one set of matched rules answers, the same for every request that matches exactly those rules."""

    make: Callable[[], _Made]  # a fresh copy of the pageLoad JSON the engine answers, and its options' models
    metrics: tuple[Metric, ...]  # immutable: shared
    notes: tuple[tuple[str, tuple[str, ...]], ...]  # (mbox name, event tokens) of each display notification
    shared: SharedPageLoad  # one copy made, for the callers that only read it (``read_only``)


@dataclass(frozen=True, slots=True)
class PageLoadDecision:
    """The answer of :meth:`PageLoadPath.decide`: what the general path's ``parse_response`` and queue get."""

    response: DeliveryResponse
    notifications: tuple[dict[str, Any], ...]
    telemetry: tuple[dict[str, Any], ...]


_new_decision = builder(PageLoadDecision)

# What :meth:`PageLoadPath.decide_view` answers: a PageLoadDecision's fields (response, notifications, telemetry) as
# they come, for the one caller that unpacks them at once (``TargetClient``), with no value to build and read back.
# With ``later`` and one display, ``(response, owed, owed_display)``: ``owed_display(owed)`` makes the notifications
# and telemetry when the client's queue hands them on (``NotificationQueue.owe``).
PageViewAnswer = tuple[DeliveryResponse, tuple[Any, ...], tuple[dict[str, Any], ...] | Callable[[Any], Any]]


class _Prepared:
    """One artifact's rules for the global mbox, and the answers of the rule sets seen so far."""

    def __init__(self, artifact: Artifact, rules: tuple[Rule, ...] | None, client_code: str) -> None:
        self.artifact = artifact
        self.rules = rules
        self.candidates = candidates(rules, client_code) if rules is not None else ()
        self.answers: dict[tuple[int, ...], _Answer] = {}


def _fits(artifact: Artifact) -> tuple[Rule, ...] | None:
    """The global mbox's rules when every one of them can be answered here, else None."""
    name = artifact.global_mbox
    if name in artifact.remote_mboxes or name not in artifact.local_mboxes:
        return None  # the edge's to decide (status 206): the general path says so
    rules = tuple(artifact.mbox_rules.get(name, ()))
    for rule in rules:
        if rule.execute is None or not all(type(t) is str or t is None for t in rule.execute.event_tokens):
            return None
        try:
            _answer(artifact, (rule,))
        except (ValueError, TypeError, ResponseParseError):  # unmarshallable tokens, or a misfit answer
            return None
    return rules


def _page_load_json(artifact: Artifact, rules: tuple[Rule, ...]) -> dict[str, Any]:
    """The engine's pageLoad answer for these matched rules (procedure.DecisionRun: _respond, then _page_load)."""
    request_tokens = geo_response_tokens(artifact.response_tokens, {})
    options: list[dict[str, Any]] = []
    metrics: dict[Any, Any] = {}
    for rule in rules:
        assert rule.execute is not None
        for option in marshal.loads(rule.execute.options):
            option["responseTokens"] = {**rule.response_tokens, **request_tokens}
            options.append(option)
        for metric in rule.execute.clicks:
            metrics[metric.get("eventToken")] = dict(metric)
    result: dict[str, Any] = {"options": options}
    if metrics:
        result["metrics"] = [metrics[k] for k in sorted(metrics, key=str)]
    return result


def _maker(page_load: dict[str, Any], options: tuple[Option, ...]) -> Callable[[], _Made]:
    """What makes a fresh copy of the ``page_load`` JSON and its ``options``' models over that copy, in one call.

    One generated expression: dict and list displays over the template's own parts (``{**_0, _1: [_2.copy(), ...]}``,
    its keys and values named, never spelled in the source), every dict and list new, strings and numbers shared
    (immutable); ``{**d, k: v}`` keeps ``k`` where ``d`` has it, so the key order is the template's. The parts the
    models hold (response tokens, JSON contents of actions and options) are bound as they are made (``(c0 := ...)``)
    and the models built over them, as ``parse_response`` builds them over the JSON it parses; the models that hold
    nothing mutable are built once and shared. Where ``marshal.loads`` rebuilt every string, and a closure per
    container or a parse cost a call each, this is one. ValueError for what is not plain JSON.
    """
    names: dict[str, Any] = {"__builtins__": {}, "new_action": _new_action, "new_option": _new_option}
    bound: dict[int, str] = {}  # id of a part of the template that a model holds -> the variable it is bound to

    def name(part: Any) -> str:
        key = f"_{len(names)}"
        names[key] = part
        return key

    def expression(part: Any) -> str | None:  # None: immutable, shared
        kind = type(part)
        if part is None or kind is str or kind is int or kind is float or kind is bool:
            return None
        if kind is dict:
            fresh = [(key, code) for key, item in part.items() if (code := expression(item)) is not None]
            pairs = ", ".join(f"{name(key)}: {code}" for key, code in fresh)
            code = f"{{**{name(part)}, {pairs}}}" if fresh else f"{name(part)}.copy()"
        elif kind is list:
            codes = [expression(item) for item in part]
            items = ", ".join(code or name(item) for code, item in zip(codes, part, strict=True))
            code = f"{name(part)}.copy()" if all(c is None for c in codes) else f"[{items}]"
        else:
            raise ValueError(f"not a JSON value: {kind.__name__}")
        variable = bound.get(id(part))
        return f"({variable} := {code})" if variable else code

    def held(part: Any, variable: str) -> str:  # what a model holds: the bound copy, or the shared immutable value
        if type(part) is dict or type(part) is list:
            bound[id(part)] = variable
            return variable
        return name(part)

    models = []
    for i, (option, model) in enumerate(zip(page_load["options"], options, strict=True)):
        tokens = held(option["responseTokens"], f"r{i}")
        if model.type is OptionType.ACTIONS:
            actions = []
            for j, (item, action) in enumerate(zip(option["content"], model.content, strict=True)):
                content = held(item.get("content"), f"c{i}_{j}")
                shared = action.content is None or type(action.content) is str
                parts = ", ".join(name(v) for v in (action.type, action.selector, action.css_selector))
                actions.append(name(action) if shared else f"new_action({parts}, {content})")
            content = f"({', '.join(actions)},)" if actions else "()"
        else:
            content = held(option.get("content"), f"c{i}")
        models.append(f"new_option({name(model.type)}, {content}, {name(model.event_token)}, {tokens})")
    source = f"lambda: ({expression(page_load)}, ({', '.join(models)}{',' if models else ''}))"
    try:
        make: Callable[[], _Made] = eval(source, names)  # our own source: names only
    except (RecursionError, MemoryError, SyntaxError) as exc:  # nested too deep for the parser
        raise ValueError("JSON nested too deep to copy by one expression") from exc
    return make


def _answer(artifact: Artifact, rules: tuple[Rule, ...]) -> _Answer:
    """Raises ValueError (not plain JSON) or ResponseParseError (an answer the general path would refuse)."""
    page_load = _page_load_json(artifact, rules)
    parsed = parse_response({"execute": {"pageLoad": marshal.loads(marshal.dumps(page_load, 2))}}).execute_page_load
    assert parsed is not None
    notes: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for rule in rules:  # procedure.DecisionRun._notify: each token once per request and mbox name
        assert rule.execute is not None
        name = rule.consequence.get("name")
        tokens = []
        for token in rule.execute.event_tokens:
            key = f"{name}-{token}"
            if token and key not in seen:
                tokens.append(token)
                seen.add(key)
        if tokens:
            notes.append((name, tuple(tokens)))  # type: ignore[arg-type]
    make = _maker(page_load, parsed.options)
    json, options = make()
    return _Answer(make, parsed.metrics, tuple(notes), shared_page_load(json, options, parsed.metrics, make))


def _display(name: str, tokens: tuple[str, ...], now_ms: int) -> dict[str, Any]:
    """The display notification of one mbox's event tokens, as ``procedure.DecisionRun`` writes it."""
    made: dict[str, Any] = owed_display((name, tokens, new_id(), new_id(), now_ms, None, None))[0][0]
    return made


def _telemetry(request_id: str, now_ms: int, execution: float) -> dict[str, Any]:
    """The engine's telemetry entry of a decision, ``execution`` its time in milliseconds."""
    return {
        "requestId": request_id,
        "timestamp": now_ms,
        "mode": "local",
        "execution": execution,
        "features": {"decisioningMethod": "on-device"},
    }


# What a page view owes for its one display when ``decide_view(later=True)`` answers: the display's mbox name, event
# tokens, id and impressionId, the decision's time (ms), requestId and execution time (None: no telemetry).
Owed = tuple[str, tuple[str, ...], str, str, int, str | None, float | None]


def owed_display(owed: Owed) -> tuple[tuple[dict[str, Any]], tuple[dict[str, Any], ...]]:
    """The display notification (``_display``'s) and the telemetry of what a page view owes (``Owed``), made when
    the client's queue hands them on: as ``decide_view`` makes them at once."""
    name, tokens, note_id, impression_id, now_ms, request_id, execution = owed
    note = {
        "id": note_id,
        "impressionId": impression_id,
        "timestamp": now_ms,
        "type": "display",
        "mbox": {"name": name},
        "tokens": list(tokens),
    }
    if execution is None:
        return (note,), ()
    return (note,), (_telemetry(request_id, now_ms, execution),)  # type: ignore[arg-type]  # with it, its id


def _raw(request_id: str, ids: dict[str, Any] | None, client: str, page_load: dict[str, Any]) -> dict[str, Any]:
    """The engine's JSON answer (``DeliveryResponse.raw``), made when first read (see ``delivery.deferred``): what
    ``DecisioningEngine.decide`` answers, ``ids`` the request's own ``id`` (a copy, or a dict no one else holds)."""
    return {
        "status": 200,
        "requestId": request_id,
        "id": ids if ids is not None else {},
        "client": client,
        "execute": {"pageLoad": page_load},
    }


def _keepable(key: tuple[Any, ...]) -> bool:
    """Whether a page's rule context may be kept by ``key``: its user agent and URLs strings (or None)."""
    return all(v is None or type(v) is str for v in key[:3])


def _page_json(page: PageContext) -> dict[str, Any]:
    """The request's ``context`` for ``page`` as the fast path has it (no IP address sent: no geo)."""
    return page.to_json(send_ip_address=False)


class PageLoadPath:
    """The fast path of one client's engine (see the module's docstring); shares nothing about a visitor."""

    def __init__(self, client_code: str) -> None:
        self._client_code = client_code
        self._prepared: _Prepared | None = None  # replaced whole when the artifact changes: no torn state
        # (minute, rule context) kept per page: see _rule_context (keys of a request's context) and _view_context
        # (keys of a PageContext's fields), each table bounded by _MAX_PAGES
        self._pages: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
        self._views: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
        self._minute: tuple[int, dict[str, Any]] = (-1, {})

    def _rule_context(self, context: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
        """``base_context(context, now_ms, {})``, its parts looked up once: ``user``, ``page`` and ``referring`` (the
        suffix list's and the user agent's parses, already cached one by one) by the user agent, its client hints
        (Chromium sends three on every request) and the two URLs, in a bounded table, with ``current_time`` and
        ``current_day`` of the minute they were kept for; a copy of that, its timestamp and ``geo`` its own. The
        same keys in the same order."""
        address, agent, hints = context.get("address"), context.get("userAgent"), context.get("clientHints")
        if not (address is None or type(address) is dict):
            return base_context(context, now_ms, {})
        if hints is None:
            hinted: tuple[Any, ...] | None = None
        elif type(hints) is dict and _HINT_TYPES.issuperset(map(type, hints.values())):  # one pass in C
            hinted = tuple(hints.items())  # exact: no two values of these types are equal across types
        else:
            return base_context(context, now_ms, {})
        url, referrer = (address.get("url"), address.get("referringUrl")) if address is not None else (None, None)
        key = (agent, url, referrer, hinted)
        kept = self._pages.get(key)
        if kept is None or kept[0] != now_ms // 60_000:
            if kept is None and not _keepable(key):
                return base_context(context, now_ms, {})
            kept = self._keep(self._pages, key, kept, context, now_ms)
        ctx = kept[1].copy()
        ctx["current_timestamp"] = now_ms
        ctx["geo"] = {}
        return ctx

    def _view_context(self, page: PageContext, now_ms: int) -> dict[str, Any] | None:
        """``base_context(page.to_json(send_ip_address=False), now_ms, {})``, as :meth:`_rule_context` has it for
        that context, keyed by the page's own fields (user agent, URL, referring URL, client hints: the context is a
        function of them) with no context built to read them back (only when a page is first kept). None for a page
        whose fields are not what a page view's are (strings; client hints a dict or a read-only view of one, their
        names and values strings or booleans): ``decide`` of its request takes those as it takes any."""
        hints = page.client_hints
        if hints is None:
            hinted = None
        elif type(hints) is MappingProxyType or type(hints) is dict:
            hinted = tuple(hints.items())
            if not _HINT_TYPES.issuperset(map(type, chain.from_iterable(hinted))):  # one pass in C, names and values
                return None
        else:
            return None
        key = (page.user_agent, page.url, page.referring_url, hinted)  # exact, as _rule_context's
        kept = self._views.get(key)
        if kept is None:
            if not _keepable(key):
                return None
            kept = self._keep(self._views, key, None, _page_json(page), now_ms)
        elif kept[0] != now_ms // 60_000:
            kept = self._keep(self._views, key, kept, None, now_ms)
        ctx = kept[1].copy()
        ctx["current_timestamp"] = now_ms
        ctx["geo"] = {}
        return ctx

    def _keep(
        self,
        pages: dict[tuple[Any, ...], tuple[int, dict[str, Any]]],
        key: tuple[Any, ...],
        kept: tuple[int, dict[str, Any]] | None,
        context: Mapping[str, Any] | None,
        now_ms: int,
    ) -> tuple[int, dict[str, Any]]:
        """The rule context's template for ``key`` kept in ``pages`` for this minute: its page parts from ``kept``
        (an earlier minute's), else worked out from ``context``."""
        minute = now_ms // 60_000
        if self._minute[0] != minute:
            self._minute = (minute, time_context(now_ms))
        clock = self._minute[1]
        if kept is None:
            assert context is not None
            whole = base_context(context, now_ms, {})
            user, page, referring = whole["user"], whole["page"], whole["referring"]
        else:
            user, page, referring = kept[1]["user"], kept[1]["page"], kept[1]["referring"]
        template = {
            "current_timestamp": now_ms,
            "current_time": clock["current_time"],
            "current_day": clock["current_day"],
            "user": user,
            "page": page,
            "referring": referring,
            "geo": None,
        }
        if kept is None and len(pages) >= _MAX_PAGES:
            pages.clear()
        kept = pages[key] = (minute, template)
        return kept

    def _for(self, artifact: Artifact) -> _Prepared:
        prepared = self._prepared
        if prepared is None or prepared.artifact is not artifact:
            prepared = self._prepared = _Prepared(artifact, _fits(artifact), self._client_code)
        return prepared

    def decide(
        self,
        body: Mapping[str, Any],
        artifact: Artifact,
        now_ms: int,
        started: int,
        *,
        with_telemetry: bool,
        shared: bool = False,
    ) -> PageLoadDecision | None:
        """``body`` (a Delivery request executing only ``pageLoad``) decided as the engine and ``parse_response``
        would, at ``now_ms`` (the engine's clock; ``started``: its perf_counter_ns when asked); None when it is the
        general path's. ``shared``: the answer's pageLoad (its JSON and models) is the one every request that
        matched the same rules gets (a ``SharedPageLoad``, for a caller that only reads it), not a copy of it."""
        if not _REQUEST_KEYS.issuperset(body):
            return None
        execute = body["execute"]
        if len(execute) != 1 or "pageLoad" not in execute:
            return None
        prepared = self._prepared
        if prepared is None or prepared.artifact is not artifact:
            prepared = self._for(artifact)
        context, ids = body["context"], body.get("id")
        tnt_id = ids.get("tntId") if ids is not None else None
        if prepared.rules is None or "geo" in context or not (tnt_id is None or type(tnt_id) is str):
            return None
        ctx = self._rule_context(context, now_ms)
        details = execute["pageLoad"]
        ctx["mbox"] = mbox_context(details) if details else {}
        prop = body.get("property")
        token = prop.get("token") if prop is not None else None
        request_id = body.get("requestId") or new_id()
        own_ids = dict(ids) if ids is not None else None  # the caller's: copied now, as the engine copies it
        answer = self._decided(
            prepared, ctx, token, own_ids, tnt_id, request_id, now_ms, started, with_telemetry, shared
        )
        return _new_decision(*answer)

    def decide_view(  # noqa: PLR0917 (positional: once a request, and keywords cost more to match)
        self,
        page: PageContext,
        ids: dict[str, Any] | None,
        property_token: str | None,
        request_id: str,
        artifact: Artifact,
        now_ms: int,
        started: int,
        with_telemetry: bool,
        shared: bool,
        later: bool = False,
    ) -> PageViewAnswer | None:
        """:meth:`decide` of the request ``params.page_load_request`` makes for ``page`` (its context without the IP
        address), ``ids`` (its ``id``: ``params.page_load_ids``, handed over, read and kept by the answer),
        ``property_token`` and ``request_id``, without that request: the rule context is worked out from the page's
        own fields (``_view_context``), the ids and token are read as they are. What the request holds beside them
        (``context``'s time offset, ``experienceCloud``, ``environmentId``) the engine's answer does not read."""
        prepared = self._prepared
        if prepared is None or prepared.artifact is not artifact:
            prepared = self._for(artifact)
        tnt_id = ids.get("tntId") if ids is not None else None
        if prepared.rules is None or not (tnt_id is None or type(tnt_id) is str):
            return None
        ctx = self._view_context(page, now_ms)
        if ctx is None:
            return None
        ctx["mbox"] = {}  # no params
        return self._decided(
            prepared, ctx, property_token, ids, tnt_id, request_id, now_ms, started, with_telemetry, shared, later
        )

    def _decided(  # noqa: PLR0917 (positional: once a request, and keywords cost more to match)
        self,
        prepared: _Prepared,
        ctx: dict[str, Any],
        token: Any,
        ids: dict[str, Any] | None,
        tnt_id: str | None,
        request_id: str,
        now_ms: int,
        started: int,
        with_telemetry: bool,
        shared: bool,
        later: bool = False,
    ) -> PageViewAnswer:
        """The answer for rule context ``ctx`` (``mbox`` in it), the property ``token`` and the visitor's ``ids``
        (its own: the answer keeps them), ``tnt_id`` among them."""
        rules = prepared.rules
        assert rules is not None
        token = token if type(token) is str and token else None
        if tnt_id and "marketingCloudVisitorId" not in ids:  # type: ignore[operator]  # ids: a tntId in them
            visitor_id = tnt_id.partition(".")[0]  # visitor_id_for_allocation's, with no ECID before the tntId
        else:
            visitor_id = visitor_id_for_allocation(ids)
        key = matched(prepared.candidates, ctx, token, visitor_id)
        answers = prepared.answers
        answer = answers.get(key)
        if answer is None:
            answer = _answer(prepared.artifact, tuple(rules[i] for i in key))
            if len(answers) >= _MAX_ANSWERS:  # a set of activities with more combinations: start over
                answers.clear()
            answers[key] = answer
        if shared:
            page_load_result: PageLoadResult = answer.shared
            page_load = answer.shared.json
        else:
            page_load, options = answer.make()
            page_load_result = _new_page_load(options, answer.metrics, None)
        notes = answer.notes
        owed = later and len(notes) == 1  # the usual answer (one activity's display), owed: its ids drawn now
        if owed:
            name, tokens = notes[0]
            note_id, impression_id = new_id(), new_id()
        elif len(notes) == 1:  # no generator for one
            notifications: tuple[dict[str, Any], ...] = (_display(*notes[0], now_ms),)
        else:
            notifications = tuple(_display(name, tokens, now_ms) for name, tokens in notes)
        client = self._client_code
        raw = Deferred(_raw, request_id, ids, client, page_load)  # read by few: made when read
        response = _new_response(200, request_id, client, tnt_id, None, (), page_load_result, (), None, (), (), (), raw)
        execution = (time.perf_counter_ns() - started) // 1000 / 1000 if with_telemetry else None  # as decide's
        if owed:
            return response, (name, tokens, note_id, impression_id, now_ms, request_id, execution), owed_display
        telemetry = () if execution is None else (_telemetry(request_id, now_ms, execution),)
        return response, notifications, telemetry
