"""Sessions: deterministic, and a good and a bad trainee end far apart on a hard scenario."""

from __future__ import annotations

import itertools

import pytest

from gracedesk.errors import EmptyText, SessionEnded
from gracedesk.training import Simulation, replay

from .conftest import DISMISSIVE, EMPATHETIC


def test_same_seed_same_session(parcel) -> None:
    a = replay(parcel, 7, DISMISSIVE).result().to_dict()
    b = replay(parcel, 7, DISMISSIVE).result().to_dict()
    assert a == b
    c = replay(parcel, 7, EMPATHETIC).result().to_dict()
    d = replay(parcel, 7, EMPATHETIC).result().to_dict()
    assert c == d


def test_seed_changes_the_words_not_the_states(parcel) -> None:
    runs = [replay(parcel, seed, EMPATHETIC).result() for seed in range(6)]
    assert len({tuple(m["text"] for m in r.transcript) for r in runs}) > 1
    assert len({str(r.states) for r in runs}) == 1
    assert len({r.score for r in runs}) == 1


def test_replay_rebuilds_an_interactive_session(parcel) -> None:
    sim = Simulation.start(parcel, seed=3)
    for text in EMPATHETIC[:2]:
        sim.reply(text)
    again = replay(parcel, 3, EMPATHETIC[:2])
    assert again.transcript == sim.transcript
    assert again.states == sim.states


def test_empathetic_trainee_calms_the_customer_and_passes(parcel) -> None:
    sim = replay(parcel, 0, EMPATHETIC)
    r = sim.result()
    assert r.outcome == "accepted" and r.passed and r.score >= 85
    angers = [parcel.start_state()["anger"]] + [s["anger"] for s in r.states]
    assert angers[-1] < 0.3 and all(b <= a for a, b in itertools.pairwise(angers))
    assert all(c["score"] == 1.0 for c in r.rubric if c["criterion"] != "boundaries")
    assert r.transcript[0] == {"role": "customer", "text": sim.opening}
    assert [m["role"] for m in r.transcript[:3]] == ["customer", "trainee", "customer"]
    assert len(r.states) == len(sim.turns)


def test_dismissive_trainee_escalates_and_fails_with_feedback_naming_turns(parcel) -> None:
    r = replay(parcel, 0, DISMISSIVE).result()
    assert r.outcome in ("public", "manager")
    assert not r.passed and r.score < 40
    assert r.states[0]["anger"] > parcel.start_state()["anger"]
    rubric = {c["criterion"]: c for c in r.rubric}
    assert rubric["empathy"]["score"] == 0.0 and rubric["empathy"]["turns"] == [1, 2]
    assert "turns 1, 2" in rubric["empathy"]["feedback"]
    assert "turn 1" in rubric["policy"]["feedback"]
    for c in r.rubric:
        if c["score"] < 1.0:
            assert c["better_reply"], c["criterion"]


def test_far_apart(parcel) -> None:
    good = replay(parcel, 1, EMPATHETIC).result().score
    bad = replay(parcel, 1, DISMISSIVE).result().score
    assert good - bad >= 50


def test_no_reply_after_the_end_and_no_empty_reply(parcel) -> None:
    sim = replay(parcel, 0, DISMISSIVE)
    assert sim.done
    with pytest.raises(SessionEnded):
        sim.reply("Hello?")
    fresh = Simulation.start(parcel)
    with pytest.raises(EmptyText):
        fresh.reply("   ")


def test_max_turns_ends_unresolved(router) -> None:
    sim = Simulation.start(router, seed=0, max_turns=2)
    for _ in range(2):
        r = sim.reply("Let me check that for you.")
    assert r.ended and r.outcome == "unresolved" and sim.done


def test_turn_result_carries_state_and_findings(parcel) -> None:
    sim = Simulation.start(parcel, seed=0)
    r = sim.reply(DISMISSIVE[0])
    kinds = {f.kind: f.good for f in r.findings}
    assert kinds["dismissive"] is False and kinds["policy_recital"] is False
    assert r.state.anger > sim.start_state.anger and r.state.trust < sim.start_state.trust
    assert r.customer_text


def test_the_customer_answers_the_bad_move(router) -> None:
    """A "calm down" gets a line about being told to calm down (a trigger template)."""
    sim = Simulation.start(router.model_copy(update={"lines": ()}), seed=0)
    r = sim.reply("Calm down, please. It's probably your router settings.")
    assert "calm down" in r.customer_text.lower() or "relax" in r.customer_text.lower()


def test_facts_fill_the_lines(parcel) -> None:
    sim = Simulation.start(parcel, seed=0)
    assert "P-7731" in sim.opening and "{" not in sim.opening
    for text in DISMISSIVE:
        if sim.done:
            break
        assert "{" not in sim.reply(text).customer_text
