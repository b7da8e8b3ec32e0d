"""The business-hours clock: SLA due times from ``now``, a priority and a calendar.

Working windows are local wall-clock times in the calendar's zone (``zoneinfo``), so a 09:00-17:00
day stays 09:00-17:00 across DST changes, and a 00:00-24:00 day is 23 or 25 hours long on the
days the clocks change. Holidays are whole local days off. ``pauses`` are intervals that never
count (time spent waiting on the customer). All arithmetic is done in UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gracedesk.errors import InvalidFacts
from gracedesk.policy.schema import WEEKDAYS, Calendar, Sla

Interval = tuple[datetime, datetime]
# A calendar with working hours on at least one weekday finds a window within a few weeks unless
# every such day is a holiday; stop after ten years rather than loop for ever.
MAX_DAYS = 3660


def _aware(t: datetime, name: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidFacts(f"{name} must carry a time zone offset: {t.isoformat()}")
    return t.astimezone(UTC)


def _merge(pauses: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted((_aware(a, "pause start"), _aware(b, "pause end")) for a, b in pauses):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _minus(seg: Interval, pauses: Sequence[Interval]) -> Iterator[Interval]:
    a, b = seg
    for pa, pb in pauses:
        if pb <= a:
            continue
        if pa >= b:
            break
        if pa > a:
            yield a, pa
        a = max(a, pb)
        if a >= b:
            return
    if a < b:
        yield a, b


DAYS_KEPT = 1024  # days whose working intervals a clock keeps


def clock_of(calendar: Calendar, *, always_open: bool = False) -> BusinessClock:
    """The :class:`BusinessClock` of ``calendar``, built once per calendar (a policy's calendar
    is read for every message: its due times, SLA and follow-ups)."""
    key = (id(calendar), always_open)
    with _CLOCKS_LOCK:
        hit = _CLOCKS.get(key)
        if hit is None or hit[0] is not calendar:  # the calendar is kept: its id is not reused
            if len(_CLOCKS) >= CLOCKS_KEPT:
                _CLOCKS.clear()
            hit = _CLOCKS[key] = (calendar, BusinessClock(calendar, always_open=always_open))
    return hit[1]


CLOCKS_KEPT = 64
_CLOCKS: dict[tuple[int, bool], tuple[Calendar, BusinessClock]] = {}
_CLOCKS_LOCK = threading.Lock()


class BusinessClock:
    """Working time of one calendar; ``always_open`` counts every minute (round the clock)."""

    def __init__(self, calendar: Calendar, *, always_open: bool = False) -> None:
        self.zone = ZoneInfo(calendar.timezone)
        self.always_open = always_open
        self.holidays = frozenset(calendar.holidays)
        self.hours: dict[int, list[tuple[time, time | None]]] = {}
        for day, windows in calendar.hours.items():
            spans: list[tuple[time, time | None]] = []
            for w in sorted(windows):
                start, end = w.split("-")
                spans.append(
                    (time.fromisoformat(start), None if end == "24:00" else time.fromisoformat(end))
                )
            self.hours[WEEKDAYS.index(day)] = spans
        self._days: dict[date, tuple[Interval, ...]] = {}  # _day_windows, by day

    def _day_windows(self, d: date) -> tuple[Interval, ...]:
        """The working intervals of one day (UTC), computed once per day and clock: every
        message's due times and SLA read the same few days."""
        found = self._days.get(d)
        if found is not None:
            return found
        out: list[Interval] = []
        if d not in self.holidays:
            for start, end in self.hours.get(d.weekday(), []):
                a = datetime.combine(d, start, tzinfo=self.zone)
                b = (
                    datetime.combine(d + timedelta(days=1), time(0), tzinfo=self.zone)
                    if end is None
                    else datetime.combine(d, end, tzinfo=self.zone)
                )
                out.append((a.astimezone(UTC), b.astimezone(UTC)))
        if len(self._days) >= DAYS_KEPT:
            self._days.clear()
        self._days[d] = found = tuple(out)
        return found

    def windows(self, start: datetime) -> Iterator[Interval]:
        """Working intervals (UTC) from ``start`` on, in order, clipped to begin at ``start``."""
        start = _aware(start, "start")
        if self.always_open:
            yield start, datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
            return
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            for a, b in self._day_windows(day):
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)
        raise InvalidFacts(f"the calendar has no working time within {MAX_DAYS} days of {start}")

    def add(self, start: datetime, minutes: float, *, pauses: Iterable[Interval] = ()) -> datetime:
        """The moment ``minutes`` of working time after ``start`` (local time of the calendar)."""
        left = timedelta(minutes=minutes)
        merged = _merge(pauses)
        for window in self.windows(start):
            for a, b in _minus(window, merged):
                if left <= b - a:
                    return (a + left).astimezone(self.zone)
                left -= b - a
        raise AssertionError("unreachable: windows() ends by raising")  # pragma: no cover

    def minutes_between(
        self, start: datetime, end: datetime, *, pauses: Iterable[Interval] = ()
    ) -> float:
        """Working minutes in [start, end), pauses left out."""
        end = _aware(end, "end")
        if end <= _aware(start, "start"):
            return 0.0
        merged = _merge(pauses)
        total = timedelta(0)
        for window in self.windows(start):
            if window[0] >= end:
                break
            for a, b in _minus((window[0], min(window[1], end)), merged):
                total += b - a
        return total.total_seconds() / 60


@dataclass(frozen=True, slots=True)
class Due:
    priority: str
    first_response_due: datetime
    resolution_due: datetime
    business_hours: bool

    def to_dict(self) -> dict[str, str]:
        return {
            "priority": self.priority,
            "first_response_due": self.first_response_due.isoformat(),
            "resolution_due": self.resolution_due.isoformat(),
        }


def due(
    sla: Sla,
    calendar: Calendar,
    priority: str,
    *,
    now: datetime,
    opened_at: datetime | None = None,
    pauses: Iterable[Interval] = (),
    factor: float = 1.0,
) -> Due:
    """SLA due times: first response counted from ``now``; resolution from ``opened_at`` (or
    ``now``), both in working time of the calendar (or round the clock for targets with
    ``business_hours = false``), with ``pauses`` not counted towards resolution. ``factor``
    lengthens both targets (a restricted customer: ``sanctions.restrict.sla_factor``)."""
    if priority not in sla.targets:
        raise InvalidFacts(f"priority {priority!r} has no SLA target (known: {sla.priorities})")
    target = sla.targets[priority]
    clock = clock_of(calendar, always_open=not target.business_hours)
    start = opened_at if opened_at is not None and opened_at <= now else now
    return Due(
        priority=priority,
        first_response_due=clock.add(now, target.first_response_minutes * factor),
        resolution_due=clock.add(start, target.resolution_minutes * factor, pauses=pauses),
        business_hours=target.business_hours,
    )
