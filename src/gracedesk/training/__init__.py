"""Training with simulated difficult customers: scenarios, sessions, scoring (docs/training.md).

Public API (the console and the CLI build on these names)::

    Simulation.start(scenario, *, seed=0, backend=None) -> Simulation
    Simulation.opening / .reply(text) -> TurnResult / .done / .result(pass_mark=70)
    replay(scenario, seed, trainee_texts) -> Simulation
    load_scenarios(extra_dirs=()) / get_scenario(id, extra_dirs=())
    mood_svg(states) -> str
"""

from __future__ import annotations

from gracedesk.training.backend import BackendError, LineRequest, LineWriter
from gracedesk.training.chart import mood_svg
from gracedesk.training.scenario import (
    CAUSES,
    DIFFICULTIES,
    PERSONAS,
    Scenario,
    dump_scenario,
    get_scenario,
    load_scenarios,
    parse_scenario,
)
from gracedesk.training.scoring import PASS_MARK, SessionResult
from gracedesk.training.simulator import MAX_TURNS, Simulation, TurnFinding, TurnResult, replay
from gracedesk.training.state import CustomerState

__all__ = [
    "CAUSES",
    "DIFFICULTIES",
    "MAX_TURNS",
    "PASS_MARK",
    "PERSONAS",
    "BackendError",
    "CustomerState",
    "LineRequest",
    "LineWriter",
    "Scenario",
    "SessionResult",
    "Simulation",
    "TurnFinding",
    "TurnResult",
    "dump_scenario",
    "get_scenario",
    "load_scenarios",
    "mood_svg",
    "parse_scenario",
    "replay",
]
