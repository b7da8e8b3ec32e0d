"""Training: practice sessions (their turns and scores), assignments, certifications, progress.

The rows of ``training_sessions``, ``training_assignments`` and ``training_certifications``
(``service.training`` decides what to write; ``service.training_progress`` reads them), plus the
reads of the desk's own rows that training needs (the people it names, the resolved
conversations ``train build --from-desk`` turns into scenarios). Every function runs Core
statements on the caller's connection (its transaction); rows come back as ``Row`` values.

- Sessions: :func:`session` (optionally locked), :func:`add_session`, :func:`set_turns`,
  :func:`finish_session`, :func:`sessions` (newest first), :func:`finished_sessions`.
- Scores: :func:`passed_scenarios` (each passed scenario's first passing session).
- Assignments: :func:`add_assignment`, :func:`assignments`, :func:`open_assignments`,
  :func:`close_assignment`, :func:`open_assignment_counts`.
- Certifications: :func:`certified_sets`, :func:`add_certification` (once per person and set),
  :func:`certifications`, :func:`certified_pairs`.
- People: :func:`user`, :func:`user_names`, :func:`active_users`, :func:`staff_names`.
- From the desk: :func:`customer_conversation_ids`, :func:`desk_candidates`,
  :func:`conversation_customer`, :func:`desk_turns`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gracedesk.store.tables import (
    Conversation,
    CsatResponse,
    Customer,
    Escalation,
    Message,
    TrainingAssignment,
    TrainingCertification,
    TrainingSession,
    User,
    table_of,
)

TS, TA = table_of(TrainingSession), table_of(TrainingAssignment)
TC, U = table_of(TrainingCertification), table_of(User)
CONV, CUST, ESC = table_of(Conversation), table_of(Customer), table_of(Escalation)
CSAT, M = table_of(CsatResponse), table_of(Message)

# -- sessions -----------------------------------------------------------------------------------


@cache
def _session_by_id(lock: bool) -> Select[Any]:
    q = select(TS).where(TS.c.id == bindparam("id"))
    return q.with_for_update() if lock else q


def session(conn: Connection, session_id: int, *, lock: bool = False) -> Row[Any] | None:
    """The session ``session_id`` (``FOR UPDATE`` when ``lock``); None when there is none."""
    return conn.execute(_session_by_id(lock), {"id": session_id}).first()


def add_session(
    conn: Connection, *, user_id: int, scenario_id: str, seed: int | None, now: datetime
) -> Row[Any]:
    """A new session in progress; its row. Without a ``seed`` its seed is its id."""
    sid = conn.execute(
        insert(TS)
        .values(
            user_id=user_id,
            scenario_id=scenario_id,
            seed=seed if seed is not None else 0,
            turns=[],
            status="in_progress",
            score=None,
            passed=None,
            outcome=None,
            started_at=now,
            finished_at=None,
        )
        .returning(TS.c.id)
    ).scalar_one()
    if seed is None:
        conn.execute(update(TS).where(TS.c.id == sid).values(seed=sid))
    row = session(conn, sid)
    assert row is not None
    return row


def set_turns(conn: Connection, session_id: int, turns: list[str]) -> None:
    """The trainee's turns, replaced."""
    conn.execute(update(TS).where(TS.c.id == session_id).values(turns=list(turns)))


def finish_session(
    conn: Connection,
    session_id: int,
    *,
    score: float,
    passed: bool,
    outcome: str | None,
    now: datetime,
) -> None:
    """The session done, with its score, pass and outcome (at most 40 characters)."""
    conn.execute(
        update(TS)
        .where(TS.c.id == session_id)
        .values(
            status="done",
            score=score,
            passed=passed,
            outcome=outcome[:40] if outcome is not None else None,
            finished_at=now,
        )
    )


def sessions(conn: Connection, *, agent_id: int | None, limit: int) -> list[Row[Any]]:
    """Sessions, newest first (of ``agent_id`` when given), at most ``limit``."""
    q = select(TS).order_by(TS.c.started_at.desc(), TS.c.id.desc())
    if agent_id is not None:
        q = q.where(TS.c.user_id == agent_id)
    return list(conn.execute(q.limit(limit)).all())


def finished_sessions(conn: Connection) -> list[Row[Any]]:
    """Every finished session, in the order they finished (ties: by id)."""
    return list(
        conn.execute(
            select(TS).where(TS.c.status == "done").order_by(TS.c.finished_at, TS.c.id)
        ).all()
    )


def passed_scenarios(
    conn: Connection, user_id: int, since: datetime | None = None
) -> dict[str, int]:
    """Each scenario the user passed (finished at or after ``since``) and its first passing
    session's id."""
    q = select(TS.c.scenario_id, func.min(TS.c.id)).where(
        TS.c.user_id == user_id, TS.c.passed.is_(True)
    )
    if since is not None:
        q = q.where(TS.c.finished_at >= since)
    return {sid: first for sid, first in conn.execute(q.group_by(TS.c.scenario_id))}


# -- assignments --------------------------------------------------------------------------------


def add_assignment(
    conn: Connection,
    *,
    user_id: int,
    assigned_by: int,
    scenario_id: str | None,
    set_name: str | None,
    due_at: datetime | None,
    now: datetime,
) -> Row[Any]:
    """A new assignment of a scenario or a set; its row."""
    aid = conn.execute(
        insert(TA)
        .values(
            scenario_id=scenario_id,
            set_name=set_name,
            user_id=user_id,
            assigned_by=assigned_by,
            due_at=due_at,
            created_at=now,
            done_at=None,
        )
        .returning(TA.c.id)
    ).scalar_one()
    return conn.execute(select(TA).where(TA.c.id == aid)).one()


def assignments(conn: Connection, *, agent_id: int | None) -> list[Row[Any]]:
    """Every assignment (of ``agent_id`` when given), in no particular order."""
    q = select(TA)
    if agent_id is not None:
        q = q.where(TA.c.user_id == agent_id)
    return list(conn.execute(q).all())


def open_assignments(conn: Connection, user_id: int) -> list[Row[Any]]:
    """The user's assignments not done yet."""
    return list(
        conn.execute(select(TA).where(TA.c.user_id == user_id, TA.c.done_at.is_(None))).all()
    )


def close_assignment(conn: Connection, assignment_id: int, *, now: datetime) -> None:
    """The assignment done at ``now``."""
    conn.execute(update(TA).where(TA.c.id == assignment_id).values(done_at=now))


def open_assignment_counts(conn: Connection) -> dict[int, int]:
    """User id -> how many of their assignments are not done (users with any)."""
    return {
        uid: int(n)
        for uid, n in conn.execute(
            select(TA.c.user_id, func.count()).where(TA.c.done_at.is_(None)).group_by(TA.c.user_id)
        )
    }


# -- certifications -----------------------------------------------------------------------------


def certified_sets(conn: Connection, user_id: int) -> set[str]:
    """The sets the user is certified for."""
    return set(conn.execute(select(TC.c.set_name).where(TC.c.user_id == user_id)).scalars())


def add_certification(
    conn: Connection, *, user_id: int, set_name: str, now: datetime, sessions: list[int]
) -> bool:
    """Certify the user for ``set_name`` (in a savepoint); False when they already are (a
    session of theirs that finished at the same moment certified them)."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(TC).values(
                    user_id=user_id, set_name=set_name, at=now, sessions=list(sessions)
                )
            )
    except IntegrityError:
        return False
    return True


def certifications(conn: Connection, *, agent_id: int | None) -> list[Row[Any]]:
    """Certifications, newest first (of ``agent_id`` when given)."""
    q = select(TC).order_by(TC.c.at.desc(), TC.c.id.desc())
    if agent_id is not None:
        q = q.where(TC.c.user_id == agent_id)
    return list(conn.execute(q).all())


def certified_pairs(conn: Connection) -> list[Row[Any, Any]]:
    """Every certification as ``(user_id, set_name)``."""
    return list(conn.execute(select(TC.c.user_id, TC.c.set_name)).all())


# -- people -------------------------------------------------------------------------------------


def user(conn: Connection, user_id: int) -> Row[Any] | None:
    """The user ``user_id``, active or not; None when there is none."""
    return conn.execute(select(U).where(U.c.id == user_id)).first()


def user_names(conn: Connection) -> dict[int, str]:
    """Every user's id -> name."""
    return {uid: name for uid, name in conn.execute(select(U.c.id, U.c.name))}


def active_users(conn: Connection) -> list[Row[Any]]:
    """The active users, by name."""
    return list(conn.execute(select(U).where(U.c.active.is_(True)).order_by(U.c.name)).all())


def staff_names(conn: Connection, user_ids: Collection[int]) -> list[Row[Any, Any]]:
    """``(name, display_name)`` of the users ``user_ids``."""
    return list(conn.execute(select(U.c.name, U.c.display_name).where(U.c.id.in_(user_ids))).all())


# -- scenarios from the desk --------------------------------------------------------------------


def customer_conversation_ids(conn: Connection, customer_id: int) -> list[int]:
    """The ids of the customer's conversations."""
    return list(conn.execute(select(CONV.c.id).where(CONV.c.customer_id == customer_id)).scalars())


def desk_candidates(conn: Connection, *, limit: int) -> Sequence[Row[*tuple[Any, ...]]]:
    """Resolved conversations, riskiest first (ties: by id), at most ``limit``: rows of the
    conversation's ``id, channel, subject, risk, resolution`` and ``escalated`` (whether it
    was escalated), ``score`` (its lowest CSAT answer) and ``peak_risk`` (its customer
    messages' highest risk); the last two None when there is none."""
    escalated = (
        select(ESC.c.conversation_id).where(ESC.c.kind == "escalation").distinct()
    ).scalar_subquery()
    csat = (
        select(CSAT.c.conversation_id, func.min(CSAT.c.score).label("score"))
        .where(CSAT.c.score.is_not(None))
        .group_by(CSAT.c.conversation_id)
        .subquery()
    )
    peak = (
        select(M.c.conversation_id, func.max(M.c.risk).label("risk"))
        .where(M.c.author == "customer")
        .group_by(M.c.conversation_id)
        .subquery()
    )
    return conn.execute(
        select(
            CONV.c.id,
            CONV.c.channel,
            CONV.c.subject,
            CONV.c.risk,
            CONV.c.resolution,
            CONV.c.id.in_(escalated).label("escalated"),
            csat.c.score,
            peak.c.risk.label("peak_risk"),
        )
        .outerjoin(csat, csat.c.conversation_id == CONV.c.id)
        .outerjoin(peak, peak.c.conversation_id == CONV.c.id)
        .where(CONV.c.status == "resolved")
        .order_by(CONV.c.risk.desc(), CONV.c.id)
        .limit(limit)
    ).all()


def conversation_customer(conn: Connection, conversation_id: int) -> Row[Any, Any] | None:
    """The customer of the conversation (``name, flags``); None when either is gone."""
    return conn.execute(
        select(CUST.c.name, CUST.c.flags)
        .join(CONV, CONV.c.customer_id == CUST.c.id)
        .where(CONV.c.id == conversation_id)
    ).first()


def desk_turns(conn: Connection, conversation_id: int) -> list[Row[Any, Any, Any, Any]]:
    """The conversation's customer and agent messages, in the order they came: ``author,
    author_user_id, text, signals``."""
    return list(
        conn.execute(
            select(M.c.author, M.c.author_user_id, M.c.text, M.c.signals)
            .where(
                M.c.conversation_id == conversation_id,
                M.c.author.in_(("customer", "agent")),
            )
            .order_by(M.c.received_at, M.c.id)
        ).all()
    )
