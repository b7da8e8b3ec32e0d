"""The connectors' pure parts: timestamps, odd headers, HTML bodies, the note's content."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gracedesk.channels.connectors import adapter, markup
from gracedesk.channels.connectors.base import fresh, ident
from gracedesk.channels.connectors.notes import compose
from gracedesk.errors import BadSignature, InvalidRequest
from gracedesk.service.desk import Posted

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "ok"),
    [
        (str(int(NOW.timestamp())), True),  # Chatwoot: Unix seconds
        ("2026-11-23T09:04:59Z", True),  # Zendesk: ISO 8601, 4:59 ahead
        ("2026-11-23T08:55:00Z", True),  # exactly five minutes old
        ("2026-11-23T08:54:59Z", False),  # one second more
        ("2026-11-23T09:05:01+00:00", False),  # ahead by more than five minutes
        ("yesterday", False),  # not a time
        ("9" * 30, False),  # out of range
    ],
)
def test_signed_timestamps_within_five_minutes_only(stamp: str, ok: bool) -> None:
    if ok:
        fresh(stamp, now=NOW, name="ts")
    else:
        with pytest.raises(BadSignature):
            fresh(stamp, now=NOW, name="ts")


@pytest.mark.parametrize("kind", ["chatwoot", "zammad", "zendesk", "freshdesk", "helpscout"])
def test_odd_signature_headers_are_bad_signatures_not_errors(kind: str) -> None:
    ts = NOW.strftime("%Y-%m-%dT%H:%M:%SZ") if kind == "zendesk" else str(int(NOW.timestamp()))
    odd = "sha1=\u00fc\u00ff" + "\x00"
    headers = {
        "x-chatwoot-signature": odd,
        "x-chatwoot-timestamp": ts,
        "x-hub-signature": odd,
        "x-zendesk-webhook-signature": odd,
        "x-zendesk-webhook-signature-timestamp": ts,
        "x-gracedesk-secret": odd,
        "x-helpscout-signature": odd,
    }
    with pytest.raises(BadSignature):
        adapter(kind).verify(headers, b"{}", "secret", now=NOW)


@pytest.mark.parametrize(
    "value",
    ["", "a/b", "../x", "1 2", "x" * 101, True, None, 1.5, {"id": 1}],
)
def test_ids_must_be_plain_they_end_up_in_api_paths(value: object) -> None:
    with pytest.raises(InvalidRequest):
        ident(value, "id")


def test_html_bodies_become_text_and_notes_become_escaped_html() -> None:
    body = "<div>Hi &amp; hello,</div><p>line  two<br>three</p><script>alert(1)</script>"
    assert markup.to_text(body) == "Hi & hello,\n\nline two\nthree"
    assert markup.to_text("plain  text stays") == "plain  text stays"
    assert markup.to_html('a <b> & "c"\nd') == "a &lt;b&gt; &amp; &quot;c&quot;<br>\nd"


def test_the_note_says_what_the_desk_saw_and_decided() -> None:
    posted = Posted(
        message_id=1,
        conversation_id=1,
        created=True,
        analysis="done",
        signals={
            "risk": 0.91,
            "labels": ["angry", "wants_refund"],
            "evidence": [
                {"signal": "emotions.anger", "text": "useless"},  # only repeats a label
                {"signal": "requests.refund", "text": "Refund me"},
                {"signal": "complaint", "text": "charged me twice"},
            ],
        },
        decisions=[
            {"action": "set_priority", "priority": "normal", "rule_id": "default", "reason": "-"},
            {"action": "set_priority", "priority": "high", "rule_id": "refund", "reason": "r"},
            {"action": "route", "target": "billing", "rule_id": "refund", "reason": "r"},
        ],
        guidance={
            "next_step": {"step": "acknowledge", "instruction": "Say what went wrong."},
            "phrases": [{"text": "I can see why that is frustrating."}],
            "handover": {"issue": "double charge"},
        },
    )
    note = compose(posted, priorities=["urgent", "high", "normal", "low"])
    assert note.text.splitlines() == [
        "[gracedesk] risk 0.91 · labels: angry, wants_refund",
        "Evidence: “Refund me” (requests.refund); “charged me twice” (complaint)",
        "Decisions:",
        "- set_priority normal [rule default]: -",
        "- set_priority high [rule refund]: r",
        "- route billing [rule refund]: r",
        "Next step: acknowledge: Say what went wrong.",
        "Suggested phrase: “I can see why that is frustrating.”",
    ]  # no hand-over: nothing escalated
    assert note.tags == ("gracedesk-angry", "gracedesk-wants_refund")
    assert note.priority == "high"  # a rule's, never the policy default's
