"""One row per rule of the default policy: the situation that triggers it and what it decides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gracedesk.errors import InvalidFacts
from gracedesk.model.situation import AgentProfile as Agent
from gracedesk.model.situation import CustomerHistory as Customer
from gracedesk.model.situation import Request, Sanction, Situation, Turn
from gracedesk.policy import Conversation, decide, explain
from gracedesk.policy.loader import load_policy
from gracedesk.policy.scenario import signals_from

NOW = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)  # a Tuesday, working hours in London
POLICY = load_policy()
TURNS = (Turn("customer", "hello"),)


def situation(
    customer: Customer | None = None, agent: Agent | None = None, request: Request | None = None
) -> Situation:
    return Situation(TURNS, customer or Customer(), agent or Agent(), request=request)


def run(
    signals: dict[str, Any] | None = None,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    role: str = "agent",
    request: Request | None = None,
) -> list[tuple[str, str | None, str]]:
    out = decide(
        signals_from(signals or {}),
        situation(customer, Agent(role), request),
        POLICY,
        now=NOW,
        conversation=conversation or Conversation(),
    )
    return [(d.action, d.target or d.priority or d.mode, d.rule_id) for d in out]


DEFAULTS = [("set_priority", "normal", "default"), ("route", "frontline", "default")]

CASES = [
    # (name, kwargs, expected decisions in order)
    ("nothing matches: the declared default", {}, DEFAULTS),
    (
        "threat of violence: security at once, urgent, block (skips the ladder), reassign",
        {"signals": {"abuse": {"threat": 0.97}}},
        [
            ("escalate", "security", "violence-threat"),
            ("set_priority", "urgent", "violence-threat"),
            ("block", None, "violence-threat"),
            ("protect_agent", "agent", "violence-threat"),
            ("escalate", "supervisor", "abusive-behaviour"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "insult: supervisor, high, first warning, agent offered a break",
        {"signals": {"abuse": {"insult": 0.9}}},
        [
            ("escalate", "supervisor", "abusive-behaviour"),
            ("set_priority", "high", "abusive-behaviour"),
            ("warn_customer", None, "abusive-behaviour"),
            ("protect_agent", "agent", "abuse-at-agent"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "insult after a warning: restrict, and the agent is taken off the conversation",
        {
            "signals": {"abuse": {"insult": 0.9}},
            "customer": Customer(sanctions=(Sanction("warn"),)),
        },
        [
            ("escalate", "supervisor", "abusive-behaviour"),
            ("set_priority", "high", "abusive-behaviour"),
            ("restrict", None, "abusive-behaviour"),
            ("protect_agent", "agent", "abuse-at-agent-again"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "swearing about the situation (offensive, not aimed at anyone): venting, no sanction",
        {"signals": {"abuse": {"offensive": 0.85, "profanity": 0.9}}},
        [
            ("set_priority", "high", "venting"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "an insult aimed at the company, not at people: venting, no sanction",
        {
            "signals": {
                "abuse": {"offensive": 0.9, "insult": 0.8},
                "abuse_target": {
                    "agent": 0.05,
                    "company": 0.8,
                    "person": 0.0,
                    "group": 0.0,
                    "none": 0.15,
                },
            }
        },
        [
            ("set_priority", "high", "venting"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "an insult aimed at the agent: supervisor, warning, break",
        {
            "signals": {
                "abuse": {"offensive": 0.9, "insult": 0.85},
                "abuse_target": {
                    "agent": 0.8,
                    "company": 0.05,
                    "person": 0.0,
                    "group": 0.0,
                    "none": 0.15,
                },
            }
        },
        [
            ("escalate", "supervisor", "abusive-behaviour"),
            ("set_priority", "high", "abusive-behaviour"),
            ("warn_customer", None, "abusive-behaviour"),
            ("protect_agent", "agent", "abuse-at-agent"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "an insult in a language the models do not read: no sanction, a person reads it",
        {"signals": {"abuse": {"offensive": 0.9, "insult": 0.9}, "language": "de"}},
        [
            ("protect_agent", "agent", "abuse-at-agent"),
            ("route", "multilingual", "other-language"),
            ("set_priority", "normal", "default"),
        ],
    ),
    (
        "legal threat: legal team, high",
        {"signals": {"legal_threat": 0.8}},
        [
            ("escalate", "legal", "legal-threat"),
            ("set_priority", "high", "legal-threat"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "public threat: communications team, high",
        {"signals": {"public_threat": 0.9}},
        [
            ("set_priority", "high", "public-threat"),
            ("route", "communications", "public-threat"),
        ],
    ),
    (
        "refund over the agent's limit: senior agent approves",
        {"request": Request("refund", 120)},
        [("require_approval", "senior_agent", "over-authority"), *DEFAULTS],
    ),
    (
        "refund within the agent's limit: nothing to approve",
        {"request": Request("refund", 40)},
        DEFAULTS,
    ),
    (
        "refund beyond every limit: the highest role decides",
        {"request": Request("refund", 9000)},
        [("require_approval", "manager", "over-authority"), *DEFAULTS],
    ),
    (
        "exception asked by a structured request: supervisor approves",
        {"request": Request("exception")},
        [("require_approval", "supervisor", "over-authority"), *DEFAULTS],
    ),
    (
        "exception asked in words: supervisor approves",
        {"signals": {"requests": {"policy_exception": 0.8}}},
        [("require_approval", "supervisor", "asks-policy-exception"), *DEFAULTS],
    ),
    (
        "exception asked of a supervisor: they may approve it themselves",
        {"signals": {"requests": {"policy_exception": 0.8}}, "role": "supervisor"},
        DEFAULTS,
    ),
    (
        "three unresolved attempts: specialist team, high",
        {"conversation": Conversation(turns=7, agent_turns=3, unresolved_attempts=3)},
        [
            ("escalate", "specialist_team", "unresolved-to-specialist"),
            ("set_priority", "high", "unresolved-to-specialist"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "open two business days with a complaint: specialist team",
        {
            "signals": {"complaint": 0.9},
            "conversation": Conversation(business_minutes_open=1000),
        },
        [
            ("escalate", "specialist_team", "unresolved-to-specialist"),
            ("set_priority", "high", "unresolved-to-specialist"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "manager asked for: hand-over offered",
        {"signals": {"requests": {"manager": 0.95}}},
        [("escalate", "supervisor", "manager-request"), *DEFAULTS],
    ),
    (
        "manager asked for with insults: the abuse transfer wins the supervisor slot",
        {"signals": {"requests": {"manager": 0.95}, "abuse": {"insult": 0.9}}},
        [
            ("escalate", "supervisor", "abusive-behaviour"),
            ("set_priority", "high", "abusive-behaviour"),
            ("warn_customer", None, "abusive-behaviour"),
            ("protect_agent", "agent", "abuse-at-agent"),
            ("route", "frontline", "default"),
        ],
    ),
    (
        "gold customer complaining: high",
        {"signals": {"complaint": 0.8}, "customer": Customer(tier="gold")},
        [("set_priority", "high", "valued-customer-complaint"), ("route", "frontline", "default")],
    ),
    (
        "wants to cancel: retention team",
        {"signals": {"requests": {"cancel": 0.9}}},
        [("route", "retention", "wants-to-cancel"), ("set_priority", "normal", "default")],
    ),
    (
        "repeat complainer: follow-up in a business day",
        {"signals": {"complaint": 0.8}, "customer": Customer(complaints_90d=4)},
        [("schedule_follow_up", None, "repeat-complainer"), *DEFAULTS],
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_default_policy_rule(name: str, kwargs: dict[str, Any], expected: list[Any]) -> None:
    assert run(**kwargs) == expected


def test_reasons_name_the_values_that_matched() -> None:
    (first, *_) = decide(
        signals_from({"abuse": {"threat": 0.97}}),
        situation(Customer(), Agent()),
        POLICY,
        now=NOW,
    )
    assert first.reason == (
        "Threat of violence against a person: signals.threat_at_people 0.97 >= 0.5; "
        "signals.language_supported true == true"
    )
    assert first.policy_version == POLICY.version


def test_block_always_needs_supervisor_approval() -> None:
    ds = decide(
        signals_from({"abuse": {"threat": 0.9}}),
        situation(Customer(), Agent("manager")),
        POLICY,
        now=NOW,
    )
    (block,) = [d for d in ds if d.action == "block"]
    assert block.approval_required and block.approver_role == "supervisor"
    assert "skips to block" in block.reason


def test_restrict_carries_the_cooling_off() -> None:
    ds = decide(
        signals_from({"abuse": {"insult": 0.9}}),
        situation(
            Customer(sanctions=(Sanction("warn", datetime(2025, 1, 1, tzinfo=UTC)),)), Agent()
        ),
        POLICY,
        now=NOW,
    )
    (r,) = [d for d in ds if d.action == "restrict"]
    assert r.minutes == 1440 and r.due == datetime(2025, 3, 5, 11, 0, tzinfo=UTC)


def test_old_sanctions_fall_out_of_the_window() -> None:
    old = Customer(sanctions=(Sanction("restrict", datetime(2023, 1, 1, tzinfo=UTC)),))
    ds = run(signals={"abuse": {"insult": 0.9}}, customer=old)
    assert ("warn_customer", None, "abusive-behaviour") in ds


def test_explain_shows_every_rule_and_overrides() -> None:
    trace = explain(
        signals_from({"requests": {"manager": 0.95}, "abuse": {"insult": 0.9}}),
        situation(Customer(), Agent()),
        POLICY,
        now=NOW,
    )
    assert {r.rule_id for r in trace.rules} == {r.id for r in POLICY.rules}
    manager = next(r for r in trace.rules if r.rule_id == "manager-request")
    assert manager.matched
    assert manager.effects == (
        "escalate supervisor offer: overridden by abusive-behaviour (precedence 90 > 50)",
    )
    legal = next(r for r in trace.rules if r.rule_id == "legal-threat")
    assert not legal.matched and legal.because == ("signals.legal_threat 0 >= 0.5",)


def test_unknown_role_and_naive_now_are_errors() -> None:
    with pytest.raises(InvalidFacts, match=r"agent\.role 'intern'"):
        run(role="intern")
    with pytest.raises(InvalidFacts, match="time zone"):
        decide(
            signals_from({}),
            situation(Customer(), Agent()),
            POLICY,
            now=datetime(2025, 1, 1),
        )
