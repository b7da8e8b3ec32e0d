"""Training on the store (SQLite and PostgreSQL): sessions replay from what is stored,
assignments close when passed, an agent passing a whole set is certified once, all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from desk.conftest import NOW, make_user
from gracedesk.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gracedesk.service import training, training_progress
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, TrainingCertification, TrainingSession
from gracedesk.training import load_scenarios, replay

from .sessions import BAD, GOOD, SCENARIO


@pytest.fixture(scope="module")
def lib() -> training.Library:
    """The packaged scenarios with a one-scenario set, so certification is quick to earn."""
    scenarios = {s.id: s for s in load_scenarios()}
    mini = training.TrainingSet("mini", "Mini", "one scenario", (SCENARIO,))
    return training.Library(scenarios, {"mini": mini, **training.load_sets()})


def _play(store: Store, lib: training.Library, user: object, texts: tuple[str, ...]) -> int:
    sid = training.start(store, lib, SCENARIO, user=user, now=NOW)  # type: ignore[arg-type]
    for i, text in enumerate(texts):
        p = training.reply(store, lib, sid, text, user=user, now=NOW, turn=i)  # type: ignore[arg-type]
        if p.done:
            break
    return sid


def _kinds(store: Store) -> list[str]:
    with store.read() as s:
        return list(s.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def test_a_session_stores_only_its_replies_and_replays_to_the_same_result(
    store: Store, lib: training.Library
) -> None:
    ana = make_user(store, "ana", "agent")[0]
    sid = training.start(store, lib, SCENARIO, user=ana, now=NOW)
    p = training.practice(store, lib, sid, user=ana)
    assert p.status == "in_progress" and p.seed == sid and p.result is None
    assert p.simulation.transcript[0]["role"] == "customer"

    p = training.reply(store, lib, sid, GOOD[0], user=ana, now=NOW, turn=0)
    with store.read() as s:
        row = s.get(TrainingSession, sid)
        assert row is not None and row.turns == [GOOD[0]] and row.status == "in_progress"
    # a resent form (the same turn count) adds nothing
    with pytest.raises(Conflict):
        training.reply(store, lib, sid, GOOD[0], user=ana, now=NOW, turn=0)
    for i, text in enumerate(GOOD[1:], start=1):
        p = training.reply(store, lib, sid, text, user=ana, now=NOW + timedelta(minutes=i), turn=i)
        if p.done:
            break
    assert p.done and p.result is not None and p.result.passed
    expected = replay(lib.scenario(SCENARIO), sid, GOOD[: len(p.simulation.turns)])
    assert p.result.to_dict() == expected.result().to_dict()
    with store.read() as s:
        row = s.get(TrainingSession, sid)
        assert row is not None and row.status == "done"
        assert row.score == p.result.score and row.passed is True
        assert row.outcome == p.result.outcome and row.finished_at is not None
    with pytest.raises(Conflict):
        training.reply(store, lib, sid, "one more", user=ana, now=NOW, turn=None)
    assert _kinds(store).count("training.started") == 1
    assert "training.finished" in _kinds(store)


def test_only_the_trainee_replies_and_a_supervisor_may_watch(
    store: Store, lib: training.Library
) -> None:
    ana = make_user(store, "ana", "agent")[0]
    bo = make_user(store, "bo", "agent")[0]
    lead = make_user(store, "lead", "supervisor")[0]
    sid = training.start(store, lib, SCENARIO, user=ana, now=NOW)
    with pytest.raises(PermissionDenied):
        training.reply(store, lib, sid, GOOD[0], user=bo, now=NOW)
    with pytest.raises(PermissionDenied):
        training.practice(store, lib, sid, user=bo)
    with pytest.raises(PermissionDenied):
        training.reply(store, lib, sid, GOOD[0], user=lead, now=NOW)
    assert training.practice(store, lib, sid, user=lead).id == sid
    with pytest.raises(NotFound):
        training.start(store, lib, "no-such-scenario", user=ana, now=NOW)
    with pytest.raises(InvalidRequest):
        training.reply(store, lib, sid, "   ", user=ana, now=NOW)


def test_ending_early_scores_the_replies_given(store: Store, lib: training.Library) -> None:
    ana = make_user(store, "ana", "agent")[0]
    sid = training.start(store, lib, SCENARIO, user=ana, now=NOW)
    training.reply(store, lib, sid, BAD[0], user=ana, now=NOW)
    p = training.finish(store, lib, sid, user=ana, now=NOW)
    assert p.done and p.result is not None and not p.result.passed
    with pytest.raises(Conflict):
        training.finish(store, lib, sid, user=ana, now=NOW)


def test_assignments_close_when_passed_and_a_set_certifies_once(
    store: Store, lib: training.Library
) -> None:
    ana = make_user(store, "ana", "agent")[0]
    lead = make_user(store, "lead", "supervisor")[0]
    due = NOW + timedelta(days=7)
    with pytest.raises(PermissionDenied):
        training.assign(store, lib, by=ana, agent_id=ana.id, now=NOW, scenario_id=SCENARIO)
    with pytest.raises(InvalidRequest):
        training.assign(store, lib, by=lead, agent_id=ana.id, now=NOW)
    with pytest.raises(NotFound):
        training.assign(store, lib, by=lead, agent_id=ana.id, now=NOW, set_name="nope")
    one = training.assign(
        store, lib, by=lead, agent_id=ana.id, now=NOW, scenario_id=SCENARIO, due_at=due
    )
    both = training.assign(store, lib, by=lead, agent_id=ana.id, now=NOW, set_name="mini")
    assert one["due_at"] == due and both["scenarios"] == [SCENARIO]

    _play(store, lib, ana, BAD)  # failed: nothing closes, no certificate
    mine = training.assignments(store, lib, user=ana)
    assert [a["done_at"] for a in mine] == [None, None]
    assert training_progress.certifications(store, lib, user=ana) == []

    passing = _play(store, lib, ana, GOOD)
    mine = training.assignments(store, lib, user=ana)
    assert all(a["done_at"] == NOW for a in mine)
    certs = training_progress.certifications(store, lib, user=ana)
    assert [(c["set_name"], c["sessions"]) for c in certs] == [("mini", [passing])]

    _play(store, lib, ana, GOOD)  # passing again certifies nothing new
    with store.read() as s:
        assert len(list(s.scalars(select(TrainingCertification)))) == 1
    kinds = _kinds(store)
    assert kinds.count("training.assigned") == 2 and kinds.count("training.certified") == 1
    # an agent sees only their own; a supervisor sees everyone's
    with pytest.raises(PermissionDenied):
        training.assignments(store, lib, user=ana, agent_id=lead.id)
    assert len(training.assignments(store, lib, user=lead)) == 2


def test_progress_shows_each_persons_scores_over_time(store: Store, lib: training.Library) -> None:
    ana = make_user(store, "ana", "agent")[0]
    bo = make_user(store, "bo", "agent")[0]
    lead = make_user(store, "lead", "supervisor")[0]
    _play(store, lib, ana, BAD)
    _play(store, lib, ana, GOOD)
    training.assign(store, lib, by=lead, agent_id=bo.id, now=NOW, set_name="foundations")
    with pytest.raises(PermissionDenied):
        training_progress.progress(store, lib, by=ana)
    rows = {p.name: p for p in training_progress.progress(store, lib, by=lead)}
    assert set(rows) == {"ana", "bo"}
    a = rows["ana"]
    assert (a.sessions, a.passed, a.scenarios_passed) == (2, 1, 1)
    scores = [s["score"] for s in training_progress.sessions(store, lib, user=ana)]
    assert a.mean_score == round(sum(scores) / 2, 1) and a.certified == ("mini",)
    assert list(a.weekly) == [training_progress.week_of(NOW)]
    assert rows["bo"].sessions == 0 and rows["bo"].open_assignments == 1


def test_the_shipped_sets_name_shipped_scenarios() -> None:
    lib = training.library()
    for ts in lib.sets.values():
        assert ts.scenarios, ts.name
        missing = [x for x in ts.scenarios if x not in lib.scenarios]
        assert not missing, (ts.name, missing)
    easy = {lib.scenarios[x].difficulty for x in lib.sets["foundations"].scenarios}
    assert easy <= {"easy", "medium"}
    assert {lib.scenarios[x].difficulty for x in lib.sets["advanced"].scenarios} == {"hard"}
