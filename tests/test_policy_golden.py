"""Golden decisions of the default policy: a change in what it decides must be a reviewed diff.

Regenerate after an intended change with::

    GRACEDESK_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_policy_golden.py

and review ``git diff tests/golden/decisions_default.jsonl``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from gracedesk.policy import load_policy
from gracedesk.policy.condition import Outcome, compiled, evaluate
from gracedesk.service.flow import run_scenario

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)


def _records() -> list[str]:
    policy = load_policy()
    out = []
    for line in (GOLDEN / "scenarios_default.jsonl").read_text(encoding="utf-8").splitlines():
        # every golden scenario carries its signals, so no analyzer is needed
        rec = run_scenario(json.loads(line), policy, None, NOW).record()
        del rec["signals"]
        out.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
    return out


def test_default_policy_golden_decisions() -> None:
    path = GOLDEN / "decisions_default.jsonl"
    got = _records()
    if os.environ.get("GRACEDESK_REGEN_GOLDEN"):
        path.write_text("\n".join(got) + "\n", encoding="utf-8")
    want = path.read_text(encoding="utf-8").splitlines()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert json.loads(g) == json.loads(w), json.loads(g)["id"]


def test_deferred_reasons_are_the_evaluated_ones() -> None:
    """``explain`` checks each rule compiled and words its reasons only when read
    (``Outcome.of``): the same match and the same words as ``evaluate``, for every rule of
    every golden scenario."""
    policy = load_policy()
    checked = matched = 0
    for line in (GOLDEN / "scenarios_default.jsonl").read_text(encoding="utf-8").splitlines():
        trace = run_scenario(json.loads(line), policy, None, NOW).trace
        for rule in policy.rules:
            got = Outcome.of(rule.when, trace.facts)
            want = evaluate(rule.when, trace.facts)
            assert (got.matched, got.because) == (want.matched, want.because), rule.id
            assert compiled(rule.when)(trace.facts) is want.matched
            checked, matched = checked + 1, matched + want.matched
        by_id = {r.rule_id: r for r in trace.rules}
        for rule in policy.rules:
            assert by_id[rule.id].because == evaluate(rule.when, trace.facts).because
    assert checked > 100 and 0 < matched < checked
