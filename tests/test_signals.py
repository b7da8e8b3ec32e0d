"""Behaviour on clear cases: what a support lead would expect the analysis to say."""

from __future__ import annotations

import pytest

CASES = [
    # (message, labels that must fire, labels that must not)
    ("Where can I download my invoice for October?", [], ["abusive", "complaint", "high_risk"]),
    ("Thank you so much, the agent sorted it out in minutes. Brilliant service!",
     ["grateful"], ["abusive", "complaint"]),
    ("You useless idiots, put me through to your manager NOW", ["abusive", "insult", "wants_manager"], []),
    ("I want my money back for the broken blender, this is ridiculous", ["wants_refund", "complaint"], ["abusive"]),
    ("If this isn't fixed today I'm posting it all over twitter and leaving a 1 star review",
     ["public_threat"], ["legal_threat"]),
    ("My attorney will be contacting you about the damaged car.", ["legal_threat"], ["public_threat"]),
    ("Please cancel my subscription effective immediately.", ["wants_to_cancel"], ["abusive"]),
    ("I know where you live and I will come and hurt you.", ["abusive", "threat", "high_risk"], []),
    ("What the fuck is wrong with your app", ["profanity"], []),
    ("I will kill you, idiot", ["abusive", "threat"], []),  # short and explicit
    ("I am going to sue your company", ["legal_threat"], ["threat"]),  # legal, not violent
    ("I'm going to shoot a video unboxing your product for my channel", [], ["threat"]),
    # a decisive phrase counts as much at the end of a long message as in a short one
    ("I have been a customer for ten years and every single time I call I get the runaround, the "
     "billing is wrong again and again, and honestly I am done; my attorney will be in touch this "
     "week about the overcharges.", ["legal_threat", "complaint"], []),
    ("Could I get a copy of your refund policy please?", [], ["abusive", "public_threat", "legal_threat"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "must", "must_not"), CASES)
def test_clear_cases(fast, text: str, must: list[str], must_not: list[str]) -> None:
    s = fast.analyze_many([text])[0]
    for label in must:
        assert label in s.labels, (label, s.labels)
    for label in must_not:
        assert label not in s.labels, (label, s.labels)


def test_sentiment_orders_messages(fast) -> None:
    good, neutral, bad = fast.analyze_many([
        "Wonderful, thank you, you've been so helpful!",
        "My order number is 5521.",
        "This is the worst service I have ever had, absolutely disgusting.",
    ])  # fmt: skip
    assert good.sentiment > neutral.sentiment > bad.sentiment
    assert good.sentiment_label == "positive" and bad.sentiment_label == "negative"


def test_risk_rises_with_escalation(fast) -> None:
    calm, angry = fast.analyze_many([
        "Hi, my parcel is a day late, any news?",
        "Third time asking. You idiots lost my parcel, I'm calling my lawyer and posting this everywhere.",
    ])  # fmt: skip
    assert angry.risk > 0.8 > 0.3 > calm.risk


def test_batch_risk_is_the_documented_formula(fast) -> None:
    """The vectorised risk equals gracedesk.analysis.risk.risk on the same probabilities."""
    from gracedesk.analysis.pipeline import HEADS
    from gracedesk.analysis.risk import risk

    texts = ["You idiots, I'm calling my lawyer", "thanks, all good", "cancel my account now"]
    P = fast.probabilities(texts)[0]
    for s, row in zip(fast.analyze_many(texts), P, strict=True):
        assert s.risk == round(risk(dict(zip(HEADS, row.tolist(), strict=True))), 4)
