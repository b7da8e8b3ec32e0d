"""Each persona's distinctive reaction, against the same scenario with only the persona changed."""

from __future__ import annotations

from gracedesk.training import Simulation
from gracedesk.training.lines import templates

JARGON = "Your ticket is with L2 for triage per the SLA."
EMPATHY_ONLY = "I'm so sorry, I understand how frustrating this is for you."
SOLUTION = (
    "I'll send an express replacement today so it arrives on Thursday, and I'll email you "
    "the tracking by 5pm."
)


def as_(scenario, persona: str, **start: float):
    update: dict = {"persona": persona, "lines": ()}
    if start:
        update["start"] = scenario.start.model_copy(update=start)
    return scenario.model_copy(update=update)


def template_texts(when: str) -> set[str]:
    return {t.text for t in templates() if t.when == when}


def test_aggressive_swings_harder_than_others(parcel) -> None:
    moves = {}
    for persona in ("aggressive", "demanding", "indecisive"):
        sim = Simulation.start(as_(parcel, persona, anger=0.5, patience=0.9))
        before = sim.state.anger
        moves[persona] = sim.reply(JARGON).state.anger - before
    assert moves["aggressive"] > moves["demanding"] > 0
    assert moves["aggressive"] > moves["indecisive"]


def test_aggressive_turns_abusive_when_angry_and_a_boundary_stops_it(parcel) -> None:
    sim = Simulation.start(as_(parcel, "aggressive", anger=0.6, patience=0.9))
    r = sim.reply("Your ticket is with L2 for triage.")
    assert r.state.abusive and sim.turns[-1].bucket == "abusive"
    r = sim.reply(
        "I really do want to help, and I'm sorry this happened. Please keep it respectful so "
        "we can sort it out. I'll send an express replacement today."
    )
    assert not r.state.abusive and r.state.boundary_set
    assert "boundary" in {f.kind for f in r.findings}


def test_demanding_wants_a_solution_not_sympathy_and_asks_for_a_manager(parcel) -> None:
    demanding = Simulation.start(as_(parcel, "demanding", anger=0.7, patience=0.9))
    vague = Simulation.start(as_(parcel, "vague", anger=0.7, patience=0.9))
    d = demanding.reply(EMPATHY_ONLY).state.anger
    v = vague.reply(EMPATHY_ONLY).state.anger
    assert d > v  # sympathy without a fix counts for half
    r = demanding.reply(EMPATHY_ONLY)
    assert r.state.demand == "manager" or r.outcome == "manager"
    assert demanding.turns[-1].bucket == "manager"


def test_indecisive_changes_mind_once_and_needs_a_summary(parcel) -> None:
    sim = Simulation.start(as_(parcel, "indecisive", anger=0.4, patience=0.9))
    r = sim.reply(SOLUTION)
    assert r.state.changed_mind and sim.turns[-1].event == "change_mind"
    assert r.customer_text in template_texts("change_mind")
    assert r.state.solved < 0.5 and not r.ended
    r = sim.reply(SOLUTION)  # the same offer again: no summary, not accepted
    assert r.outcome is None
    r = sim.reply(
        "Just to confirm: an express replacement arrives Thursday, and I'll put it all in "
        "writing for you by 5pm today. Does that work?"
    )
    assert r.outcome == "accepted"
    assert sum(t.event == "change_mind" for t in sim.turns) == 1


def test_serial_complainer_reminds_and_needs_ownership(parcel) -> None:
    serial = as_(parcel, "serial_complainer", anger=0.6, patience=0.9)
    sim = Simulation.start(serial)
    assert any(t in sim.opening for t in template_texts("reminder"))
    owned = Simulation.start(serial).reply("That's our mistake, and I'll handle it myself.")
    plain = Simulation.start(serial).reply("Thanks for explaining, I can see the order here.")
    other = Simulation.start(as_(parcel, "indecisive", anger=0.6, patience=0.9)).reply(
        "That's our mistake, and I'll handle it myself."
    )
    start = sim.start_state.trust
    assert owned.state.trust - start > other.state.trust - start > 0
    assert owned.state.trust > plain.state.trust


def test_vague_needs_a_clarifying_question_before_a_fix_counts(router) -> None:
    fix = "I'll book an engineer visit for tomorrow morning between 8 and 12."
    rushed = Simulation.start(router)
    r1 = rushed.reply(fix)
    asked = Simulation.start(router)
    r2 = asked.reply("Sorry it's playing up. Which light is flashing, and when does it drop?")
    assert asked.turns[-1].event == "details"
    r3 = asked.reply(fix)
    assert r3.state.solved > r1.state.solved + 0.2
    assert not r1.ended or r1.outcome != "accepted"
    assert r2.state.clarified
