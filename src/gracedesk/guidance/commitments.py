"""Promises with a time in an agent's reply, and their deadlines on a business calendar.

:func:`find_times` finds time phrases ("within 48 hours", "by Friday", "tomorrow by noon",
"in 3 business days", "next week", "by end of day"); :func:`extract_commitments` keeps those in
a promising clause and resolves each to a ``due`` datetime against ``now`` (passed in, never
read), the customer's time zone and a :class:`BusinessCalendar` (default Mon–Fri 09:00–17:00).
The rules are listed in docs/coach.md; ranges resolve to their upper bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gracedesk.errors import InvalidCoachContext
from gracedesk.model.critique import Commitment

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_NUM_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
    "a couple of": 2,
}


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working days (0 = Monday) and opening hours, in the customer's local time."""

    days: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    open: time = time(9, 0)
    close: time = time(17, 0)

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise InvalidCoachContext("calendar days must be a non-empty subset of 0..6")
        if self.open >= self.close:
            raise InvalidCoachContext("calendar open time must be before close time")

    @property
    def day_length(self) -> timedelta:
        return _at(date(2000, 1, 3), self.close) - _at(date(2000, 1, 3), self.open)

    def is_open_day(self, d: date) -> bool:
        return d.weekday() in self.days

    def close_on(self, d: date, tz: ZoneInfo) -> datetime:
        return datetime.combine(d, self.close, tzinfo=tz)

    def next_open_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the next working day."""
        while not self.is_open_day(d):
            d += timedelta(days=1)
        return d

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """``start`` plus ``amount`` of working time (the clock stops outside opening hours)."""
        tz = start.tzinfo
        cur = start
        left = amount
        while True:
            d = cur.date()
            if self.is_open_day(d):
                day_open = datetime.combine(d, self.open, tzinfo=tz)
                day_close = datetime.combine(d, self.close, tzinfo=tz)
                if cur < day_open:
                    cur = day_open
                if cur < day_close:
                    if cur + left <= day_close:
                        return cur + left
                    left -= day_close - cur
            cur = datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz)

    def last_open_day(self, first: date, last: date) -> date:
        """The last working day in ``first..last`` (``last`` when none is a working day)."""
        d = last
        while d >= first:
            if self.is_open_day(d):
                return d
            d -= timedelta(days=1)
        return last


DEFAULT_CALENDAR = BusinessCalendar()


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (UTC when ``None``)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidCoachContext(f"unknown time zone {name!r}") from exc


# ---- the time grammar -------------------------------------------------------------------------

_N = r"(?P<n>\d{1,3}|a couple of|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|thirty)"
_RANGE = r"(?:(?P<lo>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)\s*(?:-|–|to)\s*)?"
_UNIT = r"(?P<biz>business |working )?(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?)"
_CLOCK = r"(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>am|pm|a\.m\.|p\.m\.)|(?P<h24>[01]?\d|2[0-3]):(?P<m24>\d{2})|(?P<noon>noon|midday|midnight))"
_WD = r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = r"(?P<mon>january|february|march|april|may|june|july|august|september|october|november|december)"
_PART = r"(?P<part>morning|afternoon|evening|night)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx))
    for name, rx in (
        ("within_hour", r"\bwithin (?:the|an|one) hour\b"),
        (
            "duration",
            rf"\b(?P<prep>within|in|up to|takes?|about|over)\s+(?:the next\s+)?{_RANGE}{_N}\s*[- ]?\s*{_UNIT}\b",
        ),
        ("bare_business", rf"\b{_RANGE}{_N}\s+(?P<biz>business|working)\s+(?P<unit>days|hours)\b"),
        (
            "eod",
            r"\b(?:by |before )?(?:the )?(?:end of (?:the )?(?:business )?day|eod|close of (?:business|play)|cob|end of business)\b",
        ),
        ("end_week", r"\b(?:by |before )?(?:the )?end of (?:the |this )?week\b|\bthis week\b"),
        ("end_month", r"\b(?:by |before )?(?:the )?end of (?:the |this )?month\b"),
        ("next_week", r"\b(?P<early>early |late )?next week\b"),
        (
            "day",
            rf"\b(?:(?:by|before|until|on|no later than)\s+)?(?P<day>today|tonight|tomorrow|later today|this {_PART})"
            rf"(?:\s+(?P<part2>morning|afternoon|evening|night))?"
            rf"(?:\s+(?:by|before|at|between [^.!?]{{1,20}}?and)\s+{_CLOCK})?",
        ),
        (
            "weekday",
            rf"\b(?P<pre>by|before|until|on|this|next|no later than)\s+(?:next\s+)?{_WD}(?:\s+{_PART})?(?:\s+(?:by|before|at)\s+{_CLOCK})?",
        ),
        ("weekday_part", rf"\b{_WD}\s+{_PART}\b"),
        (
            "date_dm",
            rf"\b(?:by|before|until|on)\s+(?:the\s+)?(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}\b",
        ),
        ("date_md", rf"\b(?:by|before|until|on)\s+{_MONTH}\s+(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?\b"),
        ("month", rf"\b(?:by|in|before|until)\s+(?:the end of\s+)?{_MONTH}\b"),
        # "by 3pm", "at 17:30", "at 9am tomorrow": a clock time is a timeline
        (
            "by_clock",
            rf"\b(?:by|before|at|around|no later than)\s+{_CLOCK}"
            rf"(?:\s+(?:on\s+)?(?P<cday>today|tonight|tomorrow))?",
        ),
    )
)
_TRIGGERS = re.compile(
    r"\d|today|tonight|tomorrow|week|month|hour|day|eod|cob|business|noon|midday|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|"
    r"may|june|july|august|september|october|november|december"
)
_FUTURE = re.compile(
    r"\b(?:will|shall|should|going to|expect|aim|plan|arrive|be with you|can take|takes|"
    r"by|within|before|until|no later than|in \d|in (?:a|one|two|three) )\b|'ll\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


@dataclass(frozen=True, slots=True)
class TimePhrase:
    kind: str
    start: int
    end: int
    groups: dict[str, str | None]


def _norm(text: str) -> str:
    low = text.lower().replace("’", "'")
    if len(low) != len(text):  # a few characters lower-case to two; keep offsets exact
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text).replace("’", "'")
    return low


def find_times(text: str, low: str | None = None) -> list[TimePhrase]:
    """Every time phrase in ``text``, longest first where two overlap, in text order."""
    if low is None:
        low = _norm(text)
    if not _TRIGGERS.search(low):
        return []
    found: list[TimePhrase] = []
    for kind, pat in _PATTERNS:
        for m in pat.finditer(low):
            found.append(TimePhrase(kind, m.start(), m.end(), m.groupdict()))
    found.sort(key=lambda t: (t.start, -(t.end - t.start)))
    out: list[TimePhrase] = []
    for t in found:
        if out and t.start < out[-1].end:
            continue
        out.append(t)
    return out


# ---- resolution -------------------------------------------------------------------------------


def _at(d: date, t: time, tz: ZoneInfo | None = None) -> datetime:
    return datetime.combine(d, t, tzinfo=tz)


def _num(s: str | None) -> int:
    if s is None:
        return 1
    return int(s) if s.isdigit() else _NUM_WORDS.get(s, 1)


def _clock(g: dict[str, str | None]) -> time | None:
    if g.get("noon"):
        return time(23, 59) if g["noon"] == "midnight" else time(12, 0)
    if g.get("h24") is not None:
        return time(int(str(g["h24"])), int(str(g["m24"])))
    if g.get("h") is not None:
        h = int(str(g["h"])) % 12
        if (g.get("ap") or "").startswith("p"):
            h += 12
        return time(min(h, 23), int(g["m"] or 0))
    return None


_PART_TIME = {"morning": time(12, 0), "afternoon": time(17, 0), "evening": time(21, 0)}


def _part_time(part: str | None, cal: BusinessCalendar) -> time:
    if part in _PART_TIME:
        return _PART_TIME[part]
    if part == "night":
        return time(23, 59)
    return cal.close


def resolve(t: TimePhrase, now: datetime, cal: BusinessCalendar = DEFAULT_CALENDAR) -> datetime:
    """The deadline a time phrase sets, given an aware ``now`` in the customer's zone."""
    tz = now.tzinfo
    assert isinstance(tz, ZoneInfo)
    g = t.groups
    if t.kind == "within_hour":
        return now + timedelta(hours=1)
    if t.kind in ("duration", "bare_business"):
        return _duration(g, now, cal)
    if t.kind == "eod":
        return _end_of_day(now, tz, cal)
    if t.kind in ("end_week", "next_week"):
        return _week(t.kind, g, now, tz, cal)
    if t.kind == "end_month":
        return _month_end(now.year, now.month, now, cal)
    if t.kind == "day":
        return _day(g, now, tz, cal)
    if t.kind in ("weekday", "weekday_part"):
        return _weekday(t, now, tz, cal)
    if t.kind in ("date_dm", "date_md"):
        return _date(g, now, tz, cal)
    if t.kind == "month":
        return _month(g, now, cal)
    return _by_clock(g, now, tz, cal)


def _duration(g: dict[str, str | None], now: datetime, cal: BusinessCalendar) -> datetime:
    """A duration: "within 48 hours", "in 3 business days", "up to 2 weeks"."""
    n = _num(g.get("n"))
    unit = (g.get("unit") or "day").rstrip("s")
    if g.get("biz"):
        span = cal.day_length * n if unit == "day" else timedelta(hours=n)
        return cal.add_business_time(now, span)
    if unit.startswith("min"):
        return now + timedelta(minutes=n)
    if unit in ("hour", "hr"):
        return now + timedelta(hours=n)
    if unit == "week":
        return now + timedelta(weeks=n)
    if unit == "month":
        y, mo = divmod(now.month - 1 + n, 12)
        return _add_months(now, y, mo + 1)
    return now + timedelta(days=n)


def _end_of_day(now: datetime, tz: ZoneInfo, cal: BusinessCalendar) -> datetime:
    today = now.date()
    if cal.is_open_day(today) and now.timetz().replace(tzinfo=None) < cal.close:
        return cal.close_on(today, tz)
    return cal.close_on(cal.next_open_day(today + timedelta(days=1)), tz)


def _week(
    kind: str, g: dict[str, str | None], now: datetime, tz: ZoneInfo, cal: BusinessCalendar
) -> datetime:
    """A week: "by the end of the week", "next week", "early next week"."""
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    if kind == "next_week":
        monday += timedelta(days=7)
        if g.get("early"):
            return cal.close_on(cal.next_open_day(monday + timedelta(days=1)), tz)
    due = cal.close_on(cal.last_open_day(monday, monday + timedelta(days=6)), tz)
    if due < now:
        nxt = monday + timedelta(days=7)
        due = cal.close_on(cal.last_open_day(nxt, nxt + timedelta(days=6)), tz)
    return due


def _day(g: dict[str, str | None], now: datetime, tz: ZoneInfo, cal: BusinessCalendar) -> datetime:
    """A day: "today", "tonight", "tomorrow morning", "this afternoon by 3pm"."""
    today = now.date()
    day = str(g["day"])
    clock = _clock(g)
    if day.startswith("tomorrow"):
        return _at(today + timedelta(days=1), clock or _part_time(g.get("part2"), cal), tz)
    if day.startswith("this "):
        return max(now, _at(today, clock or _part_time(g.get("part"), cal), tz))
    if day == "tonight":
        return max(now, _at(today, clock or time(23, 59), tz))
    due = _at(today, clock or cal.close, tz)
    return due if due >= now else _at(today, time(23, 59), tz)


def _weekday(t: TimePhrase, now: datetime, tz: ZoneInfo, cal: BusinessCalendar) -> datetime:
    """A weekday: "by Friday", "next Monday morning", "on Tuesday at 10am"."""
    g = t.groups
    today = now.date()
    wd = WEEKDAYS.index(str(g["wd"]))
    clock = _clock(g) or _part_time(g.get("part"), cal)
    if g.get("pre") == "next" or "next " in _span_text(t):
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return _at(monday + timedelta(days=wd), clock, tz)
    d = today + timedelta(days=(wd - today.weekday()) % 7)
    due = _at(d, clock, tz)
    return due if due >= now else due + timedelta(days=7)


def _date(g: dict[str, str | None], now: datetime, tz: ZoneInfo, cal: BusinessCalendar) -> datetime:
    """A date ("by the 3rd of March", "before March 3rd"): the next one not past."""
    today = now.date()
    mon = MONTHS.index(str(g["mon"])) + 1
    dd = int(str(g["dd"]))
    for year in (today.year, today.year + 1):
        try:
            due = cal.close_on(date(year, mon, dd), tz)
        except ValueError:
            continue
        if due >= now:
            return due
    return cal.close_on(today, tz)


def _month(g: dict[str, str | None], now: datetime, cal: BusinessCalendar) -> datetime:
    """A month ("by March", "by the end of March"): the end of the next such month."""
    today = now.date()
    mon = MONTHS.index(str(g["mon"])) + 1
    year = today.year if mon >= today.month else today.year + 1
    return _month_end(year, mon, now, cal)


def _by_clock(
    g: dict[str, str | None], now: datetime, tz: ZoneInfo, cal: BusinessCalendar
) -> datetime:
    """Today at that time, or tomorrow when it has passed (or when it says tomorrow)."""
    today = now.date()
    clock = _clock(g) or cal.close
    if g.get("cday") == "tomorrow":
        return _at(today + timedelta(days=1), clock, tz)
    due = _at(today, clock, tz)
    if g.get("cday"):  # "at 17:30 today": today, even when the time is close
        return max(now, due)
    return due if due >= now else due + timedelta(days=1)


def _span_text(t: TimePhrase) -> str:
    return " ".join(v for v in t.groups.values() if v)


def _add_months(now: datetime, year_add: int, month: int) -> datetime:
    year = now.year + year_add
    day = now.day
    while True:
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def _month_end(year: int, month: int, now: datetime, cal: BusinessCalendar) -> datetime:
    tz = now.tzinfo
    assert isinstance(tz, ZoneInfo)
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return max(now, cal.close_on(cal.last_open_day(first, last), tz))


def local_now(now: datetime, tz: ZoneInfo) -> datetime:
    """``now`` in ``tz``; a naive ``now`` is read as local time in ``tz``."""
    return now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)


def extract_commitments(
    text: str,
    *,
    now: datetime | None = None,
    tz: str | ZoneInfo | None = None,
    calendar: BusinessCalendar = DEFAULT_CALENDAR,
    low: str | None = None,
) -> list[Commitment]:
    """Promising clauses of ``text`` that carry a time, each with its deadline.

    A time phrase counts when its sentence looks forward (will, 'll, should, expect, by, within…).
    ``due`` is ``None`` when ``now`` is not given: the core never reads the clock.
    """
    if low is None:
        low = _norm(text)
    times = find_times(text, low)
    if not times:
        return []
    zinfo = tz if isinstance(tz, ZoneInfo) else zone(tz)
    here = local_now(now, zinfo) if now is not None else None
    out: list[Commitment] = []
    for s in _SENTENCE.finditer(low):
        inside = [t for t in times if s.start() <= t.start < s.end()]
        if not inside or not _FUTURE.search(low, s.start(), s.end()):
            continue
        start, end = _strip(text, s.start(), s.end())
        dues = [resolve(t, here, calendar) for t in inside] if here is not None else []
        # a sentence with several phrases ("tomorrow between 8 and 10am") promises the latest
        last = max(range(len(inside)), key=lambda i: dues[i]) if dues else 0
        t = inside[last]
        out.append(
            Commitment(
                text=text[start:end],
                start=start,
                end=end,
                when=text[t.start : t.end].strip(),
                due=dues[last] if dues else None,
            )
        )
    return out


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
