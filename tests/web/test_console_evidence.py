"""Evidence highlighting and the console's template filters (no browser needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gracedesk.model.signals import HIGH_RISK, MEDIUM_RISK
from gracedesk.web.console_evidence import Segment, family, highlight, risk_level
from gracedesk.web.console_render import due, stamped, templates, when

TEXT = "You idiots, I want a refund or I'll call my lawyer."


def ev(signal: str, start: int | str, end: int | None = None) -> dict[str, Any]:
    """Evidence for ``TEXT[start:end]``, or for the first occurrence of the word ``start``."""
    if isinstance(start, str):
        start, end = TEXT.index(start), TEXT.index(start) + len(start)
    assert end is not None
    return {"signal": signal, "start": start, "end": end, "text": TEXT[start:end]}


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        ("abuse.insult", "abuse"),  # abuse.* -> abuse
        ("requests.refund", "request"),  # requests.* -> request
        ("public_threat", "threat"),  # the two threats
        ("legal_threat", "threat"),
        ("emotions.anger", "emotion"),  # emotions.* -> emotion
        ("complaint", "other"),  # everything else
        ("causes.poor_service", "other"),
    ],
)
def test_family(signal: str, expected: str) -> None:
    assert family(signal) == expected


@pytest.mark.parametrize(
    ("evidence", "marked"),
    [
        # no evidence: the text as one plain segment
        ([], []),
        # one span
        ([ev("abuse.insult", 4, 10)], [("idiots", "abuse", "abuse.insult")]),
        # overlapping spans of one family merge, titles joined
        (
            [ev("abuse.insult", 0, 10), ev("abuse.offensive", 4, 10)],
            [("You idiots", "abuse", "abuse.insult, abuse.offensive")],
        ),
        # across families the more serious wins; the overlapped emotion span is skipped
        (
            [ev("emotions.anger", 0, 10), ev("abuse.insult", 4, 10), ev("legal_threat", "lawyer")],
            [("idiots", "abuse", "abuse.insult"), ("lawyer", "threat", "legal_threat")],
        ),
        # touching spans of different families both stay
        (
            [ev("requests.refund", 19, 27), ev("emotions.anger", 12, 19)],
            [("I want ", "emotion", "emotions.anger"), ("a refund", "request", "requests.refund")],
        ),
        # spans outside the text, empty, reversed or malformed are ignored
        (
            [
                ev("abuse.insult", 40, 400),
                ev("abuse.insult", 5, 5),
                ev("abuse.insult", 9, 3),
                {"x": 1},
            ],
            [],
        ),
    ],
)
def test_highlight(evidence: list[dict[str, Any]], marked: list[tuple[str, str, str]]) -> None:
    segments = highlight(TEXT, evidence)
    assert "".join(s.text for s in segments) == TEXT  # nothing added or lost
    assert [(s.text, s.family, s.title) for s in segments if s.family] == marked


def test_highlight_of_empty_text() -> None:
    assert highlight("", [ev("abuse.insult", 0, 3)]) == [Segment("")]


def test_evidence_text_is_escaped_and_marked() -> None:
    text = "<img src=x onerror=alert(1)> idiots & co"
    start = text.index("idiots")
    html = (
        templates()
        .env.get_template("_macros.html")
        .module.evidence_text(  # type: ignore[attr-defined]
            text, [{"signal": "abuse.insult", "start": start, "end": start + 6}]
        )
    )
    assert str(html) == (
        '<div class="message">&lt;img src=x onerror=alert(1)&gt; '
        '<mark class="ev ev-abuse" title="abuse.insult">idiots</mark> &amp; co</div>'
    )


def macro(name: str) -> Any:
    return getattr(templates().env.get_template("_macros.html").module, name)


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        (0.98, "high"),
        (0.57, "high"),  # labelled high_risk by the analysis: the badge says high too
        (HIGH_RISK, "high"),
        (0.49, "medium"),
        (MEDIUM_RISK, "medium"),
        (0.29, "low"),
        (0.0, "low"),
        (None, "neutral"),
    ],
)
def test_risk_level_uses_the_high_risk_line(risk: float | None, expected: str) -> None:
    assert risk_level(risk) == expected
    html = str(macro("risk_badge")(risk))
    assert f"badge-{expected} risk" in html


def test_an_escalation_without_a_packet_says_none_was_recorded() -> None:
    html = str(macro("packet_view")(None))
    assert "No hand-over packet recorded for this escalation." in html


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T15:00:00+00:00", "in 3 h"),  # hours ahead
        ("2026-12-01T11:48:00+00:00", "12 min ago"),  # minutes behind
        ("2026-12-04T12:00:00+00:00", "in 3 d"),  # days ahead
        ("2026-12-01T12:00:20+00:00", "now"),  # under a minute
        (None, "—"),  # no deadline
    ],
)
def test_due(value: str | None, expected: str) -> None:
    assert due(value, NOW) == expected


def test_when_and_stamped() -> None:
    assert when("2026-12-01T21:42:12.514870+00:00") == "Tue 1 Dec 21:42 UTC"
    assert when("2026-12-01T22:42:00+01:00") == "Tue 1 Dec 21:42 UTC"  # shown in UTC
    assert (
        stamped("2026-12-01T21:42:12.514870+00:00: Where is it?")
        == "Tue 1 Dec 21:42 UTC: Where is it?"
    )
    assert stamped("no time: here") == "no time: here"
