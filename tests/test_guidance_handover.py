"""advise() end to end on synthetic Signals, and the hand-over packet's content."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gracedesk.errors import InvalidScenario
from gracedesk.guidance.advice import _tone, advise, time_frame
from gracedesk.model.signals import Evidence
from gracedesk.model.situation import Situation, Turn
from test_guidance_support import NOW, convo, make_signals, situation

TEXT = "Still nothing. This is ridiculous, I want a refund and your manager."
CONVERSATION = [
    {
        "role": "customer",
        "text": "My package was supposed to arrive Monday.",
        "at": "2026-11-20T09:00:00Z",
    },
    {
        "role": "agent",
        "text": "I'm sorry about that. I'll check and email you by 5pm today.",
        "at": "2026-11-20T09:05:00Z",
    },
    {"role": "customer", "text": TEXT, "at": "2026-11-21T10:00:00Z"},
]
CUSTOMER = {
    "name": "Dana",
    "tier": "gold",
    "lifetime_value": 2400,
    "preferred_channel": "email",
    "currency": "EUR",
    "order_value": 120,
    "issues": [{"at": "2026-10-02", "summary": "parcel arrived damaged"}],
    "compensation": [{"kind": "credit", "amount": 20, "at": "2026-10-05"}],
}
AGENT = {"role": "agent", "name": "Sam", "authority": {"refund_limit": 100, "credit_limit": 30}}
COMMITMENTS = [{"text": "email an update by 5pm", "due": "2026-11-20T17:00:00Z"}]


def _signals():
    return make_signals(
        emotions={"frustration": 0.8},
        causes={"unmet_expectations": 0.8, "lack_of_information": 0.6},
        requests={"refund": 0.9, "manager": 0.8},
        sentiment=-0.7,
        risk=0.86,
        archetype="serial_complainer",
        trajectory="escalating",
        repeat=3,
        labels=("frustrated", "wants_refund", "wants_manager", "high_risk"),
        evidence=(
            Evidence("requests.refund", 37, 45, TEXT[37:45]),
            Evidence("emotions.frustration", 15, 25, TEXT[15:25]),
        ),
    )


def _advise(now=NOW, **kw):
    parts = {"customer": CUSTOMER, "agent": AGENT, "commitments": COMMITMENTS} | kw
    return advise(_signals(), situation(CONVERSATION, **parts), now=now)


def test_packet_content() -> None:
    g = _advise()
    p = g.handover
    assert p.issue.startswith("Expectations not met") and "arrive Monday" in p.issue
    assert any("arrive Monday" in w for w in p.what_happened)
    assert any(TEXT[:20] in w for w in p.what_happened)
    assert p.wants == ("a refund", "to speak to a manager")
    assert [e.signal for e in p.evidence] == ["requests.refund"]  # key spans only
    assert p.tried and "acknowledged" in p.tried[0] and "committed to a time" in p.tried[0]
    assert "compensation given: credit of 20.00 EUR on 2026-10-05, 47 days ago" in p.history
    assert any("earlier issue (2026-10-02): parcel arrived damaged" in h for h in p.history)
    assert any(h.startswith("archetype serial_complainer") for h in p.history)
    assert p.risk == 0.86 and "high_risk" in p.labels
    assert p.promises[0].overdue is True
    assert p.recommended
    for reason in ("requests.manager 0.80", "risk 0.86", "overdue promise", "needs approval"):
        assert any(reason in w for w in p.why), p.why
    line = p.opening_line
    assert line.startswith("Hi Dana,") and "from Sam" in line
    assert "won't need to repeat anything" in line and "your package" in line
    assert "a refund and to speak to a manager" in line and "missed a promise" in line


def test_packet_renderings() -> None:
    p = _advise().handover
    d = p.to_dict()
    assert set(d) >= {
        "issue",
        "what_happened",
        "wants",
        "evidence",
        "tried",
        "history",
        "signals",
        "promises",
        "opening_line",
        "recommended",
        "why",
    }
    assert d["signals"]["archetype"] == "serial_complainer"
    md = p.to_markdown()
    for head in (
        "## Hand-over",
        "### What happened",
        "### Already tried",
        "### Promises made",
        "### Suggested opening line",
    ):
        assert head in md
    assert "OVERDUE" in md and "> Hi Dana" in md
    txt = p.to_text()
    assert "#" not in txt and "WHAT HAPPENED" in txt


def test_packet_without_history_or_promises() -> None:
    g = advise(make_signals(), situation(convo(("c", "Hello, quick question."))), now=NOW)
    p = g.handover
    assert not p.recommended and p.promises == () and p.tried == ()
    assert p.wants == ("a resolution (no specific request stated)",)
    assert p.opening_line.startswith("Hello, I've taken over your case from my colleague")
    assert "{" not in p.opening_line


def test_guidance_is_pure_and_uses_now() -> None:
    assert _advise() == _advise()
    earlier = _advise(now=NOW - timedelta(days=2))  # before the promise was due
    assert earlier.handover.promises[0].overdue is False
    assert not any("overdue" in w for w in earlier.handover.why)


def test_guidance_fills_phrases_from_the_scenario() -> None:
    g = _advise()
    assert g.next_step.step == "common_ground"  # serial complainer, before the offer
    assert g.phrases and all("{" not in p.text and "[" not in p.text for p in g.phrases)
    kinds = [s.kind for s in g.solutions]
    assert "goodwill_credit" not in kinds and "partial_refund" not in kinds  # credit 47 days ago
    assert g.to_dict()["next_step"]["why"]


@pytest.mark.parametrize(
    ("due_hours", "expected"),
    [
        (3, "by 3:00 pm today"),  # same day
        (24, "by 12:00 pm tomorrow"),  # next day
        (72, "by Tuesday"),  # this week (NOW is a Saturday)
        (24 * 10, "by 1 December"),  # later
    ],
)
def test_time_frame(due_hours, expected) -> None:
    assert time_frame(NOW + timedelta(hours=due_hours), NOW) == expected


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"conversation": "hello"}, "messages must be a non-empty list"),
        ({"conversation": [{"role": "bot", "text": "hi"}]}, "messages[0].role"),
        (
            {"conversation": [{"role": "customer", "text": 3}]},
            "messages[0].text must be a non-empty string",
        ),
        ({"conversation": [{"role": "agent", "text": "hi"}]}, "no customer message"),
        ({"conversation": [{"text": "hi", "at": "soon"}]}, "messages[0].at"),
        ({"agent": {"name": 5}}, "agent.name must be a string"),
        ({"commitments": [{"due": "2026-11-22"}]}, "commitments[0] must be an object"),
        ({"commitments": [{"text": "call", "due": "friday"}]}, "commitments[0].due"),
        ({"commitments": {"text": "call"}}, "commitments must be a list"),
        ({"request": {"kind": "gift"}}, "request.kind must be one of"),
        (
            {"request": {"kind": "refund", "amount": "lots"}},
            "request.amount must be a non-negative number",
        ),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, words) -> None:
    """Bad input is refused where the Situation is parsed, with guidance's code (GD502)."""
    parts = {"conversation": convo(("c", "hi"))} | kwargs
    conversation = parts.pop("conversation")
    with pytest.raises(InvalidScenario) as err:
        situation(conversation, **parts)
    assert words in str(err.value) and "[GD502]" in str(err.value)


def test_a_situation_without_a_customer_message_is_refused() -> None:
    agent_only = Situation((Turn("agent", "hi"),))
    with pytest.raises(InvalidScenario, match="no customer message"):
        advise(make_signals(), agent_only, now=NOW)


# -- threats and abuse at people: named first, and no goodwill to approve --------------------
AT_COMPANY = {"agent": 0.02, "company": 0.9, "person": 0.0, "group": 0.0, "none": 0.08}
AT_AGENT = {"agent": 0.9, "company": 0.05, "person": 0.0, "group": 0.0, "none": 0.05}


def _hostile(**overrides):
    sig = make_signals(causes={"poor_service": 0.8}, risk=0.98, **overrides)
    return advise(sig, situation(convo(("c", "I will find you and break your face"))), now=NOW)


def test_threat_is_named_first_and_gets_no_goodwill() -> None:
    g = _hostile(abuse={"threat": 0.99, "insult": 0.7})
    assert g.handover.why[0] == "threat of violence (abuse.threat 0.99, at people 0.99)"
    assert not any("goodwill" in w for w in g.handover.why), g.handover.why
    assert "goodwill_credit" not in [s.kind for s in g.solutions]
    assert any("it rewards the behaviour" in n for n in g.solution_notes)


def test_abuse_at_the_agent_is_named_first() -> None:
    g = _hostile(abuse={"insult": 0.9}, target=AT_AGENT)
    assert g.handover.why[0].startswith("abuse aimed at the agent (abuse at people 0.85")


def test_an_earlier_threat_is_named() -> None:
    g = _hostile(earlier_threat=0.92)
    assert any("threat of violence earlier in the conversation" in w for w in g.handover.why)
    assert g.next_step.step == "boundary" and "security" in g.next_step.instruction


def test_venting_is_not_abuse_in_the_handover() -> None:
    sig = make_signals(
        abuse={"insult": 0.8, "profanity": 0.9}, causes={"poor_service": 0.8}, target=AT_COMPANY
    )
    conversation = convo(("c", "What a GD scam company!"), ("a", "Please keep it respectful."))
    g = advise(sig, situation(conversation + convo(("c", "Scam company!"))), now=NOW)
    assert not any("abuse" in w or "threat" in w for w in g.handover.why), g.handover.why
    assert "goodwill_credit" in [s.kind for s in g.solutions]


def test_tone_follows_the_boundary_predicate() -> None:
    assert _tone(make_signals(abuse={"insult": 0.9}), "none") == "calm"
    assert _tone(make_signals(earlier_threat=0.9), "none") == "calm"
    assert _tone(make_signals(abuse={"profanity": 0.9}), "none") == "warm"  # venting
    assert _tone(make_signals(abuse={"insult": 0.9}, target=AT_COMPANY), "none") == "warm"


# -- the request reaches the solutions; a completed cancellation is confirmed ----------------
def test_request_amount_is_checked_against_authority() -> None:
    sig = make_signals(requests={"refund": 0.9})
    agent = {"name": "Sam", "authority": {"refund_limit": 50}}
    g = advise(sig, situation(convo(("c", "Refund me.")), customer={}, agent=agent), now=NOW)
    refund = next(s for s in g.solutions if s.kind == "refund")
    assert refund.needs_approval and "amount not known" in (refund.approval_reason or "")
    asked = situation(
        convo(("c", "Refund me.")),
        customer={},
        agent=agent,
        request={"kind": "refund", "amount": 120},
    )
    g = advise(sig, asked, now=NOW)
    refund = next(s for s in g.solutions if s.kind == "refund")
    assert refund.amount == 120 and refund.needs_approval
    assert "needs approval: a refund of 120.00" in " ".join(g.handover.why)


def test_already_cancelled_in_the_conversation() -> None:
    text = "I cancelled my subscription last month and you are still charging me."
    g = advise(make_signals(requests={"cancel": 0.91}), situation(convo(("c", text))), now=NOW)
    kinds = [s.kind for s in g.solutions]
    assert "confirm_cancellation" in kinds
    assert "cancel_without_fee" not in kinds and "retention_discount" not in kinds
    assert any("turn 1 (customer)" in n for n in g.solution_notes)


# -- a bare nudge: acknowledge the wait, not the nudge's own scores --------------------------
THREAT_THEN_NUDGE = convo(
    ("c", "I will find you and break your face."),
    ("a", "I'm not able to continue if there are threats."),
    ("c", "Hello? anyone?"),
)


def test_nudge_after_a_threat_acknowledges_the_wait() -> None:
    sig = make_signals(emotions={"confusion": 0.47}, earlier_threat=0.92)
    g = advise(sig, situation(THREAT_THEN_NUDGE), now=NOW)
    ids = [p.id for p in g.phrases]
    assert g.next_step.step == "boundary"
    assert ids[0] == "wait.safety.received", ids
    assert "ack.confusion.fair" not in ids
    assert all("confused" not in p.text for p in g.phrases)


def test_nudge_acknowledges_the_wait() -> None:
    sig = make_signals(emotions={"confusion": 0.47})
    conversation = convo(("c", "My parcel is late."), ("c", "Hello?? anyone?"))
    g = advise(sig, situation(conversation), now=NOW)
    ids = [p.id for p in g.phrases]
    assert g.next_step.step == "acknowledge" and ids[0].startswith("wait.ack."), ids
    assert "ack.confusion.fair" not in ids
    assert "waiting" in g.phrases[0].text
