"""The simulated customer's state and how one trainee turn moves it.

Four numbers in [0, 1] (anger, trust, patience, how much of the problem is solved) and a
status. The moves come from de-escalation practice (docs/training.md "What moves the
customer"): acknowledging feelings, ownership, a concrete solution and a time calm the
customer and build trust; excuses, blame, jargon, "calm down", policy recitals and vague
promises do the opposite and drain patience. Persona and difficulty scale the moves; nothing
here is random, so the same turns always give the same states.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from gracedesk.training.reading import Reading

STATUSES = ("open", "accepted", "left", "escalated")
FIELDS = ("anger", "trust", "patience", "solved")

# What each move does to a customer of medium difficulty and no strong persona.
EFFECTS: dict[str, dict[str, float]] = {
    "empathy": {"anger": -0.10, "trust": 0.05, "patience": 0.02},
    "ownership": {"anger": -0.04, "trust": 0.10, "patience": 0.02},
    "solution": {"anger": -0.12, "trust": 0.08, "solved": 0.45, "patience": 0.05},
    "offer": {"solved": 0.10},
    "timeline": {"anger": -0.04, "trust": 0.06, "solved": 0.10, "patience": 0.03},
    "next_step": {"trust": 0.03, "solved": 0.05, "patience": 0.02},
    "facts": {"trust": 0.04},
    "clarifying": {"anger": -0.02, "trust": 0.02},
    "summary": {"anger": -0.03, "trust": 0.04, "solved": 0.05},
    "boundary": {"anger": -0.04},
    "escalation_offer": {"anger": -0.05},
    "excuse": {"anger": 0.10, "trust": -0.08, "patience": -0.06},
    "blame": {"anger": 0.15, "trust": -0.10, "patience": -0.08},
    "jargon": {"anger": 0.05, "trust": -0.03, "patience": -0.05},
    "dismissive": {"anger": 0.18, "trust": -0.10, "patience": -0.10},
    "policy_recital": {"anger": 0.10, "trust": -0.05, "patience": -0.06},
    "vague_promise": {"anger": 0.05, "trust": -0.08, "patience": -0.05},
    "no_timeline": {"trust": -0.03},
    "sarcasm": {"anger": 0.15, "trust": -0.12, "patience": -0.08},
    "all_caps": {"anger": 0.08, "trust": -0.04},
    "negative_phrasing": {"anger": 0.04},
    "refusal": {"anger": 0.08, "trust": -0.05},
    "canned": {"anger": 0.06, "trust": -0.05},
    "hostile": {"anger": 0.30, "trust": -0.25, "patience": -0.20},
    "no_empathy": {"anger": 0.05, "trust": -0.02},
    "ignored": {"anger": 0.06, "patience": -0.05},  # plus STALL below
    "unneeded_boundary": {"anger": 0.03, "trust": -0.03},
    "missed_boundary": {"anger": 0.03},
    "over_authority": {},  # the customer likes it; the rubric does not (promises, policy)
}
DRAIN = 0.05  # patience lost every turn: waiting costs
STALL = 0.03  # more patience lost when a turn moves nothing forward
# (good-move scale, bad-move scale, patience-drain scale) by difficulty
DIFFICULTY: dict[str, tuple[float, float, float]] = {
    "easy": (1.25, 0.7, 0.7),
    "medium": (1.0, 1.0, 1.0),
    "hard": (0.85, 1.3, 1.2),
}
ACCEPT_SOLVED = 0.8
ACCEPT_ANGER = 0.4
ACCEPT_TRUST = 0.35
DEMAND_ANGER = 0.85  # at or above: the customer asks for a manager or threatens to go public
LEAVE_ANGER = 0.5  # out of patience, a customer leaves unless calmer than this and trusting
LEAVE_TRUST = 0.4
UPSET = 0.45  # at or above: the customer is visibly upset (empathy is expected)
ABUSIVE_ANGER = 0.7  # an aggressive customer turns abusive at or above this


@dataclass(frozen=True, slots=True)
class CustomerState:
    """Where the customer stands after a turn. ``escalation``: "manager" or "public" once
    escalated; ``demand``: the same, asked for and still pending (the next turn decides)."""

    anger: float
    trust: float
    patience: float
    solved: float = 0.0
    status: str = "open"
    escalation: str | None = None
    demand: str | None = None
    abusive: bool = False
    boundary_set: bool = False
    clarified: bool = False
    changed_mind: bool = False
    offered: bool = False
    turn: int = 0

    @property
    def ended(self) -> bool:
        return self.status != "open"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in FIELDS:
            d[k] = round(d[k], 3)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CustomerState:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True, slots=True)
class Effect:
    """One push on the state, and why: ``cause`` is a move or a persona rule."""

    cause: str
    field: str
    delta: float

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "field": self.field, "delta": round(self.delta, 3)}


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one transition: the new state, the pushes, and an event for the lines
    ("change_mind", "details", "reminder" or "")."""

    state: CustomerState
    effects: tuple[Effect, ...]
    event: str = ""


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def _scale(
    move: str, field: str, delta: float, state: CustomerState, reading: Reading, persona: str
) -> float:
    """The persona's view of one push: bigger swings, or moves that count for less."""
    if persona == "aggressive" and field == "anger":
        delta *= 1.4
    if (
        persona == "demanding"
        and move in ("empathy", "summary", "clarifying")
        and not (reading.has("solution") or state.offered)
    ):
        delta *= 0.5  # sympathy without a concrete fix barely registers
    if persona == "serial_complainer":
        if move in ("excuse", "blame", "policy_recital", "vague_promise"):
            delta *= 1.4  # heard it all before
        if move == "ownership":
            delta *= 1.5
        if field == "trust" and delta > 0 and move != "ownership" and not reading.has("ownership"):
            delta *= 0.5  # trust comes back only with someone owning it
    if (
        persona == "vague"
        and move in ("solution", "offer", "timeline")
        and field == "solved"
        and (not state.clarified)
    ):
        delta *= 0.3  # a fix for a problem nobody has pinned down yet
    if persona == "vague" and move == "clarifying":
        delta *= 2.0
    if persona == "indecisive" and move == "summary" and state.changed_mind:
        delta *= 4.0 if field == "solved" else 2.0  # a recap is what settles the choice
    return delta


def transition(state: CustomerState, reading: Reading, *, persona: str, difficulty: str) -> Step:
    """The state after the trainee's turn ``reading``: pure and deterministic."""
    good_k, bad_k, drain_k = DIFFICULTY[difficulty]
    effects: list[Effect] = []
    values = {f: getattr(state, f) for f in FIELDS}
    repeat_empathy = 0.5 if state.turn >= 2 and not state.offered else 1.0
    worst: dict[str, float] = {}  # per field, the largest harm so far this turn
    pushes: list[tuple[str, str, float, bool]] = []
    concrete = {"solution", "offer", "timeline", "next_step", "clarifying", "ownership"}
    for move in reading.moves:
        if move == "no_empathy" and concrete & reading.moves.keys():
            continue  # a concrete step reads as care enough; the rubric still marks it
        for field, base in EFFECTS.get(move, {}).items():
            delta = base
            if move == "solution" and field == "solved" and state.offered:
                delta *= 0.4  # confirming again adds less than the first offer
            if move == "empathy" and not reading.has("solution"):
                delta *= repeat_empathy
            delta = _scale(move, field, delta, state, reading, persona)
            improves = (delta < 0) if field == "anger" else (delta > 0)
            delta *= good_k if improves else bad_k
            pushes.append((move, field, delta, improves))
    # A reply is taken as a whole: the worst harm counts in full, each further one half.
    for move, field, delta, improves in sorted(pushes, key=lambda p: -abs(p[2])):
        if not improves:
            if field in worst:
                delta *= 0.5
            worst[field] = delta
        effects.append(Effect(move, field, delta))
        values[field] += delta
    drain = DRAIN * drain_k * (1.5 if persona == "demanding" else 1.0)
    if reading.has("ignored"):
        drain += STALL * drain_k
    effects.append(Effect("time", "patience", -drain))
    values["patience"] -= drain
    if state.abusive and reading.has("boundary"):
        effects.append(Effect("boundary", "anger", -0.05))
        values["anger"] -= 0.05
    event = ""
    offered = state.offered or reading.has("solution")
    clarified = state.clarified or reading.has("clarifying") or reading.has("summary")
    changed = state.changed_mind
    if persona == "indecisive" and not changed and values["solved"] >= 0.5:
        effects.append(Effect("changes mind", "solved", -0.35))
        values["solved"] -= 0.35
        changed, clarified, event = True, False, "change_mind"
    elif persona == "vague" and reading.has("clarifying") and not state.clarified:
        event = "details"
    elif persona == "serial_complainer" and values["anger"] > state.anger and state.turn < 3:
        event = "reminder"
    for f in FIELDS:
        values[f] = _clip(values[f])
    turn = state.turn + 1
    boundary_set = (state.boundary_set or reading.has("boundary")) and values["anger"] < 0.95
    abusive = (
        persona == "aggressive"
        and values["anger"] >= ABUSIVE_ANGER
        and not boundary_set
        and not reading.has("boundary")
    )
    new = replace(
        state,
        **values,
        turn=turn,
        offered=offered,
        clarified=clarified,
        changed_mind=changed,
        boundary_set=boundary_set,
        abusive=abusive,
        demand=None,
    )
    return Step(_outcome(state, new, reading, persona), tuple(effects), event)


def _outcome(
    old: CustomerState, new: CustomerState, reading: Reading, persona: str
) -> CustomerState:
    """Accept, leave, escalate, or a new demand, in that order of precedence."""
    needs_clarity = persona in ("indecisive", "vague") and not new.clarified
    if reading.has("hostile"):
        return replace(new, status="escalated", escalation="public")
    if (
        new.solved >= ACCEPT_SOLVED
        and new.anger <= ACCEPT_ANGER
        and new.trust >= ACCEPT_TRUST
        and not needs_clarity
    ):
        return replace(new, status="accepted")
    if (
        old.demand is not None
        and new.anger >= DEMAND_ANGER - 0.1
        and not (
            old.demand == "manager" and reading.has("escalation_offer") and reading.has("solution")
        )
    ):
        return replace(new, status="escalated", escalation=old.demand)
    if new.patience <= 0.0 and (new.anger >= LEAVE_ANGER or new.trust < LEAVE_TRUST):
        return replace(new, status="left")  # out of patience and nothing to stay for
    if new.anger >= DEMAND_ANGER or (
        persona == "demanding" and new.anger >= 0.5 and new.turn >= 2 and not new.offered
    ):  # a demanding customer with no concrete fix by the second reply wants someone else
        kind = (
            "public"
            if persona in ("aggressive", "serial_complainer") or new.trust < 0.1
            else ("manager")
        )
        return replace(new, demand=kind)
    return new


def bucket(old: CustomerState, new: CustomerState, reading: Reading, event: str) -> str:
    """Which kind of line the customer says next (a scenario ``[[lines]]`` ``when``)."""
    if new.status == "accepted":
        return "accepting"
    if new.status == "left":
        return "leaving"
    if new.status == "escalated" or new.demand is not None:
        kind = new.escalation or new.demand
        return "manager" if kind == "manager" else "public_threat"
    if new.abusive:
        return "abusive"
    if event == "change_mind" or reading.has("jargon"):
        return "clarifying"
    if event == "details":
        return "calming"
    if new.anger <= old.anger - 0.03:
        return "calming"
    if new.anger >= old.anger + 0.03:
        return "escalating"
    return "escalating" if new.anger >= 0.5 else "calming"
