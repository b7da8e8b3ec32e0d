"""Training progress: each person's practice sessions, scores over time and certifications.

Read-only views over ``training_sessions`` and ``training_certifications`` (written by
``service.training``). An agent sees their own; supervisors and admins see everyone's, and
:func:`progress` (the console's progress table and chart) is theirs only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gracedesk.errors import PermissionDenied
from gracedesk.model.staff import Staff
from gracedesk.service.records import SUPERVISING, require
from gracedesk.service.training import Library, user_names
from gracedesk.store import Store
from gracedesk.store import training as training_store

if TYPE_CHECKING:
    from sqlalchemy import Row


def session_dict(r: Row[Any], lib: Library) -> dict[str, Any]:
    sc = lib.scenarios.get(r.scenario_id)
    return {
        "id": r.id,
        "user_id": r.user_id,
        "scenario_id": r.scenario_id,
        "title": sc.title if sc is not None else r.scenario_id,
        "seed": r.seed,
        "turns": len(r.turns),
        "status": r.status,
        "score": r.score,
        "passed": r.passed,
        "outcome": r.outcome,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
    }


def sessions(
    store: Store, lib: Library, *, user: Staff, agent_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Sessions, newest first: one's own; anyone's (or everyone's) for supervisors."""
    if user.role not in SUPERVISING:
        if agent_id not in (None, user.id):
            raise PermissionDenied("an agent sees only their own practice sessions")
        agent_id = user.id
    with store.read_core() as conn:
        rows = training_store.sessions(conn, agent_id=agent_id, limit=limit)
        return [session_dict(r, lib) for r in rows]


def certifications(
    store: Store, lib: Library, *, user: Staff, agent_id: int | None = None
) -> list[dict[str, Any]]:
    """Certifications, newest first: one's own; anyone's for supervisors."""
    if user.role not in SUPERVISING:
        agent_id = user.id
    names = user_names(store)
    with store.read_core() as conn:
        rows = training_store.certifications(conn, agent_id=agent_id)
    return [
        {
            "user_id": c.user_id,
            "agent": names.get(c.user_id, "?"),
            "set_name": c.set_name,
            "title": lib.sets[c.set_name].title if c.set_name in lib.sets else c.set_name,
            "at": c.at,
            "sessions": list(c.sessions),
        }
        for c in rows
    ]


@dataclass(frozen=True, slots=True)
class AgentProgress:
    """One person's practice: counts, scores, the weekly mean score, sets certified."""

    user_id: int
    name: str
    sessions: int
    passed: int
    mean_score: float | None
    last_score: float | None
    best: dict[str, float]  # scenario id -> best score
    scenarios_passed: int  # different scenarios passed at least once
    weekly: dict[str, float]  # Monday (ISO date) -> mean score of the sessions that week
    certified: tuple[str, ...]
    open_assignments: int


def week_of(t: datetime) -> str:
    return (t - timedelta(days=t.weekday())).date().isoformat()


def progress(store: Store, lib: Library, *, by: Staff) -> list[AgentProgress]:
    """Everyone who practised or has an assignment, by name (supervisors and admins)."""
    require(by, *SUPERVISING)
    with store.read_core() as conn:
        done = training_store.finished_sessions(conn)
        certs = training_store.certified_pairs(conn)
        pending = training_store.open_assignment_counts(conn)
        people = training_store.user_names(conn)
    by_user: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in done:
        by_user[r.user_id].append(r)
    certified: dict[int, list[str]] = defaultdict(list)
    for uid, name in certs:
        certified[uid].append(name)
    out = []
    for uid in sorted(
        set(by_user) | set(pending) | set(certified), key=lambda u: people.get(u, "")
    ):
        rows = by_user.get(uid, [])
        scores = [r.score for r in rows if r.score is not None]
        best: dict[str, float] = {}
        weeks: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            if r.score is None:
                continue
            best[r.scenario_id] = max(best.get(r.scenario_id, 0.0), r.score)
            weeks[week_of(r.finished_at or r.started_at)].append(r.score)
        out.append(
            AgentProgress(
                user_id=uid,
                name=people.get(uid, "?"),
                sessions=len(rows),
                passed=sum(1 for r in rows if r.passed),
                mean_score=round(sum(scores) / len(scores), 1) if scores else None,
                last_score=scores[-1] if scores else None,
                best=best,
                scenarios_passed=len({r.scenario_id for r in rows if r.passed}),
                weekly={w: round(sum(v) / len(v), 1) for w, v in sorted(weeks.items())},
                certified=tuple(sorted(certified.get(uid, []))),
                open_assignments=pending.get(uid, 0),
            )
        )
    return out
