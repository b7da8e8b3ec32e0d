"""Evaluating a rule's condition over facts, with the reasons: never ``eval``.

A comparison explains itself as ``"signals.abuse.threat 0.97 >= 0.5"``. ``all`` matches when
every part does and reports every part; ``any`` reports the parts that matched; when a
condition fails, the parts that made it fail are reported instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from gracedesk.policy.facts import FIELDS, Value
from gracedesk.policy.schema import Condition, Scalar


@dataclass(frozen=True, slots=True)
class Outcome:
    matched: bool
    because: tuple[str, ...]  # the comparisons that decided the outcome, in declared order


def fmt(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{round(v, 4):g}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def compare(actual: Value, op: str, expected: Scalar | list[Scalar]) -> bool:
    if op == "in":
        return isinstance(expected, list) and actual in expected
    if op == "not_in":
        return isinstance(expected, list) and actual not in expected
    if op == "contains":
        return isinstance(actual, tuple) and expected in actual
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    if not isinstance(actual, int | float) or not isinstance(expected, int | float):
        return False  # the loader only lets numbers reach an ordering
    return {
        "<": actual < expected,
        "<=": actual <= expected,
        ">": actual > expected,
        ">=": actual >= expected,
    }[op]


def evaluate(cond: Condition, facts: Mapping[str, Value]) -> Outcome:
    if cond.all is not None:
        parts = [evaluate(c, facts) for c in cond.all]
        ok = all(p.matched for p in parts)
        chosen = parts if ok else [p for p in parts if not p.matched]
        return Outcome(ok, tuple(b for p in chosen for b in p.because))
    if cond.any is not None:
        parts = [evaluate(c, facts) for c in cond.any]
        ok = any(p.matched for p in parts)
        chosen = [p for p in parts if p.matched] if ok else parts
        return Outcome(ok, tuple(b for p in chosen for b in p.because))
    if cond.not_ is not None:
        inner = evaluate(cond.not_, facts)
        return Outcome(not inner.matched, (f"not ({' and '.join(inner.because)})",))
    assert cond.field is not None and cond.op is not None and cond.value is not None
    actual = facts[cond.field]
    ok = compare(actual, cond.op, cond.value)
    op = cond.op.replace("_", " ")
    return Outcome(ok, (f"{cond.field} {fmt(actual)} {op} {fmt(cond.value)}",))


def problems(cond: Condition, where: str) -> list[str]:
    """Unknown fields and comparisons that cannot work for the field's type."""
    out: list[str] = []
    if cond.all is not None or cond.any is not None:
        key = "all" if cond.all is not None else "any"
        for i, c in enumerate(cond.all or cond.any or []):
            out += problems(c, f"{where}.{key}[{i}]")
        return out
    if cond.not_ is not None:
        return problems(cond.not_, f"{where}.not")
    name, op, value = cond.field, cond.op, cond.value
    assert name is not None
    kind = FIELDS.get(name)
    if kind is None:
        near = sorted(f for f in FIELDS if f.split(".")[0] == name.split(".")[0])
        hint = f" (known {name.split('.')[0]} fields: {', '.join(near)})" if near else ""
        return [f"{where}.field: unknown field {name!r}{hint}"]

    def scalar_ok(v: object) -> bool:
        if kind == "number":
            return isinstance(v, int | float) and not isinstance(v, bool)
        if kind == "bool":
            return isinstance(v, bool)
        return isinstance(v, str)  # string fields, and the items of list fields

    if op in ("<", "<=", ">", ">="):
        if kind != "number" or not scalar_ok(value):
            out.append(f"{where}: {op} needs a number field and a number value ({name} is {kind})")
    elif op in ("in", "not_in"):
        if kind == "list" or not isinstance(value, list) or not all(scalar_ok(x) for x in value):
            out.append(f"{where}: {op} needs a list of {kind} values for {name}")
    elif op == "contains":
        if kind != "list" or not isinstance(value, str):
            out.append(
                f"{where}: contains needs a list field and a string value ({name} is {kind})"
            )
    elif kind == "list" or isinstance(value, list) or not scalar_ok(value):
        out.append(f"{where}: {op} needs a {kind} value for {name}, got {fmt(value)}")
    return out
