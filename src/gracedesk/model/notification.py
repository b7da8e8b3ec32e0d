"""A notification: one event the desk announces by e-mail and webhook (``jobs.notify`` sends it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gracedesk.errors import InvalidInput


@dataclass(frozen=True)
class Notification:
    """One event to announce; ``key`` is stable across retries (e.g. ``follow_up:42:due``)."""

    event: str
    to: tuple[str, ...]
    subject: str
    body: str
    payload: dict[str, Any] = field(hash=False)
    key: str

    def __post_init__(self) -> None:
        # A malformed notification can never be sent, so it is the caller's error, not a retry.
        for name, value in (("event", self.event), ("key", self.key)):
            if not value.strip():
                raise InvalidInput(f"notification {name} must not be empty")
        for name, value in (("event", self.event), ("key", self.key), ("subject", self.subject)):
            if "\r" in value or "\n" in value:
                raise InvalidInput(f"notification {name} must be one line: {value!r}")
        for addr in self.to:
            if "@" not in addr or any(c in addr for c in "\r\n,"):
                raise InvalidInput(f"notification {self.key!r}: not one e-mail address: {addr!r}")
        try:
            json.dumps(self.payload)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"notification {self.key!r}: payload is not JSON-serialisable: {exc}"
            ) from exc
