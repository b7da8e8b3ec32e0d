"""The playbook: conversations (turns + signals) -> stage and next step, with the reasons."""

from __future__ import annotations

import pytest

from gracedesk.guidance.conversation import (
    already_cancelled,
    is_nudge,
    moves_of,
    resolved_words,
    turns,
)
from gracedesk.guidance.playbook import next_step
from test_guidance_support import convo, make_signals, situation

ANGRY = {"anger": 0.85, "frustration": 0.7}
CLEAR = {"unmet_expectations": 0.8}

CASES = [
    # (conversation, signal overrides, expected stage, expected step, text in why/tactics)
    pytest.param(  # a first, emotional message with no detail: let them vent
        convo(("c", "I can't believe this. Unbelievable.")),
        {"emotions": ANGRY, "sentiment": -0.8},
        "listen",
        "listen",
        "let them vent",
        id="vent-first",
    ),
    pytest.param(  # emotional with a clear request: acknowledge first
        convo(("c", "My order is late and I want a refund!")),
        {"emotions": ANGRY, "causes": CLEAR, "requests": {"refund": 0.9}},
        "listen",
        "acknowledge",
        "emotions.anger 0.85",
        id="acknowledge-first",
    ),
    pytest.param(  # abusive: a calm boundary statement before anything else
        convo(("c", "You useless idiots!")),
        {"emotions": ANGRY, "abuse": {"insult": 0.9}, "archetype": "aggressive"},
        "listen",
        "boundary",
        "abuse.insult 0.90",
        id="abuse-boundary",
    ),
    pytest.param(  # abusive, but the agent already set a boundary after it: go on
        convo(("c", "You useless idiots!"), ("a", "I want to help, please keep this respectful.")),
        {"emotions": ANGRY, "abuse": {"insult": 0.9}, "causes": CLEAR},
        "listen",
        "acknowledge",
        "no agent turn has acknowledged",
        id="abuse-boundary-already-set",
    ),
    pytest.param(  # confused after an acknowledgement: plain step-by-step clarification
        convo(
            ("c", "I don't get the bill."), ("a", "I'm sorry about that."), ("c", "What is this?")
        ),
        {"emotions": {"confusion": 0.8}, "causes": {"miscommunication": 0.6}},
        "acknowledge",
        "clarify",
        "plain, numbered steps",
        id="confused-clarify",
    ),
    pytest.param(  # still confused after a clarifying question: clarify again
        convo(
            ("c", "The bill is wrong."),
            ("a", "I understand. Could you confirm which invoice?"),
            ("c", "I still don't understand any of it."),
        ),
        {"emotions": {"confusion": 0.7}, "causes": CLEAR},
        "clarify",
        "clarify",
        "still confused after the clarification in turn 2",
        id="still-confused",
    ),
    pytest.param(  # vague customer: one specific question at a time
        convo(("c", "it doesn't work"), ("a", "Sorry to hear that."), ("c", "the thing is broken")),
        {"archetype": "vague", "sentiment": -0.3},
        "acknowledge",
        "clarify",
        "archetype vague",
        id="vague-clarify",
    ),
    pytest.param(  # demanding customer: common ground before the offer
        convo(("c", "I demand a refund now."), ("a", "I understand, that's frustrating.")),
        {"archetype": "demanding", "causes": CLEAR, "requests": {"refund": 0.9}},
        "acknowledge",
        "common_ground",
        "archetype demanding",
        id="demanding-common-ground",
    ),
    pytest.param(  # serial complainer: a documented, consistent answer
        convo(("c", "Late again."), ("a", "I'm sorry, I can see this happened before.")),
        {"archetype": "serial_complainer", "causes": CLEAR},
        "acknowledge",
        "common_ground",
        "documented, consistent answer",
        id="serial-complainer",
    ),
    pytest.param(  # clear issue, calm customer, acknowledged: offer
        convo(("c", "The parcel never came."), ("a", "I'm sorry about that.")),
        {"causes": CLEAR, "sentiment": -0.2},
        "acknowledge",
        "offer",
        "unmet_expectations 0.80",
        id="offer",
    ),
    pytest.param(  # indecisive customer: two clear options
        convo(("c", "Refund, or actually exchange?"), ("a", "I understand, no problem.")),
        {"archetype": "indecisive", "causes": CLEAR, "requests": {"refund": 0.6}},
        "acknowledge",
        "offer",
        "exactly two clear options",
        id="indecisive-two-options",
    ),
    pytest.param(  # anxious customer: reassurance and a timeline
        convo(
            ("c", "I'm so worried my card was stolen."), ("a", "I understand, that's stressful.")
        ),
        {"emotions": {"anxiety": 0.8}, "causes": {"lack_of_information": 0.6}},
        "acknowledge",
        "offer",
        "Reassure and give a timeline",
        id="anxious-timeline",
    ),
    pytest.param(  # the customer turns the offer down: back to common ground
        convo(
            ("c", "It arrived broken."),
            ("a", "I'm sorry. I can offer a replacement."),
            ("c", "That's not good enough."),
        ),
        {"emotions": {"anger": 0.7}, "causes": CLEAR, "sentiment": -0.6},
        "offer",
        "common_ground",
        "turned it down in turn 3",
        id="offer-rejected",
    ),
    pytest.param(  # turned down again after common ground: revise the offer
        convo(
            ("c", "It arrived broken."),
            ("a", "I'm sorry. I can offer a replacement."),
            ("c", "No way."),
            ("a", "You're right, we both want this fixed properly."),
            ("c", "Still not good enough."),
        ),
        {"emotions": {"frustration": 0.7}, "causes": CLEAR, "sentiment": -0.5},
        "offer",
        "offer",
        "revise the offer",
        id="offer-rejected-twice",
    ),
    pytest.param(  # accepted: commit to a time
        convo(
            ("c", "It arrived broken."),
            ("a", "I'm sorry. I can offer a replacement."),
            ("c", "OK, that works."),
        ),
        {"causes": CLEAR, "sentiment": 0.3},
        "offer",
        "commit",
        "no agent turn commits to a specific time",
        id="commit",
    ),
    pytest.param(  # committed and thanked: close
        convo(
            ("c", "It arrived broken."),
            ("a", "I'm sorry. I can offer a replacement."),
            ("c", "OK."),
            ("a", "I'll email you the tracking by 5pm tomorrow."),
            ("c", "Thank you so much!"),
        ),
        {"emotions": {"gratitude": 0.9}, "causes": CLEAR, "sentiment": 0.7},
        "commit",
        "close",
        "the customer's reply is accepted",
        id="close",
    ),
    pytest.param(  # committed but still anxious: restate the timeline
        convo(
            ("c", "Is my money safe?"),
            ("a", "I understand. I can refund it."),
            ("c", "OK."),
            ("a", "I'll call you within 2 hours."),
            ("c", "I'm still really scared something will go wrong."),
        ),
        {"emotions": {"anxiety": 0.8}, "causes": CLEAR},
        "commit",
        "commit",
        "restate the timeline",
        id="committed-still-anxious",
    ),
    pytest.param(  # escalating again: acknowledge again before anything else
        convo(
            ("c", "Where is my parcel?"),
            ("a", "Sorry about that. Could you confirm the order number?"),
            ("c", "It's 123."),
            ("a", "Could you confirm the address too?"),
            ("c", "Are you kidding me? I've told you everything twice!"),
        ),
        {"emotions": ANGRY, "causes": CLEAR, "trajectory": "escalating"},
        "clarify",
        "acknowledge",
        "escalating",
        id="escalating-re-acknowledge",
    ),
]


@pytest.mark.parametrize(("conversation", "overrides", "stage", "step", "reason"), CASES)
def test_next_step(conversation, overrides, stage, step, reason) -> None:
    sig = make_signals(**overrides)
    ctx = sig.context
    assert ctx is not None
    pos, got = next_step(
        sig, turns(situation(conversation)), archetype=ctx.archetype.name, trajectory=ctx.trajectory
    )
    assert (pos.stage, got.step) == (stage, step), got.why
    assert any(reason in line for line in (*got.why, *got.tactics)), (got.why, got.tactics)
    assert got.why and got.instruction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm sorry, I understand how annoying this is.", {"acknowledge"}),  # apology
        ("Could you confirm the order number?", {"clarify"}),  # clarifying question
        ("I can offer a replacement or a full refund.", {"offer"}),  # offer
        ("I'll email you an update by 5pm tomorrow.", {"commit"}),  # time committed
        ("Please keep this respectful so I can help.", {"boundary"}),  # boundary
        ("Tell me everything that happened.", {"listen"}),  # invitation to vent
        ("You're right, we both want this fixed.", {"common_ground"}),  # common ground
        ("Is there anything else I can help with? Have a great day.", {"close"}),  # closing
        ("Let me check.", set()),  # nothing yet
    ],
)
def test_agent_moves(text, expected) -> None:
    assert set(moves_of(text)) == expected


# -- the customer says it is solved: the stage closes --------------------------------------
AT_COMPANY = {"agent": 0.02, "company": 0.9, "person": 0.0, "group": 0.0, "none": 0.08}
AT_AGENT = {"agent": 0.9, "company": 0.05, "person": 0.0, "group": 0.0, "none": 0.05}
THANKS = {"emotions": {"gratitude": 0.9}, "sentiment": 0.7}

RESOLVED_CASES = [
    pytest.param(convo(("c", "that solved it, thank you")), "turn 1", id="alone"),
    pytest.param(  # an agent reply that matches no move ("Done, ... reversed") left it at listen
        convo(
            ("c", "I was charged twice for my order."),
            ("a", "Done, the duplicate charge has been reversed."),
            ("c", "that solved it, thank you"),
        ),
        "turn 3",
        id="after-unmatched-agent-reply",
    ),
    pytest.param(  # after an apology and an offer the step was clarify ("issue not clear")
        convo(
            ("c", "I was charged twice for my order."),
            ("a", "I'm sorry, I have refunded the duplicate charge."),
            ("c", "Fixed, thanks!"),
        ),
        "turn 3",
        id="after-offer",
    ),
    pytest.param(convo(("c", "Login broken"), ("a", "Try now?"), ("c", "works now")), "turn 3"),
    pytest.param(convo(("c", "Bill wrong"), ("a", "Updated."), ("c", "All good now :)")), "turn 3"),
    pytest.param(
        convo(("c", "Card blocked"), ("a", "Unblocked."), ("c", "sorted, cheers")), "turn 3"
    ),
]


@pytest.mark.parametrize(("conversation", "turn"), RESOLVED_CASES)
def test_resolved_closes_the_stage(conversation, turn) -> None:
    pos, got = next_step(make_signals(**THANKS), turns(situation(conversation)))
    assert (pos.stage, got.step) == ("close", "close"), got.why
    assert f"resolved in {turn} (customer)" in got.why[0], got.why


def test_resolved_from_context_closes_the_stage() -> None:
    sig = make_signals(**THANKS, resolved=True)
    pos, got = next_step(sig, turns(situation(convo(("c", "great, thanks a lot")))))
    assert (pos.stage, got.step) == ("close", "close") and "context.resolved" in got.why[0]


@pytest.mark.parametrize(
    ("text", "overrides"),
    [
        ("Is it fixed?", THANKS),  # a question
        ("It is still not fixed.", THANKS),  # a negation
        ("It should work now, right", THANKS),  # a condition, not a confirmation
        ("Thank you so much!", THANKS),  # thanks alone is not "solved"
        ("That fixed it, but I want my money back.", {"requests": {"refund": 0.9}}),  # new request
        ("Fixed, but I'm scared it will happen again.", {"emotions": {"anxiety": 0.8}}),  # anxious
        ("Fixed, you useless idiots.", {"abuse": {"insult": 0.9}}),  # new abuse
    ],
)
def test_not_resolved_does_not_close(text, overrides) -> None:
    pos, got = next_step(
        make_signals(**overrides), turns(situation(convo(("c", "Bill wrong"), ("c", text))))
    )
    assert pos.stage != "close" and got.step != "close", got.why


@pytest.mark.parametrize(
    ("text", "solved"),
    [
        ("that solved it, thank you", True),
        ("ok it's fixed", True),
        ("sorted!", True),
        ("it works now, thanks", True),
        ("all good now", True),
        ("is it fixed?", False),
        ("still not resolved", False),
        ("it isn't fixed", False),
        ("I was told it would be fixed by Monday", False),
        ("It is fixed now but my card was charged twice", False),
        ("please get it sorted", False),
    ],
)
def test_resolved_words(text, solved) -> None:
    assert (resolved_words(text) is not None) is solved


# -- boundary only for abuse at people; venting is acknowledged -----------------------------
def _step_for(conversation, **overrides):
    sig = make_signals(**overrides)
    ctx = sig.context
    assert ctx is not None
    return next_step(
        sig, turns(situation(conversation)), archetype=ctx.archetype.name, trajectory=ctx.trajectory
    )


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"abuse": {"profanity": 0.9, "offensive": 0.7}}, id="profanity-only"),
        pytest.param({"abuse": {"offensive": 0.95}}, id="offensive-only"),
        pytest.param(  # "What a GD scam company": an insult, aimed at the company
            {"abuse": {"insult": 0.8, "profanity": 0.6}, "target": AT_COMPANY}, id="at-company"
        ),
    ],
)
def test_venting_is_acknowledged_not_bounded(overrides) -> None:
    conversation = convo(("c", "They're STILL charging me! What a GD scam company!"))
    _, got = _step_for(conversation, emotions={"anger": 0.6}, causes=CLEAR, **overrides)
    assert got.step == "acknowledge", got.why
    assert any("venting" in w and "no boundary" in w for w in got.why), got.why
    assert any("aimed at the situation, not at you" in t for t in got.tactics), got.tactics
    assert not any("boundary" in t.lower() for t in got.tactics)


def test_venting_after_an_acknowledgement_in_an_earlier_turn_acknowledges_again() -> None:
    conversation = convo(
        ("c", "My parcel is late."),
        ("a", "I'm sorry about that. Could you confirm the order number?"),
        ("c", "It's 123."),
        ("a", "Thanks, let me check."),
        ("c", "Oh for f***'s sake, this bloody company."),
    )
    _, got = _step_for(conversation, abuse={"profanity": 0.9}, causes=CLEAR)
    assert got.step == "acknowledge", got.why


def test_abuse_at_the_agent_still_gets_a_boundary() -> None:
    _, got = _step_for(convo(("c", "You useless idiot.")), abuse={"insult": 0.9}, target=AT_AGENT)
    assert got.step == "boundary"
    assert "abuse at people 0.85" in got.why[0] and "aimed at the agent" in got.why[0], got.why


def test_earlier_abuse_strengthens_the_boundary() -> None:
    _, got = _step_for(convo(("c", "You idiot.")), abuse={"insult": 0.9}, earlier_abuse=2)
    assert got.step == "boundary"
    assert any("2 earlier message(s) with abuse at people" in w for w in got.why), got.why
    assert any("not the first time" in t for t in got.tactics), got.tactics


# -- conversation memory: an earlier threat keeps the step on safety ------------------------
THREAT_THEN_NUDGE = convo(
    ("c", "I will find you and break your face."),
    ("a", "I'm not able to continue if there are threats."),
    ("c", "Hello? anyone?"),
)


def test_earlier_threat_keeps_a_safety_step() -> None:
    _, got = _step_for(THREAT_THEN_NUDGE, emotions={"confusion": 0.47}, earlier_threat=0.92)
    assert got.step == "boundary", got.why
    assert "security is handling it" in got.instruction
    assert "do not engage on the threat" in got.instruction.lower()
    assert "context.earlier_threat 0.92" in got.why[0]
    assert not any("confusion" in t for t in got.tactics)  # a nudge's scores are noise


def test_threat_in_the_latest_message_after_a_boundary_stays_on_safety() -> None:
    conversation = convo(
        ("c", "I'll come to your office and hurt you."),
        ("a", "I'm not able to continue if there are threats."),
    )
    _, got = _step_for(conversation, abuse={"threat": 0.95})
    assert got.step == "boundary" and "security is handling it" in got.instruction, got.why


def test_a_cleared_or_weak_earlier_threat_does_not() -> None:
    _, got = _step_for(THREAT_THEN_NUDGE, earlier_threat=0.3)
    assert got.step == "acknowledge" and "wait" in got.instruction, got.why


def test_a_bare_nudge_acknowledges_the_wait() -> None:
    conversation = convo(("c", "My parcel is late."), ("c", "Hello?? anyone?"))
    _, got = _step_for(conversation, emotions={"confusion": 0.47})
    assert got.step == "acknowledge" and got.instruction.startswith("Acknowledge the wait")
    assert "waiting for a reply" in got.why[0]
    assert got.tactics == ()


@pytest.mark.parametrize(
    ("text", "nudge"),
    [
        ("Hello? anyone?", True),
        ("hello?", True),
        ("anyone?", True),
        ("??", True),
        ("Is anybody there?", True),
        ("hello? my order is late", False),
        ("Hi, I need help", False),
    ],
)
def test_is_nudge(text, nudge) -> None:
    assert is_nudge(text) is nudge


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("I cancelled my subscription last month and you are still charging me", True),
        ("Twice now, I’ve gone through the process of cancelling and they're STILL charging", True),
        ("It was already cancelled!", True),
        ("I want to cancel my subscription", False),
        ("I haven't cancelled anything", False),
        ("Please cancel my account", False),
    ],
)
def test_already_cancelled(text, done) -> None:
    got = already_cancelled(turns(situation(convo(("c", text)))))
    assert (got is not None) is done
