"""A training session: a simulated customer who reacts to each of the trainee's replies.

Each turn the reply is read (``reading.read_reply``: coach, analyzer, scenario), the state
moves (``state.transition``), and the customer answers with a line that fits the new state and
the persona (``lines.pick``, or a back-end). Everything random goes through one
``random.Random(seed)``; no clock, no globals: the same scenario, seed and replies give the
same session, which is how the console stores a session (scenario id, seed, replies) and
rebuilds it with :func:`replay`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gracedesk.analysis.pipeline import Analyzer, get_analyzer
from gracedesk.errors import EmptyText, SessionEnded
from gracedesk.training import lines
from gracedesk.training.backend import BackendError, LineRequest, LineWriter
from gracedesk.training.reading import BAD, MESSAGES, Context, Reading, read_reply
from gracedesk.training.scenario import Scenario
from gracedesk.training.state import UPSET, CustomerState, Effect, bucket, transition

if TYPE_CHECKING:
    from gracedesk.training.scoring import SessionResult

MAX_TURNS = 8
MAX_REPLY_CHARS = 4000
# The bad move a customer line answers first, most serious first.
TRIGGER_ORDER: tuple[str, ...] = (
    "hostile",
    "dismissive",
    "sarcasm",
    "blame",
    "excuse",
    "policy_recital",
    "refusal",
    "vague_promise",
    "jargon",
    "missed_boundary",
    "ignored",
    "no_empathy",
)


@dataclass(frozen=True, slots=True)
class TurnFinding:
    """One move seen in a reply: ``good`` says which way it pushed the customer."""

    kind: str
    good: bool
    text: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "good": self.good, "text": self.text, "message": self.message}


@dataclass(frozen=True, slots=True)
class Turn:
    """Everything about one trainee turn (``n`` counts from 1)."""

    n: int
    trainee_text: str
    reading: Reading
    before: CustomerState
    after: CustomerState
    effects: tuple[Effect, ...]
    bucket: str
    event: str
    customer_text: str
    note: str = ""

    def findings(self) -> tuple[TurnFinding, ...]:
        return tuple(
            TurnFinding(k, k not in BAD, self.reading.moves[k], MESSAGES.get(k, k))
            for k in (*self.reading.good, *self.reading.bad)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.n,
            "trainee": self.trainee_text,
            "customer": self.customer_text,
            "good": list(self.reading.good),
            "bad": list(self.reading.bad),
            "effects": [e.to_dict() for e in self.effects],
            "bucket": self.bucket,
            "event": self.event,
            **({"note": self.note} if self.note else {}),
        }


def is_abusive(analyzer: Analyzer, text: str) -> bool:
    """The customer's message insults, harasses or threatens people (a boundary is due);
    swearing at the situation is venting, not abuse."""
    sig = analyzer.analyze(text)
    return max(sig.abuse_at_people(), sig.abuse.get("insult", 0.0)) >= 0.5


def outcome_of(state: CustomerState, turns: int, max_turns: int) -> str | None:
    """accepted | left | manager | public | unresolved (out of turns); None while open."""
    if state.status == "accepted" or state.status == "left":
        return state.status
    if state.status == "escalated":
        return state.escalation or "manager"
    return "unresolved" if turns >= max_turns else None


@dataclass(frozen=True, slots=True)
class TurnResult:
    customer_text: str
    state: CustomerState
    findings: tuple[TurnFinding, ...]
    ended: bool
    outcome: str | None


class Simulation:
    """One session with one simulated customer. Build it with :meth:`start` or :func:`replay`."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int,
        backend: LineWriter | None,
        analyzer: Analyzer,
        max_turns: int,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.backend = backend
        self.analyzer = analyzer
        self.max_turns = max_turns
        self._rng = random.Random(seed)
        self.opening = scenario.fill(scenario.opening)
        if scenario.persona == "serial_complainer":
            extra = lines.pick(scenario, "reminder", self._rng)
            self.opening = f"{self.opening} {extra}"
        else:
            self._rng.random()  # same number of draws whatever the persona
        start = scenario.start_state()
        self.start_state = CustomerState(start["anger"], start["trust"], start["patience"])
        if is_abusive(self.analyzer, self.opening):
            self.start_state = replace(self.start_state, abusive=True)
        self.state = self.start_state
        self.turns: list[Turn] = []
        self.notes: list[str] = []
        self.transcript: list[dict[str, str]] = [{"role": "customer", "text": self.opening}]

    @classmethod
    def start(
        cls,
        scenario: Scenario,
        *,
        seed: int = 0,
        backend: LineWriter | None = None,
        analyzer: Analyzer | None = None,
        max_turns: int = MAX_TURNS,
    ) -> Simulation:
        """A new session; the customer has said ``opening``."""
        return cls(
            scenario,
            seed=seed,
            backend=backend,
            analyzer=analyzer or get_analyzer("fast"),
            max_turns=max_turns,
        )

    @property
    def done(self) -> bool:
        return self.state.ended or len(self.turns) >= self.max_turns

    @property
    def outcome(self) -> str | None:
        return outcome_of(self.state, len(self.turns), self.max_turns)

    def reply(self, text: str) -> TurnResult:
        """The trainee says ``text``; the customer reacts. Raises :class:`SessionEnded` once the
        session is over and :class:`EmptyText` for an empty reply."""
        if self.done:
            raise SessionEnded(f"the session has ended ({self.outcome})")
        if not isinstance(text, str) or not text.strip():
            raise EmptyText("the reply is empty")
        text = text.strip()[:MAX_REPLY_CHARS]
        before = self.state
        ctx = Context(
            upset=before.anger >= UPSET,
            abusive=before.abusive,
            demand=before.demand,
        )
        reading = read_reply(text, self.scenario, ctx, analyzer=self.analyzer)
        step = transition(
            before,
            reading,
            persona=self.scenario.persona,
            difficulty=self.scenario.difficulty,
        )
        after = step.state
        kind = bucket(before, after, reading, step.event)
        if after.abusive != (kind == "abusive"):  # abusive only when the line says so
            after = replace(after, abusive=kind == "abusive")
        triggers = [t for t in TRIGGER_ORDER if reading.has(t)]
        said = [m["text"] for m in self.transcript if m["role"] == "customer"]
        self.transcript.append({"role": "trainee", "text": text})
        line = lines.pick(
            self.scenario,
            kind,
            self._rng,
            said=said,
            triggers=triggers if kind in ("escalating", "clarifying") else (),
            event=step.event if kind not in ("accepting", "leaving") else "",
        )
        note = ""
        if self.backend is not None:
            request = LineRequest(
                self.scenario, after, kind, step.event, tuple(self.transcript), line
            )
            try:
                line = self.backend.write(request)
            except BackendError as exc:
                note = f"{self.backend.name}: {exc}; used the line bank"
                self.notes.append(f"turn {len(self.turns) + 1}: {note}")
        self.transcript.append({"role": "customer", "text": line})
        turn = Turn(
            len(self.turns) + 1,
            text,
            reading,
            before,
            after,
            step.effects,
            kind,
            step.event,
            line,
            note,
        )
        self.turns.append(turn)
        self.state = after
        return TurnResult(line, after, turn.findings(), self.done, self.outcome)

    @property
    def states(self) -> list[dict[str, Any]]:
        """The state after each trainee turn, one dict per turn."""
        return [t.after.to_dict() for t in self.turns]

    def result(self, pass_mark: float = 70) -> SessionResult:
        """The scored session (:class:`gracedesk.training.scoring.SessionResult`)."""
        # cycle: scoring imports simulator
        from gracedesk.training.scoring import score_session

        return score_session(self, pass_mark=pass_mark)


def replay(
    scenario: Scenario,
    seed: int,
    trainee_texts: Iterable[str],
    *,
    backend: LineWriter | None = None,
    analyzer: Analyzer | None = None,
    max_turns: int = MAX_TURNS,
) -> Simulation:
    """The session these replies give with this seed (replies past the end are ignored)."""
    sim = Simulation.start(
        scenario, seed=seed, backend=backend, analyzer=analyzer, max_turns=max_turns
    )
    for text in trainee_texts:
        if sim.done:
            break
        sim.reply(text)
    return sim
