"""Rule families: data validation, spans, and that key words gate the patterns."""

from __future__ import annotations

import pytest

from gracedesk.analysis.rules import RuleSet
from gracedesk.analysis.text import tokens
from gracedesk.errors import ModelError

RULES = RuleSet.default()

HITS = [
    # (text, family that must hit, the exact span it must point at)
    ("I want my money back", "requests.refund", "money back"),
    ("Let me speak to a supervisor please", "requests.manager", "speak to a supervisor"),
    ("please cancel my subscription", "requests.cancel", "cancel my subscription"),
    ("Can you waive the late fee?", "requests.policy_exception", "waive"),
    ("I'll be leaving a 1-star review on Trustpilot", "public_threat", "1-star"),
    ("My lawyer will hear about this", "legal_threat", "My lawyer"),
    ("watch your back", "abuse.threat", "watch your back"),
    ("you useless morons", "abuse.insult", "you useless morons"),
    ("what the f*ck", "abuse.profanity", "f*ck"),
    ("nobody told me anything", "causes.lack_of_information", "nobody told"),
    ("I was told it would be free", "causes.miscommunication", "I was told"),
    ("my daughter's wedding is tomorrow", "causes.personal_stress", "wedding"),
]


@pytest.mark.parametrize(("text", "family", "span"), HITS)
def test_family_hits_with_span(text: str, family: str, span: str) -> None:
    hits = [h for h in RULES.scan(text, set(tokens(text))) if h.family == family]
    assert hits, f"{family} did not fire on {text!r}"
    assert span in [text[h.start : h.end] for h in hits]


@pytest.mark.parametrize(
    "text",
    [
        "Could you send me the invoice for March?",  # routine request
        "The power of attorney form is attached.",  # 'attorney' not a legal threat
        "Thanks, the refund policy is clear now",  # mentions refund policy, asks nothing
    ],
)
def test_quiet_on_routine_text(text: str) -> None:
    fams = {h.family for h in RULES.scan(text, set(tokens(text)))}
    assert not fams & {
        "legal_threat",
        "public_threat",
        "abuse.threat",
        "abuse.insult",
        "requests.refund",
    }


def test_offsets_survive_case_changing_characters() -> None:
    text = "İstanbul office: I want my money back"  # 'İ'.lower() is two characters
    (hit,) = [
        h
        for h in RULES.scan(text, set(tokens(text)))
        if h.family == "requests.refund" and text[h.start : h.end] == "money back"
    ]
    assert text[hit.start : hit.end] == "money back"


def test_bad_rules_file_names_the_family() -> None:
    with pytest.raises(ModelError, match="broken"):
        RuleSet.from_dict(
            {"family": [{"name": "broken", "keys": ["a"], "patterns": ["(unclosed"]}]}
        )


def test_a_family_key_no_pattern_uses_is_harmless() -> None:
    """Family keys that every pattern overrides with its own keys trigger nothing."""
    rules = RuleSet.from_dict(
        {"family": [{"name": "f", "keys": ["name"], "patterns": [{"re": "x+", "keys": ["xx"]}]}]}
    )
    assert rules.scan("my name is x", {"my", "name", "is", "x"}) == []
    assert [h.family for h in rules.scan("xx", {"xx"})] == ["f"]
