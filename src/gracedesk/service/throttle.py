"""Failed sign-ins counted in the store (``auth_throttle``), so across server processes.

Per user name and per client address: after too many within the window the key is locked for a
time that doubles with every further failure, up to a cap (docs/desk.md, docs/console.md). The
web layer (``web.security``, ``web.console``) asks here and answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gracedesk.settings import Settings
from gracedesk.store import Store, audit
from gracedesk.store import users as staff

log = logging.getLogger("gracedesk.security")


@dataclass(frozen=True)
class Key:
    """What is counted: a user name (``user``) or a client address (``client``)."""

    scope: str
    value: str

    @property
    def hashed(self) -> str:
        # names are matched case-insensitively here, so "Sam" and "sam" share one counter
        raw = f"{self.scope}:{self.value.casefold()}".encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Throttle:
    """Counters of failed sign-ins in the store (``auth_throttle``), shared by every process."""

    max_failures: int = 5
    max_failures_per_client: int = 20
    window: timedelta = timedelta(seconds=900)
    lockout: timedelta = timedelta(seconds=30)
    lockout_max: timedelta = timedelta(seconds=900)

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(
            max_failures=settings.signin_max_failures,
            max_failures_per_client=settings.signin_max_failures_per_client,
            window=timedelta(seconds=settings.signin_window_seconds),
            lockout=timedelta(seconds=settings.signin_lockout_seconds),
            lockout_max=timedelta(seconds=settings.signin_lockout_max_seconds),
        )

    def limit(self, key: Key) -> int:
        return self.max_failures if key.scope == "user" else self.max_failures_per_client

    def locked(self, store: Store, keys: Sequence[Key], *, now: datetime) -> int:
        """Seconds until every key in ``keys`` is free again (0: none is locked)."""
        with store.read() as s:
            until = staff.locked_until(s.connection(), [k.hashed for k in keys], now=now)
        return seconds_until(until, now) if until is not None else 0

    def fail(self, store: Store, keys: Sequence[Key], *, now: datetime) -> int:
        """Count a failure against each key; returns the seconds of a lock it started (or 0).

        One transaction; each row is locked while it is read and written (``FOR UPDATE`` on
        PostgreSQL, the write lock on SQLite), in a fixed order, so concurrent failures from
        several processes all count and never deadlock.
        """
        longest = 0
        with store.write() as s:
            for key in sorted(set(keys), key=lambda k: k.hashed):
                row = staff.count_row(s.connection(), key.hashed, now=now)
                failures = 1 if row.forget_at <= now else row.failures + 1
                until = row.locked_until if row.forget_at > now else None
                limit = self.limit(key)
                if failures >= limit:
                    wait = self.backoff(failures - limit)
                    until = now + wait
                    longest = max(longest, math.ceil(wait.total_seconds()))
                    lockout = audit.event(
                        "auth.lockout", now=now, reason=f"{failures} failed sign-ins"
                    )
                    lockout["detail"] = {
                        key.scope: key.value,
                        "failures": failures,
                        "seconds": int(wait.total_seconds()),
                        "until": until.isoformat(),
                    }
                    audit.write(s, [lockout])
                    log.warning(
                        "sign-in locked for %ss after %s failures (%s)",
                        int(wait.total_seconds()),
                        failures,
                        "user name" if key.scope == "user" else "client address",
                    )
                quiet_from = max(now, until) if until is not None else now
                staff.set_count(
                    s.connection(),
                    key.hashed,
                    failures=failures,
                    locked_until=until,
                    forget_at=quiet_from + self.window,
                )
        self.forget_stale(store, now=now)
        return longest

    def succeed(self, store: Store, key: Key) -> None:
        """A good sign-in: the user name's counter starts again (the client's does not)."""
        with store.write() as s:
            staff.clear_count(s.connection(), key.hashed)

    def forget_stale(self, store: Store, *, now: datetime) -> None:
        """Drop counters past their window (their own short transaction: it locks nothing else)."""
        with store.write() as s:
            staff.forget_stale_counts(s.connection(), now=now)

    def backoff(self, extra: int) -> timedelta:
        """The lock after ``extra`` failures beyond the limit: doubling, capped."""
        seconds = self.lockout.total_seconds() * 2 ** min(extra, 30)
        return timedelta(seconds=min(seconds, self.lockout_max.total_seconds()))


def seconds_until(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))
