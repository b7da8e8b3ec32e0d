"""Scoring a session: a rubric of eight criteria, each 0–1 with the turns that earned or lost it.

Criteria (weights from the scenario's ``[rubric]``, normalised): empathy, ownership, solution,
clarity, boundaries, promises (kept within authority, with a time), policy (followed: no
recitals as a wall, nothing over authority, the facts looked up) and outcome. For lost points
the feedback names the turns and gives a better reply, built from the coach's rewrite of that
turn and the guidance phrase library, filled with the scenario's resolution. The total is the
weighted mean times 100; a session passes at ``pass_mark`` (70 by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gracedesk.guidance.phrases import Entry, Library, render
from gracedesk.training.scenario import CRITERIA, Scenario
from gracedesk.training.simulator import Turn

if TYPE_CHECKING:
    from gracedesk.training.simulator import Simulation

PASS_MARK = 70.0
TIME_FRAME = "by 5pm tomorrow"


@dataclass(frozen=True, slots=True)
class Criterion:
    """One rubric line: ``turns`` earned or lost it; ``better_reply`` only when points were lost."""

    criterion: str
    weight: float
    score: float
    turns: tuple[int, ...]
    feedback: str
    better_reply: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "weight": round(self.weight, 4),
            "score": round(self.score, 3),
            "turns": list(self.turns),
            "feedback": self.feedback,
            "better_reply": self.better_reply,
        }


@dataclass(frozen=True, slots=True)
class SessionResult:
    scenario_id: str
    seed: int
    transcript: list[dict[str, str]]
    states: list[dict[str, Any]]
    start: dict[str, Any]
    rubric: list[dict[str, Any]]
    score: float
    passed: bool
    pass_mark: float
    outcome: str | None
    turns: list[dict[str, Any]]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario_id,
            "seed": self.seed,
            "score": self.score,
            "passed": self.passed,
            "pass_mark": self.pass_mark,
            "outcome": self.outcome,
            "transcript": self.transcript,
            "start": self.start,
            "states": self.states,
            "mood": mood(self.start, self.states),
            "rubric": self.rubric,
            "turns": self.turns,
            "notes": self.notes,
        }


def mood(start: dict[str, Any], states: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anger and trust at the start (turn 0) and after each turn: the chart's data."""
    return [
        {"turn": i, "anger": round(float(s["anger"]), 3), "trust": round(float(s["trust"]), 3)}
        for i, s in enumerate([start, *states])
    ]


def _turns_with(turns: Sequence[Turn], *moves: str) -> list[int]:
    return [t.n for t in turns if any(t.reading.has(m) for m in moves)]


def _clip(x: float) -> float:
    return round(min(1.0, max(0.0, x)), 3)


def _fmt(turns: Sequence[int]) -> str:
    if not turns:
        return ""
    return ("turn " if len(turns) == 1 else "turns ") + ", ".join(str(n) for n in turns)


def _phrase(step: str, persona: str, values: dict[str, str]) -> str:
    """The phrase library's best untagged phrase for ``step``, this persona's first."""
    lib = Library.default()

    def plain(e: Entry) -> bool:
        s = e.spec
        return not (s.emotions or s.causes or s.requests or s.abuse)

    cands = [e for e in lib.entries if e.spec.stage == step and plain(e)]
    cands.sort(key=lambda e: (persona not in e.spec.archetypes, bool(e.spec.archetypes), e.spec.id))
    for e in cands:
        if e.spec.archetypes and persona not in e.spec.archetypes:
            continue
        text = render(e.spec.text, values)
        if text is not None:
            return text
    return ""


class _Rubric:
    """The eight criteria over one session's turns."""

    def __init__(self, scenario: Scenario, turns: Sequence[Turn], outcome: str | None) -> None:
        self.s = scenario
        self.turns = turns
        self.outcome = outcome
        first = scenario.resolution[0]
        self.values = {
            "issue": "this",
            "option_a": first,
            "option_b": scenario.resolution[1] if len(scenario.resolution) > 1 else first,
            "time_frame": TIME_FRAME,
        }
        self.persona = scenario.persona

    def phrase(self, step: str) -> str:
        return _phrase(step, self.persona, self.values)

    def rewrite(self, n: int) -> str:
        """The coach's rewrite of turn ``n`` (its findings replaced), or the turn as said."""
        t = self.turns[n - 1]
        text = t.reading.critique.rewrite or t.trainee_text
        return text.replace("…", self.values["option_a"])

    def offer(self) -> str:
        return (
            f"Here's what I'll do: {self.values['option_a']}. I'll arrange it now and confirm "
            f"it's done {TIME_FRAME}."
        )

    # -- criteria ----------------------------------------------------------------------------
    def empathy(self) -> tuple[float, list[int], str, str]:
        earned = _turns_with(self.turns, "empathy")
        harsh = _turns_with(self.turns, "dismissive", "sarcasm", "hostile", "blame")
        missed = [t.n for t in self.turns if t.reading.has("no_empathy")]
        upset = [t.n for t in self.turns if t.before.anger >= 0.45]
        if not upset or (earned and min(earned) <= upset[0] + 1):
            base = 1.0  # acknowledged at once (or nothing to acknowledge)
        else:
            base = 0.6 if earned else 0.0
        score = _clip(base - 0.25 * len(harsh) - 0.1 * max(0, len(missed) - 1))
        if score >= 1.0:
            return score, earned, f"Acknowledged the customer's feelings on {_fmt(earned)}.", ""
        lost = sorted(set(harsh + missed))
        why = f"Lost on {_fmt(lost)}: " + "; ".join(
            sorted(
                {
                    m
                    for t in self.turns
                    if t.n in lost
                    for m in t.reading.bad
                    if m in ("dismissive", "sarcasm", "hostile", "blame", "no_empathy")
                }
            )
        )
        better = f"{self.phrase('acknowledge')} {self.offer()}".strip()
        return score, lost or earned, why.replace("_", " ") + ".", better

    def ownership(self) -> tuple[float, list[int], str, str]:
        earned = _turns_with(self.turns, "ownership")
        walls = _turns_with(self.turns, "excuse", "blame", "policy_recital", "refusal")
        base = 1.0 if earned else (0.3 if _turns_with(self.turns, "next_step") else 0.0)
        score = _clip(base - 0.25 * len(walls))
        if score >= 1.0:
            return score, earned, f"Took ownership on {_fmt(earned)} (I will …).", ""
        if walls:
            why = f"Lost on {_fmt(walls)}: excuses, blame or policy put between you and the fix."
            return score, walls, why, f"Leave this with me. {self.offer()}"
        why = "No turn said what you personally will do (I will …)."
        return score, earned, why, f"Leave this with me: {self.offer()}"

    def solution(self) -> tuple[float, list[int], str, str]:
        solved = _turns_with(self.turns, "solution")
        offers = _turns_with(self.turns, "offer")
        clar = _turns_with(self.turns, "clarifying")
        refused = _turns_with(self.turns, "refusal")
        if solved:
            score = 1.0
            if self.persona == "vague" and not (clar and min(clar) < min(solved)):
                score = 0.6
        else:
            score = 0.4 if offers else 0.0
        score = _clip(score - 0.2 * len(refused))
        wants = ", ".join(self.s.resolution)
        if score >= 1.0:
            return score, solved, f"Offered what resolves it on {_fmt(solved)}.", ""
        if solved:
            why = f"Offered a fix on {_fmt(solved)} before finding out what the customer means."
            return score, solved, why, f"{self.phrase('clarify')} Then: {self.offer()}"
        lost = refused or offers or [t.n for t in self.turns]
        why = f"Never offered what would resolve it (any of: {wants})."
        if refused:
            why = f"Refused on {_fmt(refused)} without an alternative (could offer: {wants})."
        return score, lost, why, self.offer()

    def clarity(self) -> tuple[float, list[int], str, str]:
        unclear = _turns_with(
            self.turns, "jargon", "vague_promise", "no_timeline", "all_caps", "ignored"
        )
        timed = _turns_with(self.turns, "timeline")
        score = 1.0 - 0.2 * len(unclear)
        if _turns_with(self.turns, "solution", "offer") and not timed:
            score -= 0.3
        needs = self.persona in ("vague", "indecisive")
        checked = _turns_with(self.turns, "clarifying", "summary")
        if needs and not checked:
            score -= 0.3
        score = _clip(score)
        if score >= 1.0:
            return score, timed or checked, "Plain words, a time for every promise.", ""
        parts = []
        if unclear:
            kinds = sorted(
                {
                    m
                    for t in self.turns
                    if t.n in unclear
                    for m in t.reading.bad
                    if m in ("jargon", "vague_promise", "no_timeline", "all_caps", "ignored")
                }
            )
            parts.append(f"{_fmt(unclear)}: " + ", ".join(k.replace("_", " ") for k in kinds))
        if not timed:
            parts.append("no time was ever given")
        if needs and not checked:
            parts.append("this customer needed a clarifying question or a summary")
        n = unclear[0] if unclear else (self.turns[-1].n if self.turns else 1)
        better = self.rewrite(n) if unclear else self.offer()
        if needs and not checked:
            better = f"{self.phrase('clarify')} {better}"
        return score, unclear, "Lost on " + "; ".join(parts) + ".", better

    def boundaries(self) -> tuple[float, list[int], str, str]:
        abused = [t.n for t in self.turns if t.before.abusive]
        set_on = _turns_with(self.turns, "boundary")
        hostile = _turns_with(self.turns, "hostile")
        needless = _turns_with(self.turns, "unneeded_boundary")
        if abused:
            score = 1.0 if abused[0] in set_on else (0.6 if set_on else 0.0)
        else:
            score = 1.0 - 0.2 * len(needless)
        score = _clip(score - 0.5 * len(hostile))
        if score >= 1.0:
            why = f"Set a calm boundary on {_fmt(set_on)}." if set_on else "No abuse to handle."
            return score, set_on, why, ""
        if hostile:
            why = f"Lost on {_fmt(hostile)}: hostile words to the customer."
            return score, hostile, why, self.rewrite(hostile[0])
        if abused and not set_on:
            return (
                score,
                abused,
                f"Abuse on {_fmt(abused)} passed without a boundary.",
                (self.phrase("boundary")),
            )
        if abused:
            why = f"The boundary came late ({_fmt(set_on)}; abuse began before {_fmt(abused)})."
            return score, set_on, why, self.phrase("boundary")
        return (
            score,
            needless,
            f"Warned a customer who was not abusive on {_fmt(needless)}.",
            (self.rewrite(needless[0])),
        )

    def promises(self) -> tuple[float, list[int], str, str]:
        over = _turns_with(self.turns, "over_authority")
        vague = _turns_with(self.turns, "vague_promise")
        untimed = _turns_with(self.turns, "no_timeline")
        made = _turns_with(self.turns, "ownership", "next_step", "timeline", "solution")
        if not made and not over:
            return (
                0.5,
                [],
                "Nothing was promised, so the customer has nothing to hold on to.",
                (self.offer()),
            )
        score = _clip(1.0 - 0.5 * len(over) - 0.25 * len(vague) - 0.15 * len(untimed))
        timed = _turns_with(self.turns, "timeline")
        if score >= 1.0:
            return score, timed or made, "Promises were within authority and had a time.", ""
        if over:
            t = self.turns[over[0] - 1]
            sugg = t.reading.suggestions.get("over_authority") or (
                "I've asked for approval and I'll confirm it as soon as it's through, "
                f"{TIME_FRAME} at the latest."
            )
            why = f"Lost on {_fmt(over)}: promised more than policy allows ({self.s.policy_notes})"
            return score, over, why, sugg
        lost = sorted(set(vague + untimed))
        return (
            score,
            lost,
            f"Lost on {_fmt(lost)}: a promise without a time.",
            self.rewrite(lost[0]),
        )

    def policy(self) -> tuple[float, list[int], str, str]:
        over = _turns_with(self.turns, "over_authority")
        recital = _turns_with(self.turns, "policy_recital")
        facts = _turns_with(self.turns, "facts")
        score = 1.0 - 0.5 * len(over) - 0.25 * len(recital)
        if self.s.facts and not facts:
            score -= 0.25
        score = _clip(score)
        if score >= 1.0:
            return score, facts, "Stayed within policy and used the facts of the case.", ""
        lost = sorted(set(over + recital))
        parts = []
        if over:
            parts.append(f"over authority on {_fmt(over)}")
        if recital:
            parts.append(f"policy recited as a wall on {_fmt(recital)}")
        if self.s.facts and not facts:
            parts.append("the case's facts were never used (" + ", ".join(self.s.facts) + ")")
        fact = next(iter(self.s.facts.values()), "")
        better = (
            f"I've checked {fact}. Within our rules, here's what I can do: {self.values['option_a']}."
            if fact
            else f"Within our rules, here's what I can do: {self.values['option_a']}."
        )
        return score, lost, "Lost: " + "; ".join(parts) + ".", better

    def outcome_(self) -> tuple[float, list[int], str, str]:
        last = [self.turns[-1].n] if self.turns else []
        state = self.turns[-1].after if self.turns else None
        if self.outcome == "accepted":
            return 1.0, last, f"The customer accepted on {_fmt(last)}.", ""
        if state is None:
            return 0.0, [], "No turn was played.", self.offer()
        if self.outcome in ("unresolved", None):
            score = _clip(0.7 * (0.6 * state.solved + 0.4 * (1.0 - state.anger)))
            why = (
                "Out of turns: the customer neither accepted nor left."
                if self.outcome
                else "The session stopped before the customer accepted."
            )
        else:
            score = 0.0
            why = {
                "left": f"The customer gave up and left on {_fmt(last)}.",
                "manager": f"The customer escalated to a manager on {_fmt(last)}.",
                "public": f"The customer went public on {_fmt(last)}.",
            }.get(str(self.outcome), "The session did not end.")
        better = f"{self.phrase('acknowledge')} {self.offer()}".strip()
        return score, last, why, better

    def all(self) -> dict[str, Callable[[], tuple[float, list[int], str, str]]]:
        return {
            "empathy": self.empathy,
            "ownership": self.ownership,
            "solution": self.solution,
            "clarity": self.clarity,
            "boundaries": self.boundaries,
            "promises": self.promises,
            "policy": self.policy,
            "outcome": self.outcome_,
        }


def rubric(scenario: Scenario, turns: Sequence[Turn], outcome: str | None) -> list[Criterion]:
    """The eight criteria of a session, in the rubric's order."""
    weights = scenario.weights()
    r = _Rubric(scenario, turns, outcome)
    out = []
    for name in CRITERIA:
        score, where, why, better = r.all()[name]()
        out.append(Criterion(name, weights[name], score, tuple(where), why, better))
    return out


def total(criteria: Sequence[Criterion]) -> float:
    return round(100.0 * sum(c.weight * c.score for c in criteria), 1)


def score_session(sim: Simulation, *, pass_mark: float = PASS_MARK) -> SessionResult:
    criteria = rubric(sim.scenario, sim.turns, sim.outcome)
    score = total(criteria)
    return SessionResult(
        scenario_id=sim.scenario.id,
        seed=sim.seed,
        transcript=[dict(m) for m in sim.transcript],
        states=sim.states,
        start=sim.start_state.to_dict(),
        rubric=[c.to_dict() for c in criteria],
        score=score,
        passed=score >= pass_mark,
        pass_mark=float(pass_mark),
        outcome=sim.outcome,
        turns=[t.to_dict() for t in sim.turns],
        notes=list(sim.notes),
    )
