"""The sanctions ladder: warn -> restrict -> block, one step at a time.

The current level is the highest sanction on record within the policy's window. The next
sanction is one step above it; a rule may ask for a specific level, but it is capped at the next
step unless the policy's violence condition holds (a threat of violence may go straight to block).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from gracedesk.model.situation import Sanction

LEVELS: tuple[str, ...] = ("none", "warn", "restrict", "block")
ACTION_OF: dict[str, str] = {"warn": "warn_customer", "restrict": "restrict", "block": "block"}
LEVEL_OF: dict[str, str] = {v: k for k, v in ACTION_OF.items()}


def current_level(history: Sequence[Sanction], *, now: datetime, window: timedelta) -> int:
    """Index into ``LEVELS`` of the highest sanction given within ``window`` before ``now``."""
    counted = [
        LEVELS.index(s.level) for s in history if s.at is None or now - window <= s.at <= now
    ]
    return max(counted, default=0)


def step(current: int, requested: int | None, *, violence: bool) -> int:
    """The level to apply: the next step, or ``requested`` capped at the next step.

    ``requested`` None means "the next step". Only ``violence`` lets a request skip steps.
    """
    nxt = min(current + 1, len(LEVELS) - 1)
    if requested is None:
        return nxt
    if violence:
        return requested
    return min(requested, nxt)
