"""json-logic, compiled once per artifact into plain Python closures.

Target's rule conditions are json-logic (https://jsonlogic.com). Interpreting the JSON tree for every rule of
every decision costs more than the rest of a decision together, so each condition is compiled, when the
artifact loads, into nested closures that read the context directly. Semantics follow json-logic-js, i.e.
JavaScript: loose ``==`` (``"5" == 5``), ``in`` as substring or array membership, three-operand ``<``/``<=``
as "between", and JavaScript truthiness (json-logic's variant: an empty list is false).

An operator we do not know makes the condition fail to compile (:class:`RuleError`); the artifact loader then
keeps the rule but makes it never match, and logs it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .jsvalues import (
    NUMBER,
    ORDER,
    contains,
    generic_order,
    less,
    loose_equals,
    strict_equals,
    truthy,
)

__all__ = ["Condition", "RuleError", "compile_condition", "loose_equals", "truthy"]

Condition = Callable[[Mapping[str, Any]], Any]


class RuleError(ValueError):
    """A condition this evaluator cannot compile."""


_MISSING = object()


def _compile_var(args: Any) -> Condition:
    if not isinstance(args, list):
        args = [args]
    path = args[0] if args else ""
    default = args[1] if len(args) > 1 else None
    if path is None or path == "":
        return lambda ctx: ctx
    parts = tuple(str(path).split("."))
    if len(parts) <= 2:
        return _compile_short_var(parts, default)
    return _compile_var_loop(parts, default)


def _compile_var_loop(parts: tuple[str, ...], default: Any) -> Condition:
    def var(ctx: Mapping[str, Any]) -> Any:
        node: Any = ctx
        for part in parts:
            if type(node) is dict or isinstance(node, Mapping):
                node = node.get(part, _MISSING)
                if node is _MISSING:
                    return default
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return default if node is None else node

    return var


def _compile_short_var(parts: tuple[str, ...], default: Any) -> Condition:
    """``allocation`` or ``page.domain``: the paths rules use, without the general loop."""
    slow = _compile_var_loop(parts, default)
    if len(parts) == 1:
        (key,) = parts

        def var1(ctx: Mapping[str, Any]) -> Any:
            if type(ctx) is not dict:
                return slow(ctx)
            value = ctx.get(key)
            return default if value is None else value

        return var1
    outer, inner = parts

    def var2(ctx: Mapping[str, Any]) -> Any:
        node = ctx.get(outer) if type(ctx) is dict else None
        if type(node) is not dict:
            return slow(ctx)
        value = node.get(inner)
        return default if value is None else value

    return var2


def _compile_comparison(op: str, args: list[Condition]) -> Condition:
    or_equal = op in ("<=", ">=")
    if op in (">", ">="):
        if len(args) != 2:
            raise RuleError(f"{op} takes two operands")
        a, b = args
        return lambda ctx: less(b(ctx), a(ctx), or_equal=or_equal)
    if len(args) == 3:
        lo, mid, hi = args

        def between(ctx: Mapping[str, Any]) -> bool:
            m = mid(ctx)
            return less(lo(ctx), m, or_equal=or_equal) and less(m, hi(ctx), or_equal=or_equal)

        return between
    if len(args) != 2:
        raise RuleError(f"{op} takes two or three operands")
    a, b = args
    return lambda ctx: less(a(ctx), b(ctx), or_equal=or_equal)


def _compile_and(args: list[Condition]) -> Condition:
    def and_(ctx: Mapping[str, Any]) -> Any:
        value: Any = None
        for arg in args:
            value = arg(ctx)
            if value is True:
                continue
            if value is False or not truthy(value):
                return value
        return value

    return and_


def _compile_or(args: list[Condition]) -> Condition:
    def or_(ctx: Mapping[str, Any]) -> Any:
        value: Any = None
        for arg in args:
            value = arg(ctx)
            if truthy(value):
                return value
        return value

    return or_


def _compile_if(args: list[Condition]) -> Condition:
    def if_(ctx: Mapping[str, Any]) -> Any:
        i = 0
        while i + 1 < len(args):
            if truthy(args[i](ctx)):
                return args[i + 1](ctx)
            i += 2
        return args[i](ctx) if i < len(args) else None

    return if_


def _binary(args: list[Condition], fn: Callable[[Any, Any], bool]) -> Condition:
    if len(args) != 2:
        raise RuleError("operator takes two operands")
    a, b = args
    return lambda ctx: fn(a(ctx), b(ctx))


def _compile_var_vs_literal(op: str, raw_args: Any) -> Condition | None:
    """The shape almost every artifact condition has, ``{op: [literal, {"var": path}]}``, as one closure."""
    if not isinstance(raw_args, list) or len(raw_args) != 2:
        return None
    first, second = raw_args
    is_var = [isinstance(x, dict) and len(x) == 1 and "var" in x for x in raw_args]
    is_literal = [x is None or isinstance(x, str | int | float) for x in raw_args]
    if is_var[1] and is_literal[0]:
        var, literal, literal_first = _compile_var(second["var"]), first, True
    elif is_var[0] and is_literal[1]:
        var, literal, literal_first = _compile_var(first["var"]), second, False
    else:
        return None
    path = (second if literal_first else first)["var"]
    parts = tuple(path.split(".")) if isinstance(path, str) and path else ()
    inline = _inline_var_vs_literal(op, literal, literal_first, parts, var) if len(parts) in (1, 2) else None
    if inline is not None:
        return inline
    if op == "==":
        if isinstance(literal, str):
            return lambda ctx: (v == literal) if type(v := var(ctx)) is str else loose_equals(v, literal)
        return lambda ctx: loose_equals(var(ctx), literal)
    fn = ORDER[op]
    if type(literal) in NUMBER:
        if literal_first:

            def ordered(ctx: Mapping[str, Any]) -> bool:
                v = var(ctx)
                return bool(fn(literal, v)) if type(v) in NUMBER else generic_order(op, literal, v)
        else:

            def ordered(ctx: Mapping[str, Any]) -> bool:
                v = var(ctx)
                return bool(fn(v, literal)) if type(v) in NUMBER else generic_order(op, v, literal)

        return ordered
    if literal_first:
        return lambda ctx: generic_order(op, literal, var(ctx))
    return lambda ctx: generic_order(op, var(ctx), literal)


def _inline_var_vs_literal(
    op: str, literal: Any, literal_first: bool, parts: tuple[str, ...], var: Condition
) -> Condition | None:
    """The commonest comparisons (``allocation`` with a number, ``page.path`` with a string) with the variable read
    inline: what ``var`` (``_compile_short_var``, no default) reads, a call fewer; ``var`` where the context is not
    plain dicts."""
    two = len(parts) == 2
    outer, inner = parts if two else (parts[0], "")
    if op == "==" and isinstance(literal, str) and two:

        def equals2(ctx: Mapping[str, Any]) -> Any:
            node = ctx.get(outer) if type(ctx) is dict else None
            v = node.get(inner) if type(node) is dict else var(ctx)
            return (v == literal) if type(v) is str else loose_equals(v, literal)

        return equals2
    if op == "==" or type(literal) not in NUMBER or two:
        return None
    fn = ORDER[op]
    if literal_first:

        def ordered_first(ctx: Mapping[str, Any]) -> bool:
            v: Any = ctx.get(outer) if type(ctx) is dict else var(ctx)
            return bool(fn(literal, v)) if type(v) in NUMBER else generic_order(op, literal, v)

        return ordered_first

    def ordered_last(ctx: Mapping[str, Any]) -> bool:
        v: Any = ctx.get(outer) if type(ctx) is dict else var(ctx)
        return bool(fn(v, literal)) if type(v) in NUMBER else generic_order(op, v, literal)

    return ordered_last


def compile_condition(node: Any) -> Condition:
    """Compile a json-logic expression; raise :class:`RuleError` for what is not supported."""
    if isinstance(node, list):
        items = [compile_condition(item) for item in node]
        return lambda ctx: [item(ctx) for item in items]
    if not isinstance(node, dict) or not node:
        return lambda ctx: node
    if len(node) != 1:
        raise RuleError("a json-logic operation has exactly one key")
    ((op, raw_args),) = node.items()
    if op == "var":
        return _compile_var(raw_args)
    if op in ("==", "<", "<=", ">", ">="):
        specialized = _compile_var_vs_literal(op, raw_args)
        if specialized is not None:
            return specialized
    args = [compile_condition(arg) for arg in (raw_args if isinstance(raw_args, list) else [raw_args])]
    if op in ("<", "<=", ">", ">="):
        return _compile_comparison(op, args)
    if op == "and":
        return _compile_and(args)
    if op == "or":
        return _compile_or(args)
    if op in ("if", "?:"):
        return _compile_if(args)
    if op == "!":
        first = args[0]
        return lambda ctx: not truthy(first(ctx))
    if op == "!!":
        first = args[0]
        return lambda ctx: truthy(first(ctx))
    simple: dict[str, Callable[[Any, Any], bool]] = {
        "==": loose_equals,
        "!=": lambda a, b: not loose_equals(a, b),
        "===": strict_equals,
        "!==": lambda a, b: not strict_equals(a, b),
        "in": contains,
    }
    if op in simple:
        return _binary(args, simple[op])
    raise RuleError(f"unsupported json-logic operator {op!r}")
