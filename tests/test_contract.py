"""The Signals contract v1: keys, ranges, evidence offsets, for both tiers."""

from __future__ import annotations

import json

import pytest

import gracedesk
from gracedesk.analysis.samples import SAMPLES
from gracedesk.model import ABUSE, CAUSES, EMOTIONS, EMOTIONS_FINE, REQUESTS

TOP_KEYS = [
    "id", "sentiment", "sentiment_label", "emotions", "emotions_fine", "abuse", "abuse_target",
    "complaint", "causes", "requests", "public_threat", "legal_threat", "risk", "labels",
    "evidence", "language", "model",
]  # fmt: skip


def check_contract(d: dict, text: str) -> None:
    assert list(d) == TOP_KEYS
    assert -1.0 <= d["sentiment"] <= 1.0
    assert d["sentiment_label"] in ("negative", "neutral", "positive")
    assert list(d["emotions"]) == list(EMOTIONS)
    assert list(d["emotions_fine"]) == list(EMOTIONS_FINE)
    assert list(d["abuse"]) == list(ABUSE)
    assert list(d["causes"]) == list(CAUSES)
    assert list(d["requests"]) == list(REQUESTS)
    probs = [
        *d["emotions"].values(), *d["emotions_fine"].values(), *d["abuse"].values(),
        *d["causes"].values(), *d["requests"].values(),
        d["complaint"], d["public_threat"], d["legal_threat"], d["risk"],
    ]  # fmt: skip
    assert all(0.0 <= p <= 1.0 for p in probs)
    for ev in d["evidence"]:
        assert text[ev["start"] : ev["end"]] == ev["text"]
        assert ev["text"].strip()
    json.dumps(d)  # serialisable


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_contract_on_samples(tier: str) -> None:
    sigs = gracedesk.analyze_many(SAMPLES, tier=tier)
    assert len(sigs) == len(SAMPLES)
    for s, text in zip(sigs, SAMPLES, strict=True):
        check_contract(s.to_dict(), text)
        assert s.model.endswith(tier)


def test_every_label_has_evidence(fast) -> None:
    """Each fired label (except the risk summary) points at words of the message."""
    for s, text in zip(fast.analyze_many(SAMPLES), SAMPLES, strict=True):
        signals = {e.signal for e in s.evidence}
        fired = [k for k, v in s.abuse.items() if v >= 0.5]
        for a in fired:
            assert f"abuse.{a}" in signals, (text, a)
        for r, v in s.requests.items():
            if v >= 0.5:
                assert f"requests.{r}" in signals, (text, r)


def test_analyze_equals_analyze_many(fast) -> None:
    one = [gracedesk.analyze(t).to_dict() for t in SAMPLES[:5]]
    many = [s.to_dict() for s in gracedesk.analyze_many(SAMPLES[:5])]
    assert one == many


def test_deterministic(fast) -> None:
    a = [s.to_dict() for s in fast.analyze_many(SAMPLES)]
    b = [s.to_dict() for s in fast.analyze_many(list(reversed(SAMPLES)))][::-1]
    assert a == b


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-11-23T09:00:00Z", "2026-11-23T09:00:00+00:00"),  # Z suffix
        ("2026-11-23T09:00:00z", "2026-11-23T09:00:00+00:00"),  # lower-case z
        ("2026-11-23T09:00:00", "2026-11-23T09:00:00+00:00"),  # no offset: UTC
        (" 2026-11-23T10:00:00+01:00 ", "2026-11-23T10:00:00+01:00"),  # offset kept, spaces cut
    ],
)
def test_parse_iso(text: str, iso: str) -> None:
    from gracedesk.model.clock import parse_iso

    assert parse_iso(text).isoformat() == iso


def test_parse_iso_rejects_garbage() -> None:
    from gracedesk.model.clock import parse_iso

    with pytest.raises(ValueError):
        parse_iso("next tuesday")
