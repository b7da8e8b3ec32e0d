"""The playbook: conversations (turns + signals) -> stage and next step, with the reasons."""

from __future__ import annotations

import pytest

from gracedesk.guidance.conversation import moves_of, turns
from gracedesk.guidance.playbook import next_step
from test_guidance_support import NOW, convo, make_signals

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
        sig, turns(conversation, NOW), archetype=ctx.archetype.name, trajectory=ctx.trajectory
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
