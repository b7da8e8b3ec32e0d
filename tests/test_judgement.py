"""Judgement models: obfuscation, repetition, emoji, long texts, evidence on the right words."""

from __future__ import annotations

import numpy as np
import pytest

from gracedesk.analysis.emoji import describe
from gracedesk.analysis.evidence import token_spans
from gracedesk.analysis.text import normalize, spans, tokens
from gracedesk.analysis.vectorizer import Vectorizer, char_grams
from gracedesk.eval.metrics import span_f1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You IDIOTS", ["you", "idiots"]),  # case
        ("idiots!!!", ["idiots", "!!!"]),  # trailing shouting
        ("1d10ts", ["idiots"]),  # leetspeak
        ("sh1t", ["shit"]),
        ("i d i o t s", ["idiots"]),  # spaced letters
        ("sooooo bad", ["soo", "bad"]),  # elongation cut to two letters
        ("call me at 4pm on the 3rd", ["call", "me", "at", "4pm", "on", "the", "3rd"]),  # units
        ("my mp3 player", ["my", "mp3", "player"]),  # names with numbers stay
        ("I am a b c", ["i", "am", "a", "b", "c"]),  # three single letters are not a word
    ],
)
def test_tokens_read_obfuscation_as_the_plain_word(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_spans_point_at_the_original_characters() -> None:
    text = "you 1d10ts and i d i o t s"
    got = [(text[s:e], tok) for s, e, tok in spans(text)]
    assert got == [("you", "you"), ("1d10ts", "idiots"), ("and", "and"),
                   ("i d i o t s", "idiots")]  # fmt: skip
    assert normalize("hello") == "hello"


def test_presence_features_do_not_grow_with_repetition() -> None:
    docs = [["this", "is", "unacceptable"], ["refund", "now"]] * 3
    vec = Vectorizer(min_df=1).fit(docs)
    once = vec.transform([["this", "is", "unacceptable"]])
    many = vec.transform([["this", "is", "unacceptable"] * 500])
    W = np.random.default_rng(1).normal(size=(vec.n_features, 4)).astype(np.float32)
    from gracedesk.analysis.heads import dot

    # the only new feature is the pair "unacceptable this" across the repeats
    assert np.abs(dot(once, W) - dot(many, W)).max() < 1.5
    assert set(once.ids.tolist()) <= set(many.ids.tolist())
    assert many.values.max() <= once.values.max() + 1e-6


def test_char_grams_are_shared_by_spelling_variants() -> None:
    docs, buckets = char_grams([["idiots"], ["idiotz"], ["refund"]], 17)
    a = set(buckets[docs == 0].tolist())
    b = set(buckets[docs == 1].tolist())
    c = set(buckets[docs == 2].tolist())
    assert len(a & b) >= 6 and not a & c
    # deterministic: the same words hash to the same buckets every time
    assert char_grams([["idiots"]], 17)[1].tolist() == sorted(a)


def test_emoji_are_read_as_words() -> None:
    assert describe("plain ascii") == ""
    assert describe("😡😡🤬") == " (furious angry, furious cursing angry)"
    assert "thank you" in describe("merci 🙏")
    assert "angry" in tokens(describe("😡"))


def test_span_f1_is_the_semeval_metric() -> None:
    assert span_f1(set(), set()) == 1.0
    assert span_f1({1}, set()) == 0.0
    assert span_f1(set(), {1}) == 0.0
    assert span_f1({1, 2, 3, 4}, {3, 4}) == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_token_spans_widen_to_words_and_join_neighbours() -> None:
    text = "you stupid idiot, fix it"
    # word pieces: you | stu ##pid | idiot | , | fix | it
    offsets = np.array([[0, 3], [4, 7], [7, 10], [11, 16], [16, 17], [18, 21], [22, 24]])
    flagged = np.array([False, True, False, True, True, False, False])
    assert token_spans(text, offsets, flagged) == [(4, 16)]
    # pieces past the end of the text (appended emoji words) are ignored
    assert token_spans("ok", np.array([[0, 2], [3, 8]]), np.array([False, True])) == []


# --- the shipped models ------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_obfuscated_insults_read_alike(tier: str) -> None:
    from gracedesk.analysis.pipeline import get_analyzer

    an = get_analyzer(tier)
    sigs = an.analyze_many(["you idiots", "You IDIOTS", "you idiots!!!", "you 1d10ts",
                            "you i d i o t s"])  # fmt: skip
    insult = [s.abuse["insult"] for s in sigs]
    assert min(insult) > 0.5, insult


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_repetition_does_not_saturate(tier: str) -> None:
    from gracedesk.analysis.pipeline import HEADS, get_analyzer

    an = get_analyzer(tier)
    one = "This is unacceptable."
    P = an.probabilities([one, " ".join([one] * 80)])[0]
    assert np.abs(P[0] - P[1]).max() < 0.25, HEADS[int(np.abs(P[0] - P[1]).argmax())]
    assert P[1, HEADS.index("abuse.insult")] < 0.5
    assert P[1, HEADS.index("public_threat")] < 0.5


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_emoji_carry_sentiment_and_emotion(tier: str) -> None:
    from gracedesk.analysis.pipeline import get_analyzer

    an = get_analyzer(tier)
    angry, thanks = an.analyze_many(["😡😡😡🤬🤬", "🙏🙏"])
    assert angry.sentiment < -0.3 and angry.emotions["anger"] > 0.3
    assert thanks.sentiment > 0.3


@pytest.mark.parametrize("tier", ["fast", "accurate"])
def test_function_words_are_never_abuse_evidence(tier: str) -> None:
    from gracedesk.analysis.pipeline import get_analyzer

    an = get_analyzer(tier)
    text = ("Twice now, I've gone through the process of cancelling and you morons "
            "still charge me every month.")  # fmt: skip
    sig = an.analyze(text)
    marked = {e.text.lower() for e in sig.evidence if e.signal.startswith("abuse.")}
    assert not marked & {"twice", "now", "through", "the", "of", "and", "you", "me"}


def test_long_messages_are_read_whole() -> None:
    """A message longer than the encoder's window is split, not cut: an insult at its end
    still counts, and its evidence points into the text."""
    from gracedesk.analysis.pipeline import get_analyzer

    an = get_analyzer("accurate")
    filler = "I ordered the blue model last spring and it worked until the update. " * 30
    text = filler + "You are all useless idiots."
    sig = an.analyze(text)
    assert "abusive" in sig.labels and max(sig.abuse.values()) > 0.5
    for e in sig.evidence:
        assert text[e.start : e.end] == e.text


@pytest.mark.parametrize(
    "tier",
    [
        # known miss, kept visible (docs/models.md, limits): the distilled fast tier still lets
        # the refund and manager words outweigh the insult here (offensive 0.48)
        pytest.param("fast", marks=pytest.mark.xfail(strict=True, reason="known miss")),
        "accurate",
    ],
)
def test_an_insult_is_not_lost_among_requests(tier: str) -> None:
    from gracedesk.analysis.pipeline import get_analyzer

    sig = get_analyzer(tier).analyze(
        "You IDIOTS lost my package AGAIN. I want a refund and your manager, now."
    )
    assert {"abusive", "wants_refund", "wants_manager"} <= set(sig.labels)
    abuse = [e.text for e in sig.evidence if e.signal.startswith("abuse.")]
    assert abuse and all(t == "IDIOTS" for t in abuse)


@pytest.mark.parametrize("tier", ["fast", "accurate"])
@pytest.mark.parametrize(
    ("text", "higher", "lower"),
    [
        # negation
        ("I'm not angry, just confused about the bill.", "confusion", "anger"),
        # sarcasm reads as a complaint, not as joy
        ("Oh great, another delay. Just what I needed.", "complaint", "joy"),
    ],
)
def test_negation_and_sarcasm(tier: str, text: str, higher: str, lower: str) -> None:
    from gracedesk.analysis.pipeline import get_analyzer

    sig = get_analyzer(tier).analyze(text)
    scores = {**sig.emotions, "complaint": sig.complaint}
    assert scores[higher] > scores[lower], scores
    if higher == "complaint":
        # the sarcastic complaint is caught; its sentiment still reads positive (a known miss)
        assert "complaint" in sig.labels
