"""Conversation context: archetypes with reasons, trajectory, repeat contacts."""

from __future__ import annotations

import pytest

from gracedesk.errors import InvalidContext


def test_new_conversation(fast) -> None:
    s = fast.analyze("Hello, my card was declined.", context={"messages": []})
    assert s.context is not None
    assert s.context.trajectory == "new"
    assert s.context.repeat_contacts == 0
    assert s.context.archetype.name == "none"


def test_serial_complainer_from_history(fast) -> None:
    ctx = {
        "messages": [
            {"role": "customer", "text": "The delivery was late again, unacceptable."},
            {"role": "agent", "text": "I'm sorry, I'll check."},
            {"role": "customer", "text": "And the last order arrived damaged. Terrible service."},
        ],
        "customer": {"complaints_90d": 5},
    }
    s = fast.analyze("Still waiting. This is a disgrace.", context=ctx)
    assert s.context.archetype.name == "serial_complainer"
    assert any("90 days" in r for r in s.context.archetype.reasons)
    assert s.context.repeat_contacts == 2
    assert len(s.context.sentiment_trend) == 3


def test_aggressive_and_escalating(fast) -> None:
    ctx = {"messages": ["Hi, my order hasn't arrived yet, could you check?"]}
    s = fast.analyze("You lying idiots, I'll come down there and you'll regret it!", context=ctx)
    assert s.context.archetype.name == "aggressive"
    assert s.context.trajectory == "escalating"
    assert (
        s.risk
        >= fast.analyze_many(["You lying idiots, I'll come down there and you'll regret it!"])[
            0
        ].risk
    )


def test_indecisive(fast) -> None:
    ctx = {
        "messages": [
            "I'd like a refund please.",
            "Actually, maybe an exchange instead? Not sure if that's faster.",
        ]
    }
    s = fast.analyze(
        "Hmm, on second thought I changed my mind, refund after all. Or should I wait?", context=ctx
    )
    assert s.context.archetype.name == "indecisive"
    assert s.context.archetype.reasons


@pytest.mark.parametrize(
    "ctx",
    [
        "not an object",  # a string
        {"messages": "hello"},  # messages must be a list
        {"messages": [{"role": "customer", "text": 5}]},  # text must be a string
        {"customer": {"complaints_90d": "many"}},  # numbers must be numbers
    ],
)
def test_bad_context_is_a_clear_error(fast, ctx) -> None:
    with pytest.raises(InvalidContext):
        fast.analyze("hello", context=ctx)
