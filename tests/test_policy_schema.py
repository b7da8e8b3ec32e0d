"""Policy validation: every problem names the file, the rule id and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gracedesk.errors import PolicyInvalid, PolicyNotFound
from gracedesk.policy.loader import default_dir, load_policy


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    dst = tmp_path / "policy"
    shutil.copytree(default_dir(), dst)
    return dst


RULE = """
[[rule]]
id = "{id}"
precedence = 10
description = "test rule"
{body}
"""
WHEN = 'when = { field = "signals.risk", op = ">=", value = 0.5 }\n'
ACTION = '[[rule.action]]\ntype = "route"\ntarget = "x"\n'

CASES = [
    # (file, text appended, expected problem)
    (
        "rules/extra.toml",
        RULE.format(id="typo", body='colour = "red"\n' + WHEN + ACTION),
        "rules/extra.toml: rule 'typo': key 'colour': unknown key",
    ),
    (  # unknown key inside a condition
        "rules/extra.toml",
        RULE.format(
            id="c", body='when = { feild = "signals.risk", op = ">=", value = 0.5 }\n' + ACTION
        ),
        "rules/extra.toml: rule 'c': key 'when.feild': unknown key",
    ),
    (  # unknown fact name
        "rules/extra.toml",
        RULE.format(
            id="f", body='when = { field = "signals.rage", op = ">=", value = 0.5 }\n' + ACTION
        ),
        "rules/extra.toml: rule 'f': key 'when.field': unknown field 'signals.rage'",
    ),
    (  # ordering on a string field
        "rules/extra.toml",
        RULE.format(
            id="t", body='when = { field = "customer.tier", op = ">=", value = 1 }\n' + ACTION
        ),
        "rules/extra.toml: rule 't': key 'when': >= needs a number field",
    ),
    (  # a key that does not belong to the action type
        "rules/extra.toml",
        RULE.format(
            id="a", body=WHEN + '[[rule.action]]\ntype = "route"\ntarget = "x"\nminutes = 5\n'
        ),
        "rules/extra.toml: rule 'a': key 'action[0]': key 'minutes' does not apply to action 'route'",
    ),
    (  # unknown escalation target
        "rules/extra.toml",
        RULE.format(id="e", body=WHEN + '[[rule.action]]\ntype = "escalate"\ntarget = "ceo"\n'),
        "rules/extra.toml: rule 'e': key 'action[0]': escalate needs target",
    ),
    (  # unknown priority
        "rules/extra.toml",
        RULE.format(
            id="p", body=WHEN + '[[rule.action]]\ntype = "set_priority"\npriority = "asap"\n'
        ),
        "rules/extra.toml: rule 'p': key 'action[0].priority': 'asap' is not in sla.priorities",
    ),
    (  # duplicate id across files
        "rules/extra.toml",
        RULE.format(id="legal-threat", body=WHEN + ACTION),
        "rules/threats.toml: rule 'legal-threat': key 'id': duplicate rule id (first defined in rules/extra.toml)",
    ),
    (  # missing description
        "rules/extra.toml",
        '[[rule]]\nid = "d"\nprecedence = 1\n' + WHEN + ACTION,
        "rules/extra.toml: rule 'd': key 'description': required key is missing",
    ),
    ("rules/extra.toml", "[[rule]\n", "rules/extra.toml: invalid TOML"),  # syntax error
    (
        "policy.toml",
        "\n[calendar.extra]\nx = 1\n",
        "policy.toml: key 'calendar.extra': unknown key",
    ),
]


@pytest.mark.parametrize(("file", "text", "expected"), CASES)
def test_problem_names_file_rule_and_key(
    policy_dir: Path, file: str, text: str, expected: str
) -> None:
    path = policy_dir / file
    path.write_text((path.read_text() if path.exists() else "") + text, encoding="utf-8")
    with pytest.raises(PolicyInvalid) as info:
        load_policy(policy_dir)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert info.value.code == "GD302"


REPLACE = [
    # (old text in policy.toml, new text, expected problem)
    ('timezone = "Europe/London"', 'timezone = "Mars/Olympus"', "key 'calendar.timezone'"),
    ('mon = ["09:00-17:30"]', 'mon = ["17:30-09:00"]', "key 'calendar.hours': mon: window"),
    ('block_approver = "supervisor"', 'block_approver = "agent"', "key 'sanctions.block_approver'"),
    ('priority = "normal"\nroute', 'priority = "meh"\nroute', "key 'default.priority'"),
    ("[sla.targets.low]", "[sla.targets.later]", "key 'sla.targets.low'"),
]


@pytest.mark.parametrize(("old", "new", "expected"), REPLACE)
def test_policy_toml_problems(policy_dir: Path, old: str, new: str, expected: str) -> None:
    path = policy_dir / "policy.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(PolicyInvalid) as info:
        load_policy(policy_dir)
    assert any(expected in p and p.startswith("policy.toml") for p in info.value.problems), (
        info.value.problems
    )


def test_all_problems_are_reported_together(policy_dir: Path) -> None:
    (policy_dir / "rules/a.toml").write_text(RULE.format(id="x1", body=WHEN + ACTION + "a = 1\n"))
    (policy_dir / "rules/b.toml").write_text(RULE.format(id="x2", body=WHEN + ACTION + "b = 1\n"))
    with pytest.raises(PolicyInvalid) as info:
        load_policy(policy_dir)
    assert len(info.value.problems) == 2


def test_missing_policy(tmp_path: Path) -> None:
    with pytest.raises(PolicyNotFound):
        load_policy(tmp_path)


def test_default_policy_is_valid() -> None:
    p = load_policy()
    assert p.version and len(p.rules) >= 10
    assert [r.id for r in p.rules] == sorted(r.id for r in p.rules)
