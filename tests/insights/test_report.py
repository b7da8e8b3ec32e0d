"""The report's figures on a hand-built history, on SQLite and PostgreSQL: exact values.

tests/insights/history.py writes the history; every expected number below is worked out by
hand from it. Business minutes use the default policy's calendar (Europe/London, on UTC in
November; Mon-Thu 09:00-17:30, Fri 09:00-17:00); ``urgent`` runs round the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gracedesk.errors import InvalidRequest
from gracedesk.insights.stats import quantile, waiting_pauses
from gracedesk.service import reports
from gracedesk.store import Store

from .history import hand_history, t

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
ZERO_CAUSES = {
    "unmet_expectations": 0,
    "poor_service": 0,
    "miscommunication": 0,
    "lack_of_information": 0,
    "personal_stress": 0,
}


def run(store: Store, policy: Any, **kw: Any) -> dict[str, Any]:
    period = reports.period_of("2026-11-02", "2026-11-29", now=NOW, **kw)
    return reports.summary(store, policy, period)


def test_every_figure_of_the_hand_built_history(store: Store, policy: Any) -> None:
    ids = hand_history(store)
    r = run(store, policy)
    assert r["period"] == {
        "since": "2026-11-02T00:00:00+00:00",
        "until": "2026-11-30T00:00:00+00:00",  # a bare --until date includes that day
        "days": 28.0,
        "team": None,
        "agent": None,
        "timezone": "Europe/London",
    }
    # C1-C5 opened in the period (C6 before it, C7 after); customer messages: 2+2+1+3+1, the
    # pending one in C4 included; replies 2+2+1+0+1; C4 is still open
    assert r["volume"] == {
        "messages": 9,
        "replies": 6,
        "conversations": 5,
        "resolved": 4,
        "by_channel": {
            "chat": {"conversations": 2, "messages": 3},  # C2 (2), C5 (1)
            "email": {"conversations": 3, "messages": 6},  # C1 (2), C3 (1), C4 (3)
        },
    }
    # first replies: C5 5 (urgent, a Saturday, round the clock), C2 20, C1 90, C3 360;
    # median (20+90)/2, p90 at rank 2.7: 90 + 0.7 x 270
    assert r["first_response"] == {"count": 4, "median": 55.0, "p90": 279.0, "unanswered": 1}
    # resolution, waiting on the customer left out: C5 5; C2 540 - 490 - 20 = 30;
    # C1 630 - 390 - 120 = 120; C3 510 - 150 = 360; p90: 120 + 0.7 x 240
    assert r["resolution"] == {"count": 4, "median": 75.0, "p90": 288.0}
    none = {"met": 0, "total": 0, "rate": None}
    assert r["sla"] == {
        "first_response": {"met": 3, "total": 4, "rate": 0.75},
        "resolution": {"met": 4, "total": 4, "rate": 1.0},
        "by_priority": {
            "urgent": {
                "first_response_target": 15,
                "resolution_target": 240,
                "first_response": {"met": 1, "total": 1, "rate": 1.0},
                "resolution": {"met": 1, "total": 1, "rate": 1.0},
                "breaches": 0,
            },
            "high": {
                "first_response_target": 60,
                "resolution_target": 480,
                "first_response": {"met": 1, "total": 1, "rate": 1.0},
                "resolution": {"met": 1, "total": 1, "rate": 1.0},
                "breaches": 0,
            },
            "normal": {  # C1 in 90 of 240 minutes, C3 in 360: missed, and breached
                "first_response_target": 240,
                "resolution_target": 1440,
                "first_response": {"met": 1, "total": 2, "rate": 0.5},
                "resolution": {"met": 2, "total": 2, "rate": 1.0},
                "breaches": 1,
            },
            "low": {  # C4: no reply yet, not resolved
                "first_response_target": 480,
                "resolution_target": 2880,
                "first_response": none,
                "resolution": none,
                "breaches": 0,
            },
        },
        "breaches": 1,
    }
    # resolved: C1, C2 (twice: counted once), C3, C5; C2 reopened after its first resolution
    assert r["reopen_rate"] == {"resolved": 4, "reopened": 1, "rate": 0.25}
    # surveys sent: C1 (2), C2 twice (-, 1), C3 (4), C5 (-); C6's was sent in October
    assert r["csat"] == {
        "sent": 5,
        "answered": 3,
        "response_rate": 0.6,
        "mean": 2.33,
        "distribution": {"1": 1, "2": 1, "3": 0, "4": 1, "5": 0},
    }
    assert r["escalations"] == {
        "total": 3,
        "by_kind": {"escalation": 2, "approval": 1},
        "by_rule": {"abuse.insult": 1, "approvals.refund": 1, "manual": 1},
        "by_target": {"supervisor": 2, "specialist_team": 1},
        "rate": {"conversations": 5, "escalated": 2, "rate": 0.4},  # C1, C4
        "approval_turnaround": {"count": 1, "median": 90.0, "p90": 90.0},  # 09:00 -> 10:30
    }
    # root causes (strongest >= 0.5): C1 x2, C2 poor service (0.6 beats 0.55); C3, C4 lack of
    # information; C4's second message miscommunication (0.6 beats 0.5); C2's second, C5 none
    assert r["causes"]["messages"] == 6
    assert r["causes"]["by_cause"] == {
        "unmet_expectations": {"count": 0, "share": 0.0},
        "poor_service": {"count": 3, "share": 0.5},
        "miscommunication": {"count": 1, "share": 0.1667},
        "lack_of_information": {"count": 2, "share": 0.3333},
        "personal_stress": {"count": 0, "share": 0.0},
    }
    assert r["causes"]["weekly"] == [
        {"week": "2026-11-02", "total": 3, "counts": {**ZERO_CAUSES, "poor_service": 3}},
        {"week": "2026-11-09", "total": 1, "counts": {**ZERO_CAUSES, "lack_of_information": 1}},
        {
            "week": "2026-11-16",
            "total": 2,
            "counts": {**ZERO_CAUSES, "miscommunication": 1, "lack_of_information": 1},
        },
        {"week": "2026-11-23", "total": 0, "counts": ZERO_CAUSES},
    ]
    # each conversation's latest analysed message: C1 aggressive, C2 serial complainer (its
    # second message), C3 and C4 vague, C5 none
    assert r["archetypes"] == {
        "conversations": 5,
        "mix": {
            "serial_complainer": {"count": 1, "share": 0.2},
            "indecisive": {"count": 0, "share": 0.0},
            "demanding": {"count": 0, "share": 0.0},
            "aggressive": {"count": 1, "share": 0.2},
            "vague": {"count": 2, "share": 0.4},
            "none": {"count": 1, "share": 0.2},
        },
    }
    # Rex: 3 complaint messages in C1, C2 (the October one is outside); Kim: 3 in C3, C4
    assert r["repeat_complainers"] == {
        "minimum": 2,
        "customers": [
            {
                "customer_id": ids["rex"],
                "external_id": "c-rex",
                "name": "Rex Hammond",
                "complaints": 3,
                "conversations": 2,
            },
            {
                "customer_id": ids["kim"],
                "external_id": "c-kim",
                "name": "Kim Ito",
                "complaints": 3,
                "conversations": 2,
            },
        ],
    }
    # Ana answered both abusive messages and took two breaks; Bo's October break is outside
    assert r["abuse_exposure"] == {
        "abusive_messages": 2,
        "agents": [
            {
                "name": "ana",
                "display_name": "Ana",
                "exposures": 2,
                "breaks": 2,
                "last_break_at": "2026-11-20T12:00:00+00:00",
            },
            {
                "name": "bo",
                "display_name": "Bo",
                "exposures": 0,
                "breaks": 1,
                "last_break_at": "2026-11-23T12:00:00+00:00",
            },
        ],
    }
    # a warning (C1), a restriction (C4, lifted on the 20th), a block outside a conversation
    assert r["sanctions"] == {
        "created": 3,
        "lifted": 1,
        "by_level": {
            "warn": {"created": 1, "lifted": 0},
            "restrict": {"created": 1, "lifted": 1},
            "block": {"created": 1, "lifted": 0},
        },
        "by_state": {"active": 1, "lifted": 1, "pending": 1},
    }
    # what calms customers (insights.outcomes, docs/insights-outcomes.md): the six replies of
    # the period; two were followed by another customer message (C1's first, C2's first)
    assert r["outcomes"]["replies"] == 6 and r["outcomes"]["measured"] == 2
    # four answered conversations in the store (C1, C2, C3, C6): too few for the model;
    # C5 is the one resolved in the period without an answer
    assert r["predicted_csat"] == {
        "status": "not enough answers",
        "answered": 4,
        "minimum": 30,
        "folds": 5,
        "answered_mean": 3.0,
        "mae": None,
        "baseline_mae": None,
        "predicted": {"conversations": 1, "mean": None},
        "model": None,
    }


def test_a_team_narrows_every_figure(store: Store, policy: Any) -> None:
    ids = hand_history(store)
    r = run(store, policy, team="tech")  # C3, C4, C5
    assert r["period"]["team"] == "tech"
    assert r["volume"] == {
        "messages": 5,
        "replies": 2,
        "conversations": 3,
        "resolved": 2,
        "by_channel": {
            "chat": {"conversations": 1, "messages": 1},
            "email": {"conversations": 2, "messages": 4},
        },
    }
    # C5 5 and C3 360: median 182.5; p90 5 + 0.9 x 355
    assert r["first_response"] == {"count": 2, "median": 182.5, "p90": 324.5, "unanswered": 1}
    assert r["reopen_rate"] == {"resolved": 2, "reopened": 0, "rate": 0.0}
    assert r["csat"]["sent"] == 2 and r["csat"]["mean"] == 4.0
    assert r["csat"]["response_rate"] == 0.5
    assert r["escalations"]["total"] == 1
    assert r["escalations"]["rate"] == {"conversations": 3, "escalated": 1, "rate": 0.3333}
    assert r["escalations"]["approval_turnaround"] == {"count": 0, "median": None, "p90": None}
    # nobody answered abuse in the team's conversations; breaks belong to no team
    assert r["abuse_exposure"] == {"abusive_messages": 0, "agents": []}
    assert r["outcomes"]["replies"] == 2  # C3's and C5's
    # the restriction given in C4; the block outside a conversation belongs to no team
    assert r["sanctions"]["created"] == 1 and r["sanctions"]["lifted"] == 1
    assert r["sanctions"]["by_level"]["restrict"] == {"created": 1, "lifted": 1}
    assert [c["customer_id"] for c in r["repeat_complainers"]["customers"]] == [ids["kim"]]
    # the model learns from the whole store; it predicts the team's C5
    assert r["predicted_csat"]["answered"] == 4
    assert r["predicted_csat"]["predicted"]["conversations"] == 1


def test_an_agent_narrows_to_their_conversations(store: Store, policy: Any) -> None:
    hand_history(store)
    r = run(store, policy, agent="ana")  # C1, C2, C5
    assert r["volume"]["conversations"] == 3
    assert r["volume"]["messages"] == 5 and r["volume"]["replies"] == 5
    assert r["escalations"]["total"] == 2
    assert r["escalations"]["rate"] == {"conversations": 3, "escalated": 1, "rate": 0.3333}
    assert [a["name"] for a in r["abuse_exposure"]["agents"]] == ["ana"]
    assert r["sanctions"]["created"] == 1 and r["sanctions"]["by_level"]["warn"]["created"] == 1
    assert r["csat"]["distribution"] == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0}


def test_an_empty_store_reports_zeros_not_errors(store: Store, policy: Any) -> None:
    r = run(store, policy)
    assert r["volume"]["conversations"] == 0
    assert r["first_response"] == {"count": 0, "median": None, "p90": None, "unanswered": 0}
    assert r["csat"]["mean"] is None and r["csat"]["response_rate"] is None
    assert r["predicted_csat"]["status"] == "not enough answers"
    assert len(r["causes"]["weekly"]) == 4


def test_an_unknown_agent_is_refused(store: Store, policy: Any) -> None:
    with pytest.raises(InvalidRequest, match="no user named 'nobody'"):
        run(store, policy, agent="nobody")


@pytest.mark.parametrize(
    ("since", "until", "problem"),
    [
        ("2026-11-30", "2026-11-01", "must be before"),  # backwards
        ("2026-13-01", None, "ISO 8601"),  # no such month
        ("yesterday", None, "ISO 8601"),  # not a date
        ("2026-11-01T09:00:00", None, "offset"),  # a date-time without its offset
        ("2025-01-01", "2026-11-01", "longer than 400 days"),  # too long for one page
    ],
)
def test_bad_periods_are_refused(since: str, until: str | None, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        reports.period_of(since, until, now=NOW)


@pytest.mark.parametrize(
    ("since", "until", "want"),
    [
        (None, None, ("2026-11-02T12:00:00+00:00", "2026-12-02T12:00:00+00:00")),  # 30 days
        ("2026-11-01", "2026-11-01", ("2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00")),
        (
            "2026-11-01T10:00:00+01:00",  # an offset: converted to UTC
            "2026-11-01T12:00:00Z",  # an exact end is not widened
            ("2026-11-01T09:00:00+00:00", "2026-11-01T12:00:00+00:00"),
        ),
    ],
)
def test_periods_from_text(since: str | None, until: str | None, want: tuple[str, str]) -> None:
    p = reports.period_of(since, until, now=NOW)
    assert (p.since.isoformat(), p.until.isoformat()) == want


def test_quantiles_interpolate_between_ranks() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 0.9) == 10.0


def test_waiting_pauses_run_from_a_reply_to_the_next_customer_message() -> None:
    turns = [
        ("customer", t(2, 9)),
        ("agent", t(2, 10)),
        ("agent", t(2, 11)),
        ("customer", t(2, 12)),
    ]
    assert waiting_pauses(turns, t(2, 13)) == [(t(2, 10), t(2, 12))]
    assert waiting_pauses([*turns, ("agent", t(2, 12, 30))], t(2, 13)) == [
        (t(2, 10), t(2, 12)),
        (t(2, 12, 30), t(2, 13)),
    ]
