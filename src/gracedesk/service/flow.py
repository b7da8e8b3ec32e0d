"""One scenario through the flow: analyse the last customer message in context, decide, time the SLA.

Shared by ``gracedesk decide`` / ``policy explain`` (a scenario from a file) and the desk (a
scenario built from the store). Pure apart from the analyzer's lazily loaded models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidFacts

if TYPE_CHECKING:
    from gracedesk.analysis.pipeline import Analyzer
    from gracedesk.model import Signals
    from gracedesk.policy import PolicySet, Trace
    from gracedesk.policy.scenario import Scenario
    from gracedesk.policy.sla import Due


@dataclass(frozen=True, slots=True)
class Outcome:
    id: Any
    signals: dict[str, Any]
    signals_obj: Signals
    scenario: Scenario
    trace: Trace
    sla: Due

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "signals": self.signals,
            "decisions": [d.to_dict() for d in self.trace.decisions],
            "sla": self.sla.to_dict(),
        }


def analyse_scenarios(objs: Sequence[Any], analyzer: Analyzer) -> list[Signals]:
    """The analysed message of each scenario, in context, in one batch through the models."""
    from gracedesk.policy.scenario import parse_scenario

    scns = [parse_scenario(o) for o in objs]
    return analyzer.analyze_batch(
        [s.turns[s.analysed].text for s in scns],
        [s.context() for s in scns],
        ids=[s.id for s in scns],
    )


def run_scenario(
    obj: Any,
    policy: PolicySet,
    analyzer: Analyzer | None,
    now: datetime,
    *,
    signals: Signals | None = None,
    sla_factor: float = 1.0,
) -> Outcome:
    """Analyse the last customer message in context, derive the facts, decide, and time the SLA
    (its targets times ``sla_factor``: longer for a restricted customer).

    A scenario that carries ``signals`` is not analysed (``analyzer`` may then be None);
    ``signals`` given here are the analysis already done (a batch, :func:`analyse_scenarios`).
    """
    from gracedesk.policy import Conversation, explain, priority_of
    from gracedesk.policy.scenario import parse_scenario, signals_from
    from gracedesk.policy.sla import BusinessClock, due

    scn = parse_scenario(obj)
    if signals is None and scn.signals is not None:
        signals = signals_from({**scn.signals, "id": scn.id})
    if signals is None:
        if analyzer is None:
            raise InvalidFacts("the scenario has no signals and no analyzer was given")
        text = scn.turns[scn.analysed].text
        signals = analyzer.analyze(text, context=scn.context(), id=scn.id)
    opened = scn.turns[0].at
    warnings = sum(
        1
        for s in scn.customer.sanctions
        if s.level == "warn" and s.at is not None and opened is not None and s.at >= opened
    )
    conversation = Conversation.from_turns(
        scn.turns,
        clock=BusinessClock(policy.calendar),
        now=now,
        pause_while_waiting=policy.calendar.pause_while_waiting_on_customer,
        warnings=warnings,
    )
    trace = explain(signals, conversation, scn.customer, scn.agent, scn.request, policy, now=now)
    priority = priority_of(trace.decisions, policy.default.priority)
    sla = due(
        policy.sla,
        policy.calendar,
        priority,
        now=now,
        opened_at=conversation.opened_at,
        pauses=conversation.pauses,
        factor=sla_factor,
    )
    return Outcome(scn.id, signals.to_dict(), signals, scn, trace, sla)
