"""Reading times given as text. The core never reads the clock: entry points pass ``now`` in."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date/time (``Z`` or ``z`` allowed) as an aware datetime; one without offset
    is UTC.

    Raises ``ValueError`` for anything else; callers turn it into their own coded error.
    """
    text = text.strip()
    if text.endswith("z"):
        text = text[:-1] + "Z"
    t = datetime.fromisoformat(text)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
