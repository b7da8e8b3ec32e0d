"""Stand-alone check of the scenario library, the trainee scripts and the reaction set.

Written by the scenario/script author from the published file format only (not from the loader),
so the data can be checked before the simulator exists. Run: ``python tests/training/scripts/validate.py``.
"""

from __future__ import annotations

import collections
import json
import re
import string
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "src" / "gracedesk" / "training" / "scenarios"
SCRIPTS = Path(__file__).resolve().parent
REACTIONS = SCRIPTS.parent / "reactions.jsonl"

PERSONAS = {"serial_complainer", "indecisive", "demanding", "aggressive", "vague"}
CAUSES = {
    "unmet_expectations",
    "poor_service",
    "miscommunication",
    "lack_of_information",
    "personal_stress",
}
DIFFICULTIES = {"easy", "medium", "hard"}
WHENS = {
    "opening",
    "escalating",
    "calming",
    "accepting",
    "leaving",
    "public_threat",
    "manager",
    "abusive",
    "clarifying",
}
TOP = {
    "id",
    "title",
    "persona",
    "cause",
    "difficulty",
    "wants",
    "resolution",
    "opening",
    "policy_notes",
    "briefing",
    "facts",
    "start",
    "rubric",
    "lines",
}
REQUIRED = {"id", "title", "persona", "cause", "difficulty", "wants", "resolution", "opening"}
START = {"anger", "trust", "patience"}
RUBRIC = {
    "empathy",
    "ownership",
    "solution",
    "clarity",
    "boundaries",
    "promises",
    "policy",
    "outcome",
}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def check_scenario(path: Path) -> list[str]:
    """Return the problems found in one scenario file (empty when it is valid)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    where = path.name
    errs = _check_fields(data, path)
    facts = data.get("facts", {})
    if not isinstance(facts, dict) or not all(isinstance(v, str) for v in facts.values()):
        errs.append(f"{where}: facts must be a table of strings")
        facts = {}
    errs += _check_numbers(data, where)
    errs += _check_lines(data, where, facts)
    return errs


def _check_fields(data: dict[str, Any], path: Path) -> list[str]:
    """Keys, id, choices, strings and the resolution list."""
    where = path.name
    errs = [f"{where}: unknown key {k!r}" for k in sorted(set(data) - TOP)]
    errs += [f"{where}: missing key {k!r}" for k in sorted(REQUIRED - set(data))]
    if data.get("id") != path.stem or not re.fullmatch(r"[a-z0-9-]+", str(data.get("id"))):
        errs.append(f"{where}: id {data.get('id')!r} must be [a-z0-9-]+ and equal the stem")
    for key, allowed in (("persona", PERSONAS), ("cause", CAUSES), ("difficulty", DIFFICULTIES)):
        if data.get(key) not in allowed:
            errs.append(f"{where}: {key} {data.get(key)!r} not in {sorted(allowed)}")
    for key in ("title", "wants", "opening", "policy_notes", "briefing"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            errs.append(f"{where}: {key} must be a non-empty string")
    res = data.get("resolution")
    if not isinstance(res, list) or not res or not all(isinstance(r, str) and r for r in res):
        errs.append(f"{where}: resolution must be a non-empty list of strings")
    return errs


def _check_numbers(data: dict[str, Any], where: str) -> list[str]:
    """The ``start`` and ``rubric`` tables: known keys, numbers in range."""
    errs: list[str] = []
    for table, allowed_keys in (("start", START), ("rubric", RUBRIC)):
        values = data.get(table, {})
        errs += [f"{where}: unknown {table} key {k!r}" for k in sorted(set(values) - allowed_keys)]
        for k, v in values.items():
            if not isinstance(v, int | float) or isinstance(v, bool):
                errs.append(f"{where}: {table}.{k} must be a number")
            elif table == "start" and not 0.0 <= v <= 1.0:
                errs.append(f"{where}: start.{k}={v} outside [0, 1]")
            elif table == "rubric" and v < 0:
                errs.append(f"{where}: rubric.{k}={v} negative")
    return errs


def _check_lines(data: dict[str, Any], where: str, facts: dict[str, str]) -> list[str]:
    """The ``[[lines]]`` and every placeholder (only facts, only in the opening and lines)."""
    errs: list[str] = []
    texts = [("opening", str(data.get("opening", "")))]
    for i, line in enumerate(data.get("lines", [])):
        errs += [
            f"{where}: lines[{i}] unknown key {k!r}" for k in sorted(set(line) - {"when", "text"})
        ]
        if line.get("when") not in WHENS:
            errs.append(f"{where}: lines[{i}].when {line.get('when')!r} not allowed")
        texts.append((f"lines[{i}]", str(line.get("text", ""))))
    for label, text in texts:
        errs += [
            f"{where}: {label} uses undefined {{{n}}}" for n in sorted(_fields(text) - set(facts))
        ]
    for key in ("wants", "policy_notes", "briefing", "title"):
        if _fields(str(data.get(key, ""))):
            errs.append(f"{where}: {key} has a placeholder; keep those to opening and lines")
    if not 3 <= len(data.get("lines", [])) <= 6:
        errs.append(f"{where}: expected 3-6 [[lines]]")
    return errs


def _turns(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert all(set(r) == {"text"} and isinstance(r["text"], str) for r in rows), path
    return [r["text"] for r in rows]


def main() -> int:
    errs: list[str] = []
    scenarios = {}
    for path in sorted(SCENARIOS.glob("*.toml")):
        errs += check_scenario(path)
        scenarios[path.stem] = tomllib.loads(path.read_text(encoding="utf-8"))
    counts = {
        k: collections.Counter(s[k] for s in scenarios.values())
        for k in ("persona", "cause", "difficulty")
    }
    print(f"{len(scenarios)} scenarios", {k: dict(v) for k, v in counts.items()})
    errs += _check_scripts(scenarios)
    if REACTIONS.exists():
        errs += _check_reactions(scenarios)
    for e in errs:
        print("ERROR", e)
    return 1 if errs else 0


def _check_scripts(scenarios: dict[str, dict[str, Any]]) -> list[str]:
    """A good and a bad script for every scenario, and the mixed scripts: 4-6 turns each."""
    errs: list[str] = []
    for sid in scenarios:
        for kind in ("good", "bad"):
            path = SCRIPTS / f"{sid}.{kind}.jsonl"
            if not path.exists():
                errs.append(f"missing script {path.name}")
            elif not 4 <= len(_turns(path)) <= 6:
                errs.append(f"{path.name}: expected 4-6 turns")
    for path in sorted((SCRIPTS / "mixed").glob("*.jsonl")):
        if path.stem not in scenarios:
            errs.append(f"mixed/{path.name}: unknown scenario")
        elif not 4 <= len(_turns(path)) <= 6:
            errs.append(f"mixed/{path.name}: expected 4-6 turns")
    return errs


def _check_reactions(scenarios: dict[str, dict[str, Any]]) -> list[str]:
    """The reaction set's rows; prints its counts by expected reaction and persona."""
    errs: list[str] = []
    items = [
        json.loads(line) for line in REACTIONS.read_text(encoding="utf-8").splitlines() if line
    ]
    for i, item in enumerate(items):
        if set(item) != {"scenario", "history", "reply", "expected"}:
            errs.append(f"reactions[{i}]: keys {sorted(item)}")
        if item.get("scenario") not in scenarios:
            errs.append(f"reactions[{i}]: unknown scenario {item.get('scenario')!r}")
        if item.get("expected") not in {"calm", "escalate", "neutral"}:
            errs.append(f"reactions[{i}]: expected {item.get('expected')!r}")
        if not isinstance(item.get("history"), list):
            errs.append(f"reactions[{i}]: history must be a list")
    by_exp = collections.Counter(i["expected"] for i in items)
    by_persona = collections.Counter(
        scenarios[i["scenario"]]["persona"] for i in items if i["scenario"] in scenarios
    )
    print(f"{len(items)} reactions", dict(by_exp), dict(by_persona))
    return errs


if __name__ == "__main__":
    sys.exit(main())
