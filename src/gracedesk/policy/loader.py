"""Policy files -> a validated :class:`PolicySet`; the only module of the package that reads files.

Layout of a policy directory::

    policy.toml        version, default, authority, sla, calendar, sanctions, wellbeing
                       (and [[rule]]s)
    rules/*.toml       more [[rule]] tables, read in file-name order

Every problem is collected and reported together, each naming the file, the rule id (for rules)
and the key: ``rules/abuse.toml: rule 'abuse-to-supervisor': key 'when.any[0].feild': unknown
key``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gracedesk.errors import PolicyInvalid, PolicyNotFound
from gracedesk.policy.condition import problems as condition_problems
from gracedesk.policy.schema import PolicyFile, PolicySet, Rule, RuleFile

M = TypeVar("M", bound=BaseModel)


def default_dir() -> Path:
    """The policy shipped with gracedesk (package data)."""
    return Path(str(resources.files("gracedesk.policy").joinpath("default")))


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("not" if part == "not_" else part)
    return out


def _describe(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _pydantic_problems(name: str, raw: dict[str, Any], exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = f"{name}: "
        if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int):
            rules = raw.get("rule")
            rid = None
            if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
                rid = rules[loc[1]].get("id")
            where += f"rule {rid!r}: " if isinstance(rid, str) else f"rule #{loc[1] + 1}: "
            loc = loc[2:]
        key = _loc(loc)
        out.append(f"{where}key {key!r}: {_describe(err)}" if key else f"{where}{_describe(err)}")
    return out


def _read(path: Path, name: str) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh), []
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{name}: invalid TOML ({exc})"]
    except UnicodeDecodeError as exc:
        return None, [f"{name}: not UTF-8 ({exc.reason})"]


def _parse(model: type[M], path: Path, name: str) -> tuple[M | None, list[str]]:
    raw, errs = _read(path, name)
    if raw is None:
        return None, errs
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, _pydantic_problems(name, raw, exc)


def _semantic(main: PolicyFile, rules: list[tuple[str, Rule]]) -> list[str]:
    out: list[str] = []
    name = "policy.toml"
    prios = main.sla.priorities
    if len(set(prios)) != len(prios):
        out.append(f"{name}: key 'sla.priorities': a priority is listed twice")
    for p in prios:
        if p not in main.sla.targets:
            out.append(f"{name}: key 'sla.targets.{p}': priority {p!r} has no SLA target")
    for p in main.sla.targets:
        if p not in prios:
            out.append(f"{name}: key 'sla.targets.{p}': {p!r} is not in sla.priorities")
    if main.default.priority not in prios:
        out.append(
            f"{name}: key 'default.priority': {main.default.priority!r} is not in sla.priorities"
        )
    approver = main.authority.get(main.sanctions.block_approver)
    if approver is None or not approver.may_block:
        out.append(
            f"{name}: key 'sanctions.block_approver': {main.sanctions.block_approver!r} must be "
            "a role of the authority matrix with may_block = true"
        )
    out += [
        f"{name}: key {p}"
        for p in _quoted(condition_problems(main.sanctions.violence, "sanctions.violence"))
    ]
    seen: dict[str, str] = {}
    for file, rule in rules:
        where = f"{file}: rule {rule.id!r}"
        if rule.id in seen:
            out.append(f"{where}: key 'id': duplicate rule id (first defined in {seen[rule.id]})")
        seen.setdefault(rule.id, file)
        out += [f"{where}: key {p}" for p in _quoted(condition_problems(rule.when, "when"))]
        for i, action in enumerate(rule.action):
            if action.type == "set_priority" and action.priority not in prios:
                out.append(
                    f"{where}: key 'action[{i}].priority': {action.priority!r} is not in "
                    f"sla.priorities {prios}"
                )
    return out


def _quoted(problems: list[str]) -> list[str]:
    """``"when.any[0].field: msg"`` -> ``"'when.any[0].field': msg"``."""
    out = []
    for p in problems:
        key, _, msg = p.partition(": ")
        out.append(f"{key!r}: {msg}")
    return out


def load_policy(path: str | Path | None = None) -> PolicySet:
    """Read and validate a policy directory (default: the shipped policy).

    Raises ``PolicyNotFound`` when there is no ``policy.toml`` and ``PolicyInvalid`` listing every
    problem found.
    """
    root = default_dir() if path is None else Path(path)
    main_file = root / "policy.toml"
    if not main_file.is_file():
        raise PolicyNotFound(f"no policy.toml in {root}")
    main, problems = _parse(PolicyFile, main_file, "policy.toml")
    rules: list[tuple[str, Rule]] = [("policy.toml", r) for r in (main.rule if main else [])]
    rule_dir = root / "rules"
    for f in sorted(rule_dir.glob("*.toml")) if rule_dir.is_dir() else []:
        name = f"rules/{f.name}"
        parsed, errs = _parse(RuleFile, f, name)
        problems += errs
        rules += [(name, r) for r in (parsed.rule if parsed else [])]
    if main is not None:
        problems += _semantic(main, rules)
    if problems:
        raise PolicyInvalid(problems)
    assert main is not None
    return PolicySet(
        version=main.version,
        default=main.default,
        authority=dict(main.authority),
        sla=main.sla,
        calendar=main.calendar,
        sanctions=main.sanctions,
        wellbeing=main.wellbeing,
        rules=tuple(sorted((r for _, r in rules if r.enabled), key=lambda r: r.id)),
        source=str(root),
    )
