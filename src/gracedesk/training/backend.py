"""Who writes the customer's lines: the line bank (default) or a back-end such as an LLM.

A back-end only writes words. The state, the outcome and the score are the simulator's, so a
session scores the same whoever wrote the lines; when a back-end fails the bank's line is
used and the session notes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gracedesk.training.scenario import Scenario
from gracedesk.training.state import CustomerState


class BackendError(Exception):
    """A back-end could not write a line (unreachable, timed out, an unusable answer)."""


@dataclass(frozen=True, slots=True)
class LineRequest:
    """What a back-end is told: who the customer is, how they feel, what kind of line is
    wanted (``bucket``, ``event``), the conversation so far and the bank's own line."""

    scenario: Scenario
    state: CustomerState
    bucket: str
    event: str
    transcript: tuple[dict[str, Any], ...]
    bank_line: str


class LineWriter(Protocol):
    """Writes the customer's next line, or raises :class:`BackendError`."""

    name: str

    def write(self, request: LineRequest) -> str: ...
