"""`gracedesk policy replay`: a candidate policy over stored history, on SQLite and PostgreSQL.

The history is built through the real desk (analysis, decisions, replies, a take-over, a
resolution and a reopening), so the replay must rebuild exactly what the desk saw: replaying
the running policy changes nothing, and a policy with one edited threshold or default changes
exactly the messages that edit reaches.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gracedesk.cli.main import cli
from gracedesk.insights.replay import Choice, Replayed, link, render_text, report, workload
from gracedesk.model.situation import Request
from gracedesk.policy import load_policy
from gracedesk.policy.loader import default_dir
from gracedesk.service import actions
from gracedesk.service.desk import Desk
from gracedesk.service.replay import replay
from gracedesk.store.tables import DecisionRow, Escalation, Message

from .conftest import NOW, make_user, post


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def history(desk: Desk) -> dict[str, Any]:
    """Seven customer messages in five conversations, with the desk acting between them."""
    agent, _ = make_user(desk.store, "sam", "agent")
    lead, _ = make_user(desk.store, "lee", "supervisor")
    m: dict[str, Any] = {}
    m["polite"] = post(desk, "Hi, could you tell me when my order will ship? Thanks!", at=at(0))
    actions.send_reply(
        desk,
        m["polite"].conversation_id,
        "Sorry for the wait, it ships today.",
        user=agent,
        now=at(5),
    )
    hostile = "You people are useless idiots. I want to speak to your manager right now."
    m["hostile"] = post(desk, hostile, customer="c-2", at=at(10))
    m["manager"] = _post(desk, "I want to talk to a manager about my refund please", "c-3", at(20))
    m["again"] = post(desk, "You are a useless idiot and I hate you", customer="c-2", at=at(30))
    m["refund"] = post(
        desk,
        "My parcel never came. I want my money back.",
        customer="c-5",
        at=at(35),
        request=Request("refund", 120.0),
    )
    m["exception"] = _post(
        desk, "I want you to make an exception to your policy and refund me anyway.", "c-3", at(40)
    )
    with desk.store.read() as s:  # the supervisor takes the manager request over
        esc = s.scalars(
            select(Escalation).where(Escalation.conversation_id == m["manager"].conversation_id)
        ).first()
        assert esc is not None
        esc_id = esc.id
    actions.decide_escalation(desk, esc_id, user=lead, approve=True, note=None, now=at(50))
    m["exception2"] = _post(desk, "Then make an exception to your policy for me.", "c-3", at(55))
    actions.resolve(desk, m["polite"].conversation_id, user=agent, resolution="shipped", now=at(70))
    m["reopen"] = post(  # the same conversation: reopened
        desk,
        "It did not arrive after all, you idiots",
        at=at(90),
        conversation_id=m["polite"].conversation_id,
    )
    return m


def _post(desk: Desk, text: str, customer: str, when: datetime) -> Any:
    return post(desk, text, customer=customer, at=when)


def test_replaying_the_running_policy_changes_nothing(desk: Desk) -> None:
    h = history(desk)
    rows, skipped = replay(desk.store, load_policy())
    assert skipped == 0 and len(rows) == len(h)
    assert [r for r in rows if r.changed] == []
    # the history is not trivial: escalations, a sanction ladder, an approval, an exception
    # asked before the take-over (an agent: approval) and after it (a supervisor: none)
    acts = {c.action for r in rows for c in r.before}
    assert {"escalate", "warn_customer", "restrict", "require_approval"} <= acts
    rules = {r.message_id: {c.rule_id for c in r.before} for r in rows}
    assert "asks-policy-exception" in rules[h["exception"].message_id]
    assert "asks-policy-exception" not in rules[h["exception2"].message_id]
    rep = report(rows)
    assert rep["changed"] == 0 and rep["conversations"] == 4 and rep["messages"] == 8
    assert all(v["before"] == v["after"] for v in rep["by_action"].values())


def _cli(db_url: str, tmp_path: Path, *args: str) -> Any:
    env = {"GRACEDESK_DATABASE_URL": db_url, "GRACEDESK_HOME": str(tmp_path / "home")}
    return CliRunner(env=env).invoke(cli, ["policy", "replay", *args], catch_exceptions=False)


def test_cli_json_replaying_the_running_policy(desk: Desk, db_url: str, tmp_path: Path) -> None:
    history(desk)
    out = _cli(db_url, tmp_path, str(default_dir()), "--format", "json")
    assert out.exit_code == 0, out.output
    rep = json.loads(out.output)
    assert (rep["conversations"], rep["changed"], rep["messages"]) == (4, 0, 8)
    assert rep["by_action"]["escalate"]["before"] == rep["by_action"]["escalate"]["after"] > 0
    assert rep["examples"] == []


def _candidate(tmp_path: Path, file: str, old: str, new: str) -> Path:
    d = tmp_path / "candidate"
    shutil.copytree(default_dir(), d)
    path = d / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return d


MANAGER = 'when = { field = "signals.requests.manager", op = ">=", value = 0.5 }'


def test_a_raised_threshold_changes_exactly_the_messages_below_it(
    desk: Desk, db_url: str, tmp_path: Path
) -> None:
    h = history(desk)
    cand = _candidate(tmp_path, "rules/handover.toml", MANAGER, MANAGER.replace("0.5", "0.999"))
    with desk.store.read() as s:  # the manager requests that won their slot and score below it
        won = s.scalars(
            select(DecisionRow.message_id).where(DecisionRow.rule_id == "manager-request")
        ).all()
        scores = {
            mid: s.get_one(Message, mid).signals["requests"]["manager"]  # type: ignore[index]
            for mid in won
        }
    expected = sorted(mid for mid, score in scores.items() if score < 0.999)
    assert expected == [h["manager"].message_id]
    rows, _ = replay(desk.store, load_policy(cand))
    changed = [r for r in rows if r.changed]
    assert [r.message_id for r in changed] == expected
    assert changed[0].removed == [Choice("escalate", "supervisor", "manager-request", True)]
    assert changed[0].added == []
    out = _cli(db_url, tmp_path, str(cand), "--format", "json")
    rep = json.loads(out.output)
    assert rep["changed"] == 1 and rep["changed_messages"] == 1
    assert rep["escalations"] == {"added": {}, "removed": {"escalate supervisor": 1}}
    assert rep["by_action"]["escalate"]["removed"] == 1
    assert (
        rep["by_rule"]["manager-request"]["after"]
        == rep["by_rule"]["manager-request"]["before"] - 1
    )
    ex = rep["examples"][0]
    mid, cid = h["manager"].message_id, h["manager"].conversation_id
    assert ex["link"] == f"/console/conversations/{cid}#m{mid}"
    assert ex["what"] == ["- escalate supervisor [manager-request] (supervisor)"]
    assert rep["workload"]["after_per_week"] < rep["workload"]["before_per_week"]
    text = _cli(db_url, tmp_path, str(cand), "--since", NOW.isoformat()).output
    assert "changed: 1 conversation(s), 1 message(s)" in text
    assert f"/console/conversations/{cid}#m{mid}" in text


def test_a_changed_default_changes_every_message_it_filled(desk: Desk, tmp_path: Path) -> None:
    h = history(desk)
    cand = _candidate(tmp_path, "policy.toml", 'priority = "normal"', 'priority = "low"')
    rows, _ = replay(desk.store, load_policy(cand))
    normal, low = (
        Choice("set_priority", "normal", "default"),
        Choice("set_priority", "low", "default"),
    )
    defaulted = {r.message_id for r in rows if normal in r.before}
    assert h["polite"].message_id in defaulted and h["hostile"].message_id not in defaulted
    assert {r.message_id for r in rows if r.changed} == defaulted
    for r in rows:
        if r.changed:
            assert (r.removed, r.added) == ([normal], [low])


def test_the_period_limits_what_is_replayed(desk: Desk) -> None:
    h = history(desk)
    rows, _ = replay(desk.store, load_policy(), since=at(30), until=at(55))
    assert [r.message_id for r in rows] == [
        h["again"].message_id,
        h["refund"].message_id,
        h["exception"].message_id,
    ]
    assert not any(r.changed for r in rows)


@pytest.mark.parametrize(
    "make, words",
    [
        # no such directory: the loader's "no policy.toml"
        (lambda p: p / "nowhere", "no policy.toml in"),
        # a policy with an unknown key: every problem, named by file and key
        (
            lambda p: _candidate(p, "policy.toml", 'route = "frontline"', 'rout = "frontline"'),
            "problem(s) in the policy",
        ),
    ],
)
def test_a_bad_directory_is_the_loaders_error(tmp_path: Path, make: Any, words: str) -> None:
    out = CliRunner().invoke(cli, ["policy", "replay", str(make(tmp_path))])
    assert out.exit_code == 1 and words in out.output


# -- the report, on plain rows ------------------------------------------------------------------
def _row(conv: int, mid: int, day: int, before: list[Choice], after: list[Choice]) -> Replayed:
    when = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(days=day)
    return Replayed(conv, mid, when, tuple(sorted(before)), tuple(sorted(after)), "v1")


ESC = Choice("escalate", "supervisor", "manager-request", True)
PRIO = Choice("set_priority", "normal", "default")


def test_workload_counts_an_item_once_per_conversation_by_week() -> None:
    rows = [
        _row(1, 1, 0, [ESC, PRIO], [PRIO]),
        _row(1, 2, 1, [ESC, PRIO], [ESC, PRIO]),  # still pending: not a second item
        _row(2, 3, 8, [PRIO], [ESC, PRIO]),  # the next week
    ]
    assert workload(rows, "before") == {"2026-W45": 1}
    assert workload(rows, "after") == {"2026-W45": 1, "2026-W46": 1}
    rep = report(rows, examples=1)
    assert rep["changed"] == 2 and rep["changed_messages"] == 2 and len(rep["examples"]) == 1
    assert rep["workload"]["weeks"] == [
        {"week": "2026-W45", "before": 1, "after": 1},
        {"week": "2026-W46", "before": 0, "after": 1},
    ]
    assert rep["workload"]["before_per_week"] == 0.5
    text = render_text(rep)
    assert "changed: 2 conversation(s), 2 message(s)" in text
    assert link(1, 1) in text and "- escalate supervisor [manager-request]" in text


def test_an_empty_history_reports_zeroes() -> None:
    rep = report([])
    assert (rep["messages"], rep["changed"], rep["by_action"]) == (0, 0, {})
    assert "replayed 0 message(s)" in render_text(rep)
