"""The business-hours clock: nights, weekends, holidays, pauses and DST (zoneinfo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gracedesk.errors import InvalidFacts
from gracedesk.policy.schema import Calendar, Sla
from gracedesk.policy.sla import BusinessClock, clock_of, due

NY = ZoneInfo("America/New_York")
LON = ZoneInfo("Europe/London")
WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = Calendar(timezone="America/New_York", hours=WEEKDAYS, holidays=["2025-07-04"])
SPLIT = Calendar(
    timezone="Europe/London", hours={"mon": ["09:00-12:00", "13:00-17:00"], "tue": ["09:00-17:00"]}
)
ROUND = Calendar(
    timezone="America/New_York",
    hours={d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
)


def ny(*a: int) -> datetime:
    return datetime(*a, tzinfo=NY)  # type: ignore[misc]


ADD = [
    # (calendar, start, business minutes, expected due)
    (OFFICE, ny(2025, 3, 4, 10, 0), 60, ny(2025, 3, 4, 11, 0)),  # inside one day
    (OFFICE, ny(2025, 3, 4, 16, 30), 60, ny(2025, 3, 5, 9, 30)),  # crosses the night
    (OFFICE, ny(2025, 3, 4, 20, 0), 30, ny(2025, 3, 5, 9, 30)),  # starts after hours
    (OFFICE, ny(2025, 3, 7, 16, 0), 120, ny(2025, 3, 10, 10, 0)),  # crosses the weekend
    (OFFICE, ny(2025, 3, 8, 12, 0), 15, ny(2025, 3, 10, 9, 15)),  # starts on a Saturday
    (OFFICE, ny(2025, 7, 3, 16, 0), 120, ny(2025, 7, 7, 10, 0)),  # Friday 4 July is a holiday
    (OFFICE, ny(2025, 3, 4, 10, 0), 480 * 5, ny(2025, 3, 11, 10, 0)),  # a whole working week
    (OFFICE, ny(2025, 3, 7, 16, 0), 60, ny(2025, 3, 7, 17, 0)),  # ends exactly at closing
    (OFFICE, ny(2025, 3, 4, 10, 0), 0, ny(2025, 3, 4, 10, 0)),  # nothing to add
    # DST: 9-17 stays 9-17 local across the spring-forward weekend (8 -> 9 March 2025)
    (OFFICE, ny(2025, 3, 7, 16, 0), 120, ny(2025, 3, 10, 10, 0)),
    # round the clock: 9 March 2025 has 23 hours in New York (02:00 -> 03:00)
    (ROUND, ny(2025, 3, 9, 0, 0), 24 * 60, ny(2025, 3, 10, 1, 0)),
    # and 2 November 2025 has 25 hours (02:00 -> 01:00)
    (ROUND, ny(2025, 11, 2, 0, 0), 24 * 60, ny(2025, 11, 2, 23, 0)),
    # lunch break in a split day
    (SPLIT, datetime(2025, 3, 3, 11, 30, tzinfo=LON), 60, datetime(2025, 3, 3, 13, 30, tzinfo=LON)),
    # UTC input, local answer: 14:00 UTC is 09:00 in New York in winter
    (OFFICE, datetime(2025, 1, 7, 14, 0, tzinfo=UTC), 60, ny(2025, 1, 7, 10, 0)),
]


@pytest.mark.parametrize(("cal", "start", "minutes", "expected"), ADD)
def test_add_business_minutes(
    cal: Calendar, start: datetime, minutes: int, expected: datetime
) -> None:
    got = BusinessClock(cal).add(start, minutes)
    assert got == expected
    assert got.utcoffset() == expected.utcoffset()  # returned in the calendar's zone


BETWEEN = [
    # (start, end, expected business minutes)
    (ny(2025, 3, 4, 10, 0), ny(2025, 3, 4, 11, 0), 60),
    (ny(2025, 3, 4, 16, 0), ny(2025, 3, 5, 10, 0), 120),  # overnight
    (ny(2025, 3, 7, 16, 0), ny(2025, 3, 10, 10, 0), 120),  # weekend + DST change
    (ny(2025, 3, 8, 10, 0), ny(2025, 3, 9, 10, 0), 0),  # all weekend
    (ny(2025, 7, 4, 10, 0), ny(2025, 7, 4, 12, 0), 0),  # holiday
    (ny(2025, 3, 5, 10, 0), ny(2025, 3, 4, 10, 0), 0),  # end before start
]


@pytest.mark.parametrize(("start", "end", "expected"), BETWEEN)
def test_minutes_between(start: datetime, end: datetime, expected: float) -> None:
    assert BusinessClock(OFFICE).minutes_between(start, end) == expected


def test_pauses_do_not_count() -> None:
    clock = BusinessClock(OFFICE)
    start = ny(2025, 3, 4, 9, 0)
    pauses = [
        (ny(2025, 3, 4, 10, 0), ny(2025, 3, 4, 12, 0)),
        (ny(2025, 3, 4, 11, 0), ny(2025, 3, 4, 13, 0)),
    ]
    assert clock.minutes_between(start, ny(2025, 3, 4, 17, 0), pauses=pauses) == 480 - 180
    assert clock.add(start, 120, pauses=pauses) == ny(2025, 3, 4, 14, 0)


def test_add_and_between_agree() -> None:
    clock = BusinessClock(OFFICE)
    start = ny(2025, 3, 6, 15, 17)
    for minutes in (1, 59, 480, 1000, 5000):
        assert clock.minutes_between(start, clock.add(start, minutes)) == pytest.approx(minutes)


SLA = Sla(
    priorities=["urgent", "normal"],
    targets={
        "urgent": {
            "first_response_minutes": 15,
            "resolution_minutes": 240,
            "business_hours": False,
        },
        "normal": {"first_response_minutes": 240, "resolution_minutes": 960},
    },
)


def test_due_dates_per_priority() -> None:
    now = ny(2025, 3, 7, 16, 0)  # Friday afternoon
    urgent = due(SLA, OFFICE, "urgent", now=now)
    assert urgent.first_response_due == now + timedelta(minutes=15)  # round the clock
    assert urgent.resolution_due == now + timedelta(hours=4)
    normal = due(SLA, OFFICE, "normal", now=now, opened_at=ny(2025, 3, 7, 9, 0))
    assert normal.first_response_due == ny(2025, 3, 10, 12, 0)
    assert normal.resolution_due == ny(2025, 3, 10, 17, 0)  # 16 h from Friday 9:00
    with pytest.raises(InvalidFacts, match="no SLA target"):
        due(SLA, OFFICE, "low", now=now)


def test_naive_times_and_no_working_time_are_errors() -> None:
    with pytest.raises(InvalidFacts, match="time zone offset"):
        BusinessClock(OFFICE).add(datetime(2025, 3, 4, 10, 0), 10)
    only_holiday = Calendar(timezone="UTC", hours={"mon": ["09:00-10:00"]})
    clock = BusinessClock(only_holiday)
    clock.holidays = frozenset()  # a Monday-only calendar still finds its Monday
    assert clock.add(datetime(2025, 3, 4, tzinfo=UTC), 10) == datetime(
        2025, 3, 10, 9, 10, tzinfo=UTC
    )


def test_a_calendar_has_one_clock_that_answers_as_a_new_one() -> None:
    """``clock_of`` builds a calendar's clock once (every message reads it); its days kept
    give the answers a fresh clock gives, again and again."""
    kept = clock_of(OFFICE)
    assert clock_of(OFFICE) is kept
    assert clock_of(OFFICE, always_open=True) is not kept
    assert clock_of(OFFICE, always_open=True).always_open
    for cal, start, minutes, expected in ADD:
        for _ in range(2):  # the second time from the days the clock kept
            assert clock_of(cal).add(start, minutes) == expected
            assert clock_of(cal).minutes_between(start, expected) == pytest.approx(
                BusinessClock(cal).minutes_between(start, expected)
            )
