"""Judgement in context (issue 10): who the abuse is aimed at, what the conversation remembers,
other languages, and a coach that reads paraphrase. Each case is one of the failures a support
lead saw, now a test."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.guidance.coach import coach
from gracedesk.policy import load_policy
from gracedesk.service.flow import run_scenario
from test_guidance_support import said

NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
POLICY = load_policy()
VENTING = (
    "I have gone through your ridiculous cancellation process twice and they're STILL "
    "charging me! What a GD scam company!"
)
THREAT = "If my money isn't back by Friday I will find you and break your face"
SANCTIONS = {"warn_customer", "restrict", "block"}


def _decide(messages: list[tuple[str, str, str]], tier: str = "fast", **extra: object) -> list:
    obj = {
        "id": "t",
        "messages": [{"role": r, "text": t, "at": at} for r, t, at in messages],
        **extra,
    }
    return run_scenario(obj, POLICY, get_analyzer(tier), NOW).record()["decisions"]


# -- target of abuse ---------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_venting_about_the_company_is_not_abuse_at_the_agent(tier: str) -> None:
    sig = get_analyzer(tier).analyze(VENTING)
    assert sig.abuse_at_people() < 0.5
    assert "abuse_at_agent" not in sig.labels
    acts = {d["action"] for d in _decide([("customer", VENTING, "2026-12-01T10:00:00Z")], tier)}
    assert not acts & SANCTIONS


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_an_insult_at_the_agent_is_aimed_at_the_agent(tier: str) -> None:
    sig = get_analyzer(tier).analyze("You are a useless idiot and you know it.")
    assert max(sig.abuse_target, key=lambda t: sig.abuse_target[t]) == "agent"
    assert "abuse_at_agent" in sig.labels
    named = [e.text.lower() for e in sig.evidence if e.signal == "abuse_target.agent"]
    assert named and all("you" in n for n in named)
    acts = [
        d["action"]
        for d in _decide(
            [
                (
                    "customer",
                    sig and "You are a useless idiot and you know it.",
                    "2026-12-01T10:00:00Z",
                )
            ],
            tier,
        )
    ]
    assert "warn_customer" in acts


def test_abuse_target_sums_to_one_and_none_means_not_abusive() -> None:
    an = get_analyzer("fast")
    for text in ("Where is my parcel?", VENTING, "you morons lost it again"):
        t = an.analyze(text).abuse_target
        assert set(t) == {"agent", "company", "person", "group", "none"}
        assert abs(sum(t.values()) - 1.0) < 0.01
    assert an.analyze("Where is my parcel?").abuse_target["none"] > 0.9


def test_target_head_f1_on_held_out_support_messages() -> None:
    """Measured in docs/models.md (fast tier, hand-labelled test split, abusive messages):
    "aimed at people" F1 0.89; a drop below 0.8 is a regression."""
    from gracedesk.eval.datasets import abuse_targets

    rows = [r for r in abuse_targets(None, "test") if r.target != "none"]
    an = get_analyzer("fast")
    sigs = an.analyze_many([r.text for r in rows])
    people = {"agent", "person", "group"}
    gold = [r.target in people for r in rows]
    pred = [s.at_people_share() >= 0.5 for s in sigs]
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    f1 = 2 * tp / (sum(gold) + sum(pred))
    assert f1 >= 0.8, f1


# -- conversation memory -------------------------------------------------------------------------
def test_a_threat_is_remembered_until_a_supervisor_clears_it() -> None:
    msgs = [
        ("customer", THREAT, "2026-12-01T10:00:00Z"),
        ("customer", "Hello? anyone?", "2026-12-01T10:10:00Z"),
    ]
    out = run_scenario(
        {"id": "m", "messages": [{"role": r, "text": t, "at": a} for r, t, a in msgs]},
        POLICY, get_analyzer("fast"), NOW,
    )  # fmt: skip
    sig = out.signals
    assert sig.context is not None and sig.context.earlier_threat >= 0.5
    assert sig.risk >= 0.5 and "high_risk" in sig.labels
    acts = {(d["action"], d.get("target"), d.get("priority")) for d in out.record()["decisions"]}
    assert ("escalate", "security", None) in acts
    assert ("set_priority", None, "urgent") in acts
    cleared = _decide(msgs, conversation={"threat_cleared_at": "2026-12-01T10:05:00Z"})
    assert not any(d.get("target") == "security" for d in cleared)


def test_risk_decays_over_turns_and_thanks_lift_the_floor() -> None:
    an = get_analyzer("fast")
    first = "This is the third time I've had to write. Fix it or I cancel everything."
    base = {"messages": [{"role": "customer", "text": first, "at": "2026-12-01T09:00:00Z"}]}
    earlier = an.analyze(first).risk
    later = an.analyze("ok", context={**base, "at": "2026-12-01T21:00:00Z"})
    assert later.context is not None
    # 12 hours = two half-lives, one later customer message: 0.75 * 0.25 of the earlier risk
    assert later.context.earlier_risk == pytest.approx(earlier * 0.75 * 0.25, abs=0.01)
    done = an.analyze("That solved it, thank you so much!", context=base)
    assert done.context is not None and done.context.resolved


# -- languages ------------------------------------------------------------------------------------
def test_a_spanish_manager_request_is_understood_and_flagged() -> None:
    sig = get_analyzer("fast").analyze("Quiero hablar con el gerente ahora mismo")
    assert sig.language == "es" and not sig.language_supported
    assert "unsupported_language" in sig.labels and "wants_manager" in sig.labels
    assert any(e.signal == "requests.manager" and "gerente" in e.text for e in sig.evidence)


def test_no_sanction_on_an_english_models_guess_and_a_person_reads_it() -> None:
    decisions = _decide([("customer", "Sie sind ein Idiot", "2026-12-01T10:00:00Z")])
    acts = {d["action"] for d in decisions}
    assert not acts & SANCTIONS
    assert any(d["action"] == "route" and d["target"] == "multilingual" for d in decisions)


def test_a_german_insult_no_longer_scores_as_an_english_guess() -> None:
    an = get_analyzer("fast")
    text = "Ihr seid doch alle komplett unfähig und dumm"
    sig = an.analyze(text)
    assert sig.language == "de" and "unsupported_language" in sig.labels
    raw = an.probabilities([text])[0][0]  # the English heads alone
    found = {e.signal for e in sig.evidence}
    for j, head in enumerate(an.heads.names_):
        if head.startswith("abuse.") and head not in found and head != "abuse.offensive":
            assert sig.abuse[head.split(".")[1]] <= raw[j] * 0.5 + 1e-3, head


def test_short_english_messages_stay_english() -> None:
    an = get_analyzer("fast")
    for text in ("Hello? anyone?", "ok thanks", "??", "Where is my refund?"):
        assert an.analyze(text).language_supported, text


def test_multilingual_high_stakes_signals_on_the_held_out_set() -> None:
    """Precision and recall of the high-stakes signals on eval/data/multilingual.jsonl, written
    independently of the patterns (docs/models.md): keep precision >= 0.85, recall >= 0.65."""
    rows = [
        json.loads(x)
        for x in (Path(__file__).parents[1] / "src/gracedesk/eval/data/multilingual.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
        if x.strip()
    ]
    rows = [r for r in rows if r["lang"] in ("es", "fr", "de", "pt", "it")]
    sigs = get_analyzer("fast").analyze_many([r["text"] for r in rows])
    tp = fp = fn = 0
    for r, s in zip(rows, sigs, strict=True):
        flat = {
            **{f"requests.{k}": v for k, v in s.requests.items()},
            **{f"abuse.{k}": v for k, v in s.abuse.items()},
            "legal_threat": s.legal_threat,
            "public_threat": s.public_threat,
        }
        for k in ("requests.manager", "requests.refund", "requests.cancel", "legal_threat",
                  "public_threat", "abuse.threat", "abuse.insult"):  # fmt: skip
            g, p = k in r["signals"], flat[k] >= 0.5
            tp, fp, fn = tp + (g and p), fp + (p and not g), fn + (g and not p)
    assert tp / (tp + fp) >= 0.85 and tp / (tp + fn) >= 0.65, (tp, fp, fn)


# -- the coach reads paraphrase ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def moves():
    from gracedesk.guidance.moves import load_detector

    return load_detector()


UPSET_TEXT = "This is ridiculous, I've waited all week and nobody came!"
UPSET = said(UPSET_TEXT)
LIMITS = said(UPSET_TEXT, limits={"refund": 50.0, "credit": 25.0})


def test_paraphrased_empathy_solution_and_next_step(moves) -> None:
    c = coach(
        "I can see why you're upset after waiting this long. Let me fix it: I'm booking a "
        "technician for tomorrow between 8 and 10.",
        UPSET,
        moves=moves,
    )
    assert c.has["empathy"] and c.has["solution"] and c.has["next_step"] and c.has["timeline"]
    assert c.has["ownership"]
    assert not c.kinds() & {"no_empathy", "no_next_step"}


def test_an_apology_with_a_done_fix_is_not_missing_empathy(moves) -> None:
    c = coach(
        "I'm really sorry your order arrived damaged. I've sent a replacement by express today",
        UPSET,
        moves=moves,
    )
    assert "no_empathy" not in c.kinds() and c.has["solution"]


def test_rewrites_remove_the_offending_words() -> None:
    c = coach("Calm down. That's our policy.", UPSET)
    for f in c.findings:
        assert "calm down" not in f.suggestion.lower(), f
    assert "calm down" not in c.rewrite.lower() and "our policy" not in c.rewrite.lower()


def test_a_refund_above_the_agents_limit_is_a_finding() -> None:
    c = coach("Sorry about this. I've refunded the full £180 to your card.", LIMITS)
    (f,) = [f for f in c.findings if f.kind == "over_authority"]
    assert "£180" in f.message and "50.00" in f.message
    assert "over_authority" not in coach("Sorry. I've refunded £20 to your card.", LIMITS).kinds()


@pytest.mark.parametrize(
    ("draft", "over"),
    [
        ("I've refunded €1.000 to your card.", True),  # a thousand, European style
        ("I've refunded €1.200,50 to your card.", True),
        ("I've refunded £1,200.50 to your card.", True),
        ("I've refunded €12,50 to your card.", False),  # twelve and a half
        ("I've refunded £40. Sorry again.", False),
        ("We'll credit 30 euros to your account today.", True),  # credit limit 25
    ],
)
def test_over_authority_reads_amounts_either_way(draft: str, over: bool) -> None:
    c = coach(draft, LIMITS)
    assert ("over_authority" in c.kinds()) is over, c.findings
