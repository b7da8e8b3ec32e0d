"""The rubric: criteria with the turns that earned or lost them, better replies, the mood chart."""

from __future__ import annotations

from gracedesk.training import mood_svg, replay
from gracedesk.training.scenario import CRITERIA
from gracedesk.training.scoring import mood

from .conftest import DISMISSIVE, EMPATHETIC


def test_rubric_has_every_criterion_weighted_and_the_score_is_their_mean(parcel) -> None:
    r = replay(parcel, 0, DISMISSIVE).result()
    assert [c["criterion"] for c in r.rubric] == list(CRITERIA)
    assert abs(sum(c["weight"] for c in r.rubric) - 1.0) < 1e-3
    assert r.score == round(100 * sum(c["weight"] * c["score"] for c in r.rubric), 1)
    assert all(0.0 <= c["score"] <= 1.0 for c in r.rubric)


def test_pass_mark_decides_passed(parcel) -> None:
    sim = replay(parcel, 0, DISMISSIVE)
    score = sim.result().score
    assert sim.result(pass_mark=score).passed
    assert not sim.result(pass_mark=score + 0.1).passed
    assert not sim.result().passed and sim.result().pass_mark == 70.0


def test_promising_beyond_authority_loses_promises_and_policy(parcel) -> None:
    text = (
        "I'm so sorry about this. I'll refund you 150 EUR today and I guarantee the parcel "
        "P-7731 arrives on Thursday."
    )
    r = replay(parcel, 0, [text]).result()
    rubric = {c["criterion"]: c for c in r.rubric}
    assert rubric["promises"]["score"] < 1.0 and rubric["promises"]["turns"] == [1]
    assert "approval" in rubric["promises"]["better_reply"]
    assert rubric["policy"]["score"] < 1.0 and "over authority" in rubric["policy"]["feedback"]


def test_abuse_without_a_boundary_loses_boundaries(parcel) -> None:
    abusive = parcel.model_copy(update={"opening": "You useless idiots, where is {order}?"})
    r = replay(abusive, 0, ["We'll look into it."]).result()
    rubric = {c["criterion"]: c for c in r.rubric}
    assert rubric["boundaries"]["score"] == 0.0 and rubric["boundaries"]["turns"] == [1]
    assert "respect" in rubric["boundaries"]["better_reply"].lower()
    kept = replay(
        abusive,
        0,
        [
            "I want to help, and I'm sorry this happened. Please keep it respectful so we can "
            "sort it out: I'll send an express replacement today."
        ],
    ).result()
    assert {c["criterion"]: c["score"] for c in kept.rubric}["boundaries"] == 1.0


def test_jargon_loses_clarity_with_the_coach_rewrite(router) -> None:
    r = replay(router, 0, ["Your ticket is with L2 for triage, the RMA is actioned."]).result()
    clarity = {c["criterion"]: c for c in r.rubric}["clarity"]
    assert clarity["score"] < 1.0 and clarity["turns"] == [1] and "jargon" in clarity["feedback"]
    assert "L2" not in clarity["better_reply"]


def test_mood_data_and_svg(parcel) -> None:
    r = replay(parcel, 0, EMPATHETIC).result()
    m = r.to_dict()["mood"]
    assert m == mood(r.start, r.states) and len(m) == len(r.states) + 1
    assert m[0]["turn"] == 0 and m[-1]["anger"] < m[0]["anger"]
    svg = mood_svg([r.start, *r.states])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and "<script" not in svg.lower()


def test_svg_escapes_whatever_it_is_given() -> None:
    svg = mood_svg([{"anger": 0.5, "trust": 0.2, "note": "<script>"}, {"anger": 1, "trust": 0}])
    assert "<script" not in svg
    assert mood_svg([]).count("<polyline") == 0
