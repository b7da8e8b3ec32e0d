"""``store.training`` on its own (SQLite and PostgreSQL): sessions, passes, assignments and
certifications as the service writes and reads them."""

from __future__ import annotations

from datetime import timedelta

from desk.conftest import NOW, make_user
from gracedesk.store import Store
from gracedesk.store import training as training_store


def test_a_session_without_a_seed_takes_its_id_and_finishes_with_its_score(store: Store) -> None:
    ana = make_user(store, "ana", "agent")[0]
    with store.write() as s:
        conn = s.connection()
        first = training_store.add_session(
            conn, user_id=ana.id, scenario_id="x", seed=None, now=NOW
        )
        second = training_store.add_session(conn, user_id=ana.id, scenario_id="x", seed=7, now=NOW)
        ids = (first.id, second.id)
        assert first.seed == first.id and second.seed == 7
        assert first.status == "in_progress" and first.turns == []
    with store.write() as s:
        conn = s.connection()
        row = training_store.session(conn, ids[0], lock=True)
        assert row is not None
        training_store.set_turns(conn, row.id, ["hello"])
        training_store.finish_session(
            conn, row.id, score=81.5, passed=True, outcome="a" * 50, now=NOW + timedelta(minutes=5)
        )
    with store.read_core() as conn:
        row = training_store.session(conn, ids[0])
        assert row is not None and row.turns == ["hello"] and row.status == "done"
        assert row.score == 81.5 and row.passed is True and row.outcome == "a" * 40
        assert training_store.session(conn, 10_000) is None
        assert [r.id for r in training_store.finished_sessions(conn)] == [ids[0]]
        assert [r.id for r in training_store.sessions(conn, agent_id=ana.id, limit=1)] == [ids[1]]
        assert training_store.sessions(conn, agent_id=ana.id + 99, limit=10) == []
        assert training_store.passed_scenarios(conn, ana.id) == {"x": ids[0]}
        assert training_store.passed_scenarios(conn, ana.id, NOW + timedelta(hours=1)) == {}


def test_assignments_close_and_a_set_is_certified_once(store: Store) -> None:
    ana = make_user(store, "ana", "agent")[0]
    sue = make_user(store, "sue", "supervisor")[0]
    with store.write() as s:
        conn = s.connection()
        a = training_store.add_assignment(
            conn, user_id=ana.id, assigned_by=sue.id, scenario_id="x", set_name=None,
            due_at=None, now=NOW,
        )  # fmt: skip
        training_store.add_assignment(
            conn, user_id=ana.id, assigned_by=sue.id, scenario_id=None, set_name="mini",
            due_at=NOW + timedelta(days=1), now=NOW,
        )  # fmt: skip
        assert training_store.open_assignment_counts(conn) == {ana.id: 2}
        training_store.close_assignment(conn, a.id, now=NOW)
    with store.write() as s:
        conn = s.connection()
        assert [x.set_name for x in training_store.open_assignments(conn, ana.id)] == ["mini"]
        assert len(training_store.assignments(conn, agent_id=ana.id)) == 2
        assert training_store.assignments(conn, agent_id=sue.id) == []
        assert training_store.add_certification(
            conn, user_id=ana.id, set_name="mini", now=NOW, sessions=[1]
        )
        assert not training_store.add_certification(
            conn, user_id=ana.id, set_name="mini", now=NOW, sessions=[2]
        )
    with store.read_core() as conn:
        assert training_store.certified_sets(conn, ana.id) == {"mini"}
        assert [tuple(r) for r in training_store.certified_pairs(conn)] == [(ana.id, "mini")]
        (cert,) = training_store.certifications(conn, agent_id=ana.id)
        assert cert.sessions == [1]
        assert training_store.user_names(conn) == {ana.id: "ana", sue.id: "sue"}
        assert [u.name for u in training_store.active_users(conn)] == ["ana", "sue"]
        user = training_store.user(conn, ana.id)
        assert user is not None and user.name == "ana"
        assert training_store.user(conn, 10_000) is None
