"""One decision, step by step: mboxes, views and pageLoad of one mode, rule by rule (see engine.py)."""

from __future__ import annotations

import logging
import marshal
from collections.abc import Iterable, Mapping
from typing import Any

from ..randomids import random_id
from . import consequence as cq
from .allocation import allocation, visitor_id_for_allocation
from .artifact import Artifact, Rule
from .context import JSON_OBJECT, base_context, mbox_context, url_context
from .rules import truthy
from .trace import RequestTracer

__all__ = ["DecisionRun", "new_id"]

logger = logging.getLogger(__name__)


# A random 128-bit id in UUID hex form, from a pool drawn 64 at a time (see ``randomids``); these ids are no secrets.
new_id = random_id


class DecisionRun:
    """The state of one decision: never stored on the engine, so requests share nothing."""

    def __init__(
        self,
        *,
        client_code: str,
        artifact: Artifact,
        request: Mapping[str, Any],
        now_ms: int,
        geo: Mapping[str, Any],
        trace_base: Mapping[str, Any] | None,
    ) -> None:
        self.client_code, self.artifact, self.request, self.now_ms = client_code, artifact, request, now_ms
        context = request.get("context")
        self.context = base_context(context if isinstance(context, JSON_OBJECT) else {}, now_ms, geo)
        visitor = request.get("id")
        self.visitor_id = visitor_id_for_allocation(visitor if isinstance(visitor, JSON_OBJECT) else None)
        prop = request.get("property")
        token = prop.get("token") if isinstance(prop, JSON_OBJECT) else None
        self.property_token: str | None = token if isinstance(token, str) and token else None
        self.response_tokens = cq.geo_response_tokens(artifact.response_tokens, self.context["geo"])
        self.notifications: list[dict[str, Any]] = []
        self._event_keys: set[str] = set()
        self._allocations: dict[Any, float] = {}
        self.tracing = trace_base is not None
        self._trace_base = dict(trace_base or {})

    def _allocation(self, activity_id: Any) -> float:
        value = self._allocations.get(activity_id)
        if value is None:
            value = self._allocations[activity_id] = allocation(self.client_code, activity_id, self.visitor_id)
        return value

    def mode(self, mode: str, part: Mapping[str, Any]) -> dict[str, Any]:
        environment = self.artifact.meta.get("environment")
        tracer = RequestTracer(self._trace_base, environment) if self.tracing else None
        result: dict[str, Any] = {}
        mboxes = part.get("mboxes")
        if isinstance(mboxes, list) and mboxes:
            result["mboxes"] = [
                response
                for item in mboxes
                if isinstance(item, JSON_OBJECT) and item.get("name")
                for response in self._mbox(mode, item, tracer)
            ]
        views = part.get("views")
        if isinstance(views, list) and views:
            result["views"] = [
                response
                for item in views
                if isinstance(item, JSON_OBJECT)
                for response in self._views(mode, item, tracer)
            ]
        page_load = part.get("pageLoad")
        if isinstance(page_load, JSON_OBJECT):
            result["pageLoad"] = self._page_load(mode, page_load, tracer)
        return result

    def _details_context(self, details: Mapping[str, Any]) -> dict[str, Any]:
        ctx = dict(self.context)
        address = details.get("address")
        if isinstance(address, JSON_OBJECT) and address:
            # Adobe's engines take an mbox's own address URL for both page and referring.
            ctx["page"] = ctx["referring"] = url_context(address.get("url"))
        ctx["mbox"] = mbox_context(details)
        return ctx

    def _evaluate(self, rule: Rule, ctx: dict[str, Any], tracer: RequestTracer | None) -> bool:
        ctx["allocation"] = self._allocation(rule.activity_id)
        try:
            satisfied = truthy(rule.condition(ctx))
        except Exception:
            logger.warning("rule %s failed to evaluate; treated as unmatched", rule.key, exc_info=True)
            satisfied = False
        if tracer is not None:
            tracer.rule_evaluated(rule, ctx, satisfied)
        return satisfied

    def _respond(
        self, rule: Rule, mode: str, kind: str, details: Mapping[str, Any], tracer: RequestTracer | None
    ) -> dict[str, Any]:
        template = rule.execute if mode == "execute" else None
        if template is not None:  # the same answer, with the request-independent steps done at load (template.py)
            response = dict(rule.consequence)
            response["options"] = marshal.loads(template.options)
            if template.clicks:
                response["metrics"] = [dict(metric) for metric in template.clicks]
            else:
                response.pop("metrics", None)
            if kind == "mbox":
                response["index"] = details.get("index")
            self._notify(rule, response.get("name"), template.event_tokens, tracer)
            cq.with_response_tokens(response, rule, self.artifact.response_tokens, self.response_tokens)
            if tracer is not None:
                response["trace"] = tracer.snapshot()
            return response
        response = cq.instantiate(rule)
        if kind == "mbox":
            response["index"] = details.get("index")
        if mode == "execute":
            tokens = [option.get("eventToken") for option in response.get("options") or ()]
            self._notify(rule, response.get("name"), tokens, tracer)
            cq.for_execute(response)
        else:
            cq.for_prefetch(response, is_view=kind == "view")
        cq.with_response_tokens(response, rule, self.artifact.response_tokens, self.response_tokens)
        cq.replace_macros(response, rule, details)
        if tracer is not None:
            response["trace"] = tracer.snapshot()
        return response

    def _notify(self, rule: Rule, name: Any, option_tokens: Iterable[Any], tracer: RequestTracer | None) -> None:
        """The display notification for the options' event tokens (each once per request and mbox name)."""
        tokens = []
        for token in option_tokens:
            key = f"{name}-{token}"
            if token and key not in self._event_keys:
                tokens.append(token)
                self._event_keys.add(key)
        if not tokens:
            return
        notification = {
            "id": new_id(),
            "impressionId": new_id(),
            "timestamp": self.now_ms,
            "type": "display",
            "mbox": {"name": name},
            "tokens": tokens,
        }
        if tracer is not None:
            tracer.notification_added(rule, notification)
        self.notifications.append(notification)

    def _mbox(self, mode: str, details: Mapping[str, Any], tracer: RequestTracer | None) -> list[dict[str, Any]]:
        name = details["name"]
        is_global = name == self.artifact.global_mbox
        if tracer is not None:
            tracer.trace_request(mode, "mbox", details, self.context["page"])
        ctx = self._details_context(details)
        matched: set[str] = set()
        responses = []
        for rule in self.artifact.mbox_rules.get(name, ()):
            if not rule.allows_property(self.property_token) or rule.key in matched:
                continue
            if self._evaluate(rule, ctx, tracer):
                responses.append(self._respond(rule, mode, "mbox", details, tracer))
                matched.add(rule.key)
                if not is_global:
                    break
        if not responses and not is_global:
            blank: dict[str, Any] = {"name": name, "index": details.get("index")}
            if tracer is not None:
                blank["trace"] = tracer.snapshot()
            responses.append(blank)
        return responses

    def _views(self, mode: str, details: Mapping[str, Any], tracer: RequestTracer | None) -> list[dict[str, Any]]:
        if tracer is not None:
            tracer.trace_request(mode, "view", details, self.context["page"])
        name = details.get("name")
        table = self.artifact.view_rules
        rules = table.get(name, ()) if name else tuple(r for rs in table.values() for r in rs)
        ctx = self._details_context(details)
        matched: set[str] = set()
        by_name: dict[str, dict[str, Any]] = {}
        for rule in rules:
            if not rule.allows_property(self.property_token) or rule.key in matched:
                continue
            if self._evaluate(rule, ctx, tracer):
                matched.add(rule.key)
                response = self._respond(rule, mode, "view", details, tracer)
                merged = by_name.setdefault(response.get("name", ""), response)
                if merged is not response:
                    merged.setdefault("options", []).extend(response.get("options") or [])
                    merged.setdefault("metrics", []).extend(response.get("metrics") or [])
        return [by_name[key] for key in sorted(by_name)]

    def _page_load(self, mode: str, page_load: Mapping[str, Any], tracer: RequestTracer | None) -> dict[str, Any]:
        details = {**page_load, "name": self.artifact.global_mbox}
        responses = self._mbox(mode, details, tracer)
        options = [option for r in responses for option in r.get("options") or ()]
        result: dict[str, Any] = {"options": options}
        metrics = {m.get("eventToken"): m for r in responses for m in r.get("metrics") or ()}
        if metrics:
            result["metrics"] = [metrics[k] for k in sorted(metrics, key=str)]
        if responses and "trace" in responses[-1]:
            result["trace"] = responses[-1]["trace"]
        return result
