"""Evaluating a rule's condition over facts, with the reasons: never ``eval``.

A comparison explains itself as ``"signals.abuse.threat 0.97 >= 0.5"``. ``all`` matches when
every part does and reports every part; ``any`` reports the parts that matched; when a
condition fails, the parts that made it fail are reported instead.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping

from gracedesk.policy.facts import FIELDS, Value
from gracedesk.policy.schema import Condition, Scalar

# a comparison, kept unformatted until its words are read: (field, actual, op, expected), or
# ("not", the inner outcome)
_Part = tuple[str, Value, str, Scalar | list[Scalar]] | tuple[str, "Outcome"]


class Outcome:
    """Whether a condition matched, and ``because``: the comparisons that decided it, in
    declared order. The words are built when first read (every rule is evaluated for every
    message; most explanations are never read)."""

    __slots__ = ("_because", "_parts", "_source", "matched")

    def __init__(self, matched: bool, parts: tuple[_Part, ...]) -> None:
        self.matched = matched
        self._parts: tuple[_Part, ...] | None = parts
        self._source: tuple[Condition, Mapping[str, Value]] | None = None
        self._because: tuple[str, ...] | None = None

    @classmethod
    def of(cls, cond: Condition, facts: Mapping[str, Value], test: Test | None = None) -> Outcome:
        """Whether ``cond`` matches ``facts``, its comparisons gathered only when read (the
        facts must not change afterwards). ``test``: ``cond`` :func:`compiled` already (a
        policy's rules are, once: ``PolicySet.tests``)."""
        out = cls((test or compiled(cond))(facts), ())
        out._parts, out._source = None, (cond, facts)
        return out

    @property
    def parts(self) -> tuple[_Part, ...]:
        if self._parts is None:
            assert self._source is not None
            self._parts = evaluate(*self._source).parts
        return self._parts

    @property
    def because(self) -> tuple[str, ...]:
        if self._because is None:
            self._because = tuple(_words(p) for p in self.parts)
        return self._because

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.matched, self.because) == (other.matched, other.because)

    def __hash__(self) -> int:
        return hash((self.matched, self.because))

    def __repr__(self) -> str:
        return f"Outcome(matched={self.matched!r}, because={self.because!r})"


def _words(p: _Part) -> str:
    if len(p) == 2:
        inner = p[1]
        assert isinstance(inner, Outcome)
        return f"not ({' and '.join(inner.because)})"
    field, actual, op, expected = p
    return f"{field} {fmt(actual)} {op.replace('_', ' ')} {fmt(expected)}"


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
    if op == ">=":
        return actual >= expected
    if op == ">":
        return actual > expected
    if op == "<=":
        return actual <= expected
    if op == "<":
        return actual < expected
    raise KeyError(op)


Test = Callable[[Mapping[str, Value]], bool]

_ORDER: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def compiled(cond: Condition) -> Test:
    """Whether ``cond`` holds (what :func:`evaluate` says, without the reasons), as a function
    of the facts: the condition's tree is walked and its operators looked up once, not for
    every message (a policy's rules are compiled when it is loaded: ``PolicySet.tests``)."""
    if cond.all is not None:
        every = tuple(compiled(c) for c in cond.all)
        return lambda facts: all(t(facts) for t in every)
    if cond.any is not None:
        some = tuple(compiled(c) for c in cond.any)
        return lambda facts: any(t(facts) for t in some)
    if cond.not_ is not None:
        inner = compiled(cond.not_)
        return lambda facts: not inner(facts)
    field, op, expected = cond.field, cond.op, cond.value
    assert field is not None and op is not None and expected is not None
    order = _ORDER.get(op)
    if order is not None and isinstance(expected, int | float):
        bound = expected
        return lambda facts: isinstance(a := facts[field], int | float) and order(a, bound)
    if op == "==":
        return lambda facts: facts[field] == expected
    if op == "!=":
        return lambda facts: facts[field] != expected
    return lambda facts: compare(facts[field], op, expected)


def evaluate(cond: Condition, facts: Mapping[str, Value]) -> Outcome:
    if cond.all is not None:
        parts = [evaluate(c, facts) for c in cond.all]
        ok = all(p.matched for p in parts)
        chosen = parts if ok else [p for p in parts if not p.matched]
        return Outcome(ok, tuple(b for p in chosen for b in p.parts))
    if cond.any is not None:
        parts = [evaluate(c, facts) for c in cond.any]
        ok = any(p.matched for p in parts)
        chosen = [p for p in parts if p.matched] if ok else parts
        return Outcome(ok, tuple(b for p in chosen for b in p.parts))
    if cond.not_ is not None:
        inner = evaluate(cond.not_, facts)
        return Outcome(not inner.matched, (("not", inner),))
    assert cond.field is not None and cond.op is not None and cond.value is not None
    actual = facts[cond.field]
    return Outcome(
        compare(actual, cond.op, cond.value), ((cond.field, actual, cond.op, cond.value),)
    )


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
