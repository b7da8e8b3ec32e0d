"""One situation through the flow: analyse its customer message in context, decide, time the SLA.

Shared by ``gracedesk decide`` / ``policy explain`` (a situation from a file) and the desk (a
situation the store built from rows). Pure apart from the analyzer's lazily loaded models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidFacts
from gracedesk.model.signals import Signals
from gracedesk.model.situation import Situation
from gracedesk.policy import PolicySet, Trace, explain, priority_of
from gracedesk.policy.scenario import parse_scenario
from gracedesk.policy.sla import Due, due

if TYPE_CHECKING:
    from gracedesk.analysis.pipeline import Analyzer


@dataclass(frozen=True, slots=True)
class Outcome:
    situation: Situation
    signals: Signals
    trace: Trace
    sla: Due

    def record(self) -> dict[str, Any]:
        """The ``gracedesk decide`` output line."""
        return {
            "id": self.situation.id,
            "signals": self.signals.to_dict(),
            "decisions": [d.to_dict() for d in self.trace.decisions],
            "sla": self.sla.to_dict(),
        }


def analysed_text(situation: Situation) -> str:
    turn = situation.message
    if turn is None:
        raise InvalidFacts("messages has no customer message to analyse")
    return turn.text


def analyse_situations(situations: Sequence[Situation], analyzer: Analyzer) -> list[Signals]:
    """The analysed message of each situation, in context, in one batch through the models."""
    return analyzer.analyze_batch(
        [analysed_text(s) for s in situations],
        list(situations),
        ids=[s.id for s in situations],
    )


def run_situation(
    situation: Situation,
    policy: PolicySet,
    analyzer: Analyzer | None,
    now: datetime,
    *,
    signals: Signals | None = None,
    sla_factor: float = 1.0,
) -> Outcome:
    """Analyse the last customer message in context (unless ``signals`` are given: a batch or
    the scenario file did it), decide, and time the SLA (its targets times ``sla_factor``:
    longer for a restricted customer)."""
    if signals is None:
        if analyzer is None:
            raise InvalidFacts("the scenario has no signals and no analyzer was given")
        signals = analyzer.analyze(analysed_text(situation), context=situation, id=situation.id)
    trace = explain(signals, situation, policy, now=now)
    priority = priority_of(trace.decisions, policy.default.priority)
    sla = due(
        policy.sla,
        policy.calendar,
        priority,
        now=now,
        opened_at=trace.conversation.opened_at,
        pauses=trace.conversation.pauses,
        factor=sla_factor,
    )
    return Outcome(situation, signals, trace, sla)


def run_scenario(obj: Any, policy: PolicySet, analyzer: Analyzer | None, now: datetime) -> Outcome:
    """A ``gracedesk decide`` scenario read from JSON (parsed once, here) through the flow."""
    scenario = parse_scenario(obj)
    return run_situation(scenario.situation, policy, analyzer, now, signals=scenario.signals)
