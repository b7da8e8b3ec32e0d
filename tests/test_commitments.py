"""Commitments: time phrases -> deadlines across nights, weekends and time zones."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from gracedesk.errors import InvalidCoachContext
from gracedesk.guidance.commitments import BusinessCalendar, extract_commitments, find_times

FRI_1630 = "2026-11-20T16:30:00"  # a Friday, 16:30 local
MON_1000 = "2026-11-23T10:00:00"  # a Monday morning
SAT_1100 = "2026-11-21T11:00:00"  # a Saturday

DUE = [
    # (draft, now (local), zone, expected due (local ISO))
    (
        "I'll call you back tomorrow by noon.",
        FRI_1630,
        "Europe/London",
        "2026-11-21T12:00:00+00:00",
    ),
    ("We'll reply within 48 hours.", FRI_1630, "UTC", "2026-11-22T16:30:00+00:00"),
    ("I'll send it by Friday.", MON_1000, "UTC", "2026-11-27T17:00:00+00:00"),
    ("I'll send it by Friday.", "2026-11-20T18:00:00", "UTC", "2026-11-27T17:00:00+00:00"),
    ("You'll have it by end of day.", FRI_1630, "UTC", "2026-11-20T17:00:00+00:00"),
    # after close on Friday, end of day rolls to Monday's close
    ("You'll have it by end of day.", "2026-11-20T17:30:00", "UTC", "2026-11-23T17:00:00+00:00"),
    # business days stop the clock at night and over the weekend
    ("It will be fixed in 3 business days.", MON_1000, "UTC", "2026-11-26T10:00:00+00:00"),
    ("It will be fixed in 1 business day.", FRI_1630, "UTC", "2026-11-23T16:30:00+00:00"),
    ("It will be fixed within 1 business day.", SAT_1100, "UTC", "2026-11-23T17:00:00+00:00"),
    ("We will ship it next week.", MON_1000, "UTC", "2026-12-04T17:00:00+00:00"),
    ("Refunds take 3-5 business days to arrive.", MON_1000, "UTC", "2026-11-30T10:00:00+00:00"),
    ("I'll call you next Tuesday at 6pm.", FRI_1630, "UTC", "2026-11-24T18:00:00+00:00"),
    (
        "An engineer will visit tomorrow between 8am and 12pm.",
        FRI_1630,
        "UTC",
        "2026-11-21T12:00:00+00:00",
    ),
    ("We'll answer within the hour.", FRI_1630, "UTC", "2026-11-20T17:30:00+00:00"),
    ("It will ship by 20 May.", FRI_1630, "Europe/Paris", "2027-05-20T17:00:00+02:00"),
    ("I'll update you by 3pm.", MON_1000, "UTC", "2026-11-23T15:00:00+00:00"),
    ("I'll update you by 3pm.", "2026-11-23T16:00:00", "UTC", "2026-11-24T15:00:00+00:00"),
    # a clock time after "at" is a timeline too, and a day after the time is read
    ("I will check back with you at 17:30.", MON_1000, "UTC", "2026-11-23T17:30:00+00:00"),
    ("I'll call you at 3pm.", "2026-11-23T16:00:00", "UTC", "2026-11-24T15:00:00+00:00"),
    ("I'll email you by 17:30 tomorrow.", MON_1000, "UTC", "2026-11-24T17:30:00+00:00"),
    ("I'll ring you at 9am tomorrow.", FRI_1630, "UTC", "2026-11-21T09:00:00+00:00"),
    ("I'll call you at 11:00 today.", MON_1000, "UTC", "2026-11-23T11:00:00+00:00"),
]


@pytest.mark.parametrize(("draft", "now", "tz", "due"), DUE)
def test_due_dates(draft: str, now: str, tz: str, due: str) -> None:
    (c,) = extract_commitments(draft, now=datetime.fromisoformat(now), tz=tz)
    assert c.due is not None and c.due.isoformat() == due, c
    assert draft[c.start : c.end] == c.text
    assert c.when in c.text


def test_aware_now_is_converted_to_the_customer_zone() -> None:
    # 23:30 UTC on Friday is 18:30 in New York: "by end of day" there is Monday 17:00 EST
    now = datetime.fromisoformat("2026-11-20T23:30:00+00:00")
    (c,) = extract_commitments("Done by end of day, I promise.", now=now, tz="America/New_York")
    assert c.due is not None and c.due.isoformat() == "2026-11-23T17:00:00-05:00"
    # and in Tokyo it is already Saturday 08:30: end of day is Monday 17:00 JST
    (c,) = extract_commitments("Done by end of day, I promise.", now=now, tz="Asia/Tokyo")
    assert c.due is not None and c.due.isoformat() == "2026-11-23T17:00:00+09:00"


def test_configurable_calendar() -> None:
    # a Sunday–Thursday desk open 08:00–16:00
    cal = BusinessCalendar(days=frozenset({6, 0, 1, 2, 3}), open=time(8), close=time(16))
    now = datetime.fromisoformat("2026-11-19T15:00:00")  # Thursday 15:00
    (c,) = extract_commitments("We will reply in 2 business hours.", now=now, calendar=cal)
    assert c.due is not None and c.due.isoformat() == "2026-11-22T09:00:00+00:00"  # Sunday


@pytest.mark.parametrize(
    "draft",
    [
        "Our store opens at 9am.",  # no promise, no deadline
        "We sent it on Monday.",  # past
        "Please read the 30-day policy.",  # a duration that is not a deadline
        "Thanks for your patience!",
    ],
)
def test_no_commitment(draft: str) -> None:
    assert extract_commitments(draft, now=datetime(2026, 11, 20, 10)) == []


def test_due_is_none_without_now() -> None:
    (c,) = extract_commitments("I'll call you tomorrow.")
    assert c.due is None and c.when == "tomorrow"


def test_times_found() -> None:
    found = [t.kind for t in find_times("Within 2 days, by Friday, or next week.")]
    assert found == ["duration", "weekday", "next_week"]


def test_bad_zone_or_calendar() -> None:
    with pytest.raises(InvalidCoachContext):
        extract_commitments("I'll call you tomorrow.", now=datetime(2026, 1, 1), tz="Nowhere/Land")
    with pytest.raises(InvalidCoachContext):
        BusinessCalendar(days=frozenset())  # no working day
    with pytest.raises(InvalidCoachContext):
        BusinessCalendar(open=time(18), close=time(9))  # opens after it closes
