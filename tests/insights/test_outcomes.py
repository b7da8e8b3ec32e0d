"""What calms customers: per-reply outcomes, the adjusted comparison, and the measured ranking.

Synthetic histories (plain rows) check the statistics: a phrase that truly calms shows a
difference whose 95% CI excludes 0, and a phrase used only on calm starts does not look better
once the start is adjusted for. Guidance's Thompson sampling prefers the calming phrase with
enough data and keeps exploring with little. A history built through the real desk (SQLite and
PostgreSQL) checks that the service reads each reply's start and what followed.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gracedesk.guidance.phrases import Library, PhraseStats, suggest
from gracedesk.insights.outcomes import (
    ReplyOutcome,
    adjusted_effect,
    calm_counts,
    phrase_used,
    summary,
)
from gracedesk.policy.scenario import signals_from
from gracedesk.service import actions
from gracedesk.service.desk import Desk
from gracedesk.service.outcomes import PhraseStatsCache, reply_outcomes
from gracedesk.store.tables import CsatResponse, Message

from .conftest import NOW, make_user, post

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
START_RISK = {"low": 0.1, "medium": 0.4, "high": 0.8}


def reply(
    n: int,
    used: tuple[str, ...],
    calmed: bool,
    *,
    band: str = "high",
    step: str = "acknowledge",
    findings: tuple[str, ...] = (),
    archetype: str = "none",
) -> ReplyOutcome:
    """A reply whose customer calmed down (next anger 0.2) or did not (anger 0.8, same risk)."""
    risk = START_RISK[band]
    return ReplyOutcome(
        conversation_id=n,
        reply_id=2 * n,
        answered_id=2 * n - 1,
        replied_at=T0 + timedelta(minutes=n),
        start_risk=risk,
        start_anger=0.8,
        start_sentiment=-0.5,
        archetype=archetype,
        cause="none",
        stage="listen",
        step=step,
        suggested=("calm.a", "flat.b", "low.only"),
        used=used,
        findings=findings,
        coach_score=80,
        next_id=2 * n + 1,
        next_risk=risk,
        next_anger=0.2 if calmed else 0.8,
        next_sentiment=0.0 if calmed else -0.6,
    )


def feature(rep: dict[str, Any], group: str, key: str) -> dict[str, Any]:
    return next(f for f in rep[group] if f["key"] == key)


def test_a_calming_phrase_shows_a_difference_whose_ci_excludes_zero() -> None:
    rng = random.Random(7)
    rows = []
    for n in range(1, 241):  # a, calming 80% of the time; b, 20%; across every band
        phrase = "calm.a" if n % 2 else "flat.b"
        p = 0.8 if phrase == "calm.a" else 0.2
        band = ("low", "medium", "high")[n % 3]
        rows.append(reply(n, (phrase,), rng.random() < p, band=band))
    rep = summary(rows)
    json.dumps(rep)  # JSON-ready
    assert rep["observational"] is True and "not causal" in rep["caveat"]
    a, b = feature(rep, "phrases", "calm.a"), feature(rep, "phrases", "flat.b")
    assert rep["phrases"][0]["key"] == "calm.a"  # best first
    ca, cb = a["outcomes"]["calmed"], b["outcomes"]["calmed"]
    assert ca["difference"] > 0.4 and ca["ci95"][0] > 0 and ca["excludes_zero"]
    assert cb["difference"] < -0.4 and cb["ci95"][1] < 0
    assert ca["n"] == 120 and ca["n_without"] == 120 and ca["strata"] == 3
    assert a["evidence"].startswith("calmed ") and "of 120 customers" in a["evidence"]
    # the next message's anger fell for a's customers, not for b's
    assert a["outcomes"]["anger_change"]["ci95"][1] < 0 < b["outcomes"]["anger_change"]["ci95"][0]


def test_a_phrase_used_only_on_calm_starts_does_not_look_better_after_adjustment() -> None:
    rows, n = [], 0

    def add(k: int, used: str, calm: int, band: str) -> None:
        nonlocal n
        for i in range(k):
            n += 1
            rows.append(reply(n, (used,), i < calm, band=band))

    add(20, "low.only", 18, "low")  # low-risk starts calm down whatever is said: 90%
    add(20, "calm.a", 18, "low")
    add(40, "calm.a", 4, "high")  # high-risk starts rarely do: 10%
    calmed = feature(summary(rows), "phrases", "low.only")["outcomes"]["calmed"]
    assert calmed["raw_difference"] > 0.5  # raw, it looks like a miracle
    assert calmed["difference"] == 0.0  # within the low band it does exactly as well as a
    assert calmed["ci95"][0] < 0 < calmed["ci95"][1] and not calmed["excludes_zero"]
    assert (calmed["n_matched"], calmed["n_without_matched"], calmed["strata"]) == (20, 20, 1)


def test_steps_and_findings_are_compared_too() -> None:
    rows = [
        reply(n, (), n % 4 != 0, step="acknowledge" if n % 2 else "offer") for n in range(1, 41)
    ]
    rows += [reply(n, (), False, findings=("blame",)) for n in range(41, 61)]
    rep = summary(rows)
    assert {f["key"] for f in rep["steps"]} == {"acknowledge", "offer"}
    blame = feature(rep, "findings", "blame")["outcomes"]["calmed"]
    assert blame["ci95"][1] < 0 and blame["n"] == 20
    assert rep["replies"] == 60 and rep["measured"] == 60


def test_no_comparison_without_both_groups() -> None:
    assert adjusted_effect([(("low",), True, 1.0)], rate=True) is None
    eff = adjusted_effect([(("low",), True, 1.0), (("high",), False, 0.0)], rate=True)
    assert eff is not None and eff.difference is None and eff.raw_difference == 1.0


def test_unmeasured_replies_count_only_where_observed() -> None:
    r = reply(1, ("calm.a",), True)
    quiet = replace(r, next_id=None, next_risk=None, next_anger=None, next_sentiment=None)
    assert quiet.calmed is None and quiet.outcome("risk_change") is None
    assert quiet.outcome("escalated") == 0.0  # conversation outcomes are still observed
    rows = [r, quiet, reply(2, ("calm.a",), False), reply(3, (), True)]
    assert calm_counts(rows) == {"calm.a": (1, 2)}
    assert summary(rows)["measured"] == 3


@pytest.mark.parametrize(
    "pid, text, sent, used",
    [
        # the phrase as suggested, inside a longer reply
        (
            "ack.a",
            "I can hear how angry you are, Dana.",
            "Hi. I can hear how angry you are, Dana. Let me fix it.",
            True,
        ),
        # the agent changed the name and a word: most words kept, in order
        (
            "ack.a",
            "I can hear how angry you are, Dana, and I'd feel the same.",
            "I can hear how upset you are, Sam, and I'd feel the same.",
            True,
        ),
        # the console inserted the id
        ("ack.a", "Something else entirely.", "[ack.a] thanks", True),
        # a few common words are not the phrase
        (
            "ack.a",
            "I can hear how angry you are, Dana, and I'd feel the same.",
            "Are you angry? I can check.",
            False,
        ),
        # a short phrase must appear whole
        ("close.a", "Thanks, Dana!", "Thanks for waiting", False),
    ],
)
def test_phrase_use_is_matched_on_text_or_id(pid: str, text: str, sent: str, used: bool) -> None:
    assert phrase_used(pid, text, sent) is used


# -- guidance's measured ranking -----------------------------------------------------------------
PACK = """
version = "1"
pack = "test"
[[phrase]]
id = "a.calms"
stage = "acknowledge"
text = "I am sorry, that should not have happened."
[[phrase]]
id = "b.flat"
stage = "acknowledge"
text = "Noted, we will look into it."
[[phrase]]
id = "c.new"
stage = "acknowledge"
text = "Thank you for telling me; I am on it."
"""
LIB = Library.from_texts({"test.toml": PACK})
SIG = signals_from({})


def first(stats: PhraseStats | None) -> str:
    return suggest(LIB, "acknowledge", SIG, {}, limit=3, stats=stats)[0].id


def share_first(calmed: dict[str, tuple[int, int]], pid: str, draws: int = 400) -> float:
    return sum(first(PhraseStats(calmed, seed=s)) == pid for s in range(draws)) / draws


def test_without_stats_the_ranking_is_the_rules_alone() -> None:
    plain = suggest(LIB, "acknowledge", SIG, {}, limit=3)
    assert [p.id for p in plain] == ["a.calms", "b.flat", "c.new"]  # ties: by id
    # too little data everywhere: still the rules' order, nothing claimed
    few = PhraseStats({"b.flat": (3, 3), "c.new": (2, 2)})
    assert suggest(LIB, "acknowledge", SIG, {}, limit=3, stats=few) == plain


def test_with_enough_data_the_calming_phrase_comes_first() -> None:
    calmed = {"a.calms": (24, 30), "b.flat": (6, 30), "c.new": (5, 30)}
    assert share_first(calmed, "a.calms") > 0.97
    got = suggest(LIB, "acknowledge", SIG, {}, limit=3, stats=PhraseStats(calmed, seed=3))
    a = next(p for p in got if p.id == "a.calms")
    assert "calmed 24 of 30 customers (80%) (observed, not proven)" in a.why
    assert "ranked by measured outcome (Thompson sampling)" in a.why
    # seedable: the same seed, the same order
    again = suggest(LIB, "acknowledge", SIG, {}, limit=3, stats=PhraseStats(calmed, seed=3))
    assert again == got


def test_with_little_data_a_phrase_keeps_being_tried() -> None:
    calmed = {"a.calms": (24, 30), "b.flat": (6, 30), "c.new": (1, 2)}
    tried = share_first(calmed, "c.new")
    assert 0.02 < tried < 0.5  # explored now and then, while a still leads
    assert share_first(calmed, "a.calms") > 0.5
    got = suggest(LIB, "acknowledge", SIG, {}, limit=3, stats=PhraseStats(calmed))
    c = next(p for p in got if p.id == "c.new")
    assert any("too few to judge" in w for w in c.why)


# -- through the desk ----------------------------------------------------------------------------
def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_reply_outcomes_from_the_desk(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "sam", "agent")
    lead, _ = make_user(desk.store, "lee", "supervisor")
    first_msg = post(desk, "You people are useless idiots. Where is my parcel?", at=at(0))
    cid = first_msg.conversation_id
    phrase = first_msg.guidance["phrases"][0]
    text = f"{phrase['text']} It is your fault for giving the wrong address though."
    sent = actions.send_reply(desk, cid, text, user=agent, now=at(5))
    second = post(desk, "Ok thanks, that helps. When will it come?", at=at(20))
    actions.escalate(desk, cid, user=agent, reason="courier", target="specialist_team", now=at(22))
    actions.send_reply(desk, cid, "It arrives tomorrow by 5 pm.", user=agent, now=at(25))
    actions.resolve(desk, cid, user=lead, resolution="delivered", now=at(30))
    with desk.store.read() as s:
        token = s.scalars(select(CsatResponse.token)).one()
    actions.submit_csat(desk, token, 4, None, now=at(40))
    post(desk, "It did not come after all.", at=at(60), conversation_id=cid)  # reopened

    rows = reply_outcomes(desk.store, None, None)
    assert [r.reply_id for r in rows] == [sent["message_id"], sent["message_id"] + 2]
    r = rows[0]
    assert (r.answered_id, r.next_id) == (first_msg.message_id, second.message_id)
    assert r.used == (phrase["id"],) and r.suggested[0] == phrase["id"]
    assert r.step == first_msg.guidance["next_step"]["step"]
    assert "blame" in r.findings and r.coach_score is not None
    assert r.start_risk == first_msg.signals["risk"] and r.next_risk == second.signals["risk"]
    assert r.calmed is not None
    assert (r.escalated, r.resolved, r.reopened, r.csat) == (True, True, True, 4)
    assert not rows[1].escalated  # the escalation came before the second reply
    assert rows[1].answered_id == second.message_id and rows[1].next_id is not None
    # the period is the reply's time
    assert reply_outcomes(desk.store, at(10), at(30))[0].reply_id == rows[1].reply_id
    json.dumps(summary(rows))
    stats = PhraseStatsCache(desk.store).get(now=at(90), seed=5)
    assert stats.seed == 5 and stats.counts(phrase["id"]) == (int(bool(r.calmed)), 1)
    with desk.store.read() as s:  # nothing was written by reading outcomes
        assert s.scalars(select(Message.id)).all()
