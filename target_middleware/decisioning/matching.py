"""Which of the global mbox's rules a page-load request matches, as ``DecisionRun._mbox`` finds them, cheaper.

An A/B or XT rule's condition starts with the allocation split, ``{"and": [{"<=": [0, {"var": "allocation"}]},
{">=": [50, {"var": "allocation"}]}, ...]}``. The allocation is ``bucket / 100`` for a bucket from 0 to 9999,
and each of those comparisons (a number against the allocation) holds for a run of buckets at one end, so the
leading ones together hold exactly for a ``range`` of buckets, found once per rule (``_buckets``: a binary search
with the comparison itself, which is monotonic in the bucket). A request then tests its bucket's membership and
evaluates the rest of the condition only for the rules whose split it falls in; the rest of an ``and`` whose
leading arguments are true answers what the whole ``and`` answers. Nothing else changes: rules by property token,
once per rule key, the first failure of a condition logged and unmatched, the allocation drawn once per activity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import procedure
from .allocation import BUCKETS, bucket
from .artifact import Rule
from .jsvalues import ORDER
from .rules import Condition, RuleError, compile_condition, truthy

__all__ = ["Candidate", "candidates", "matched"]

_rule_logger = logging.getLogger(procedure.__name__)  # where the general path warns of a rule that fails

_NUMBER = (int, float)

# (rule index, rule key, property tokens, activity id, device id prefix, buckets of the split or None, condition
# of the rest or None when nothing is left)
Candidate = tuple[int, str, frozenset[str], Any, str, range | None, Condition | None]


def _bound(item: Any) -> Callable[[float], bool] | None:
    """``item`` as a test of the allocation when it compares a number with ``{"var": "allocation"}``, else None."""
    if type(item) is not dict or len(item) != 1:
        return None
    ((op, args),) = item.items()
    fn = ORDER.get(op)
    if fn is None or type(args) is not list or len(args) != 2:
        return None
    first, second = args
    if second == {"var": "allocation"} and type(first) in _NUMBER:
        return lambda value: bool(fn(first, value))
    if first == {"var": "allocation"} and type(second) in _NUMBER:
        return lambda value: bool(fn(value, second))
    return None


def _buckets(test: Callable[[float], bool]) -> range:
    """The buckets whose allocation passes ``test``: a prefix or a suffix of all of them (the test is monotonic)."""
    low, high = test(0 / 100), test((BUCKETS - 1) / 100)
    if low == high:
        return range(BUCKETS) if low else range(0)
    lo, hi = 0, BUCKETS - 1  # test(lo / 100) == low != test(hi / 100): find where it turns
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(mid / 100) == low:
            lo = mid
        else:
            hi = mid
    return range(hi) if low else range(hi, BUCKETS)


def _split(rule: Rule) -> tuple[range | None, Condition | None]:
    """The buckets of the rule's leading allocation tests and the condition of the rest (see the module)."""
    raw = rule.raw_condition
    args = raw.get("and") if type(raw) is dict and len(raw) == 1 else None
    if type(args) is not list:
        return None, rule.condition
    buckets = range(BUCKETS)
    count = 0
    for item in args:
        test = _bound(item)
        if test is None:
            break
        part = _buckets(test)
        buckets = range(max(buckets.start, part.start), max(min(buckets.stop, part.stop), buckets.start))
        count += 1
    if count == 0:
        return None, rule.condition
    rest = args[count:]
    try:
        condition = None if not rest else compile_condition(rest[0] if len(rest) == 1 else {"and": rest})
    except (RuleError, IndexError, TypeError):
        return None, rule.condition  # as the whole never compiled either: it never matches
    return buckets, condition


def candidates(rules: tuple[Rule, ...], client_code: str) -> tuple[Candidate, ...]:
    """The global mbox's rules, prepared for :func:`matched` (once per artifact)."""
    prepared = []
    for index, rule in enumerate(rules):
        buckets, condition = _split(rule)
        prefix = f"{client_code}.{rule.activity_id}."
        prepared.append((index, rule.key, rule.property_tokens, rule.activity_id, prefix, buckets, condition))
    return tuple(prepared)


def matched(
    prepared: tuple[Candidate, ...], ctx: dict[str, Any], token: str | None, visitor_id: str
) -> tuple[int, ...]:
    """The indexes of the rules that match, as DecisionRun._mbox and _evaluate find them for the global mbox."""
    found: list[int] = []
    keys: list[str] = []
    drawn: dict[Any, int] = {}
    suffix = f"{visitor_id}.0"
    for index, key, tokens, activity_id, prefix, buckets, condition in prepared:
        if (tokens and (token is None or token not in tokens)) or key in keys:
            continue
        drawn_bucket = drawn.get(activity_id)
        if drawn_bucket is None:
            drawn_bucket = drawn[activity_id] = bucket(prefix + suffix)
        if buckets is not None and drawn_bucket not in buckets:
            continue
        if condition is not None:
            ctx["allocation"] = drawn_bucket / 100
            try:
                outcome = condition(ctx)
                if not (outcome is True or (outcome is not False and truthy(outcome))):
                    continue
            except Exception:
                _rule_logger.warning("rule %s failed to evaluate; treated as unmatched", key, exc_info=True)
                continue
        found.append(index)
        keys.append(key)
    return tuple(found)
