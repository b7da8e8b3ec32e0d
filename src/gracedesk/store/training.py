"""Training: practice sessions (their turns and scores), assignments, certifications, progress.

The rows of ``training_sessions``, ``training_assignments`` and ``training_certifications``
(``service.training`` decides what to write; ``service.training_progress`` reads them), plus the
reads of the desk's own rows that training needs (the people it names, the resolved
conversations ``train build --from-desk`` turns into scenarios). Every function runs in the
caller's ORM session.

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

from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
)

# -- sessions -----------------------------------------------------------------------------------


def session(s: Session, session_id: int, *, lock: bool = False) -> TrainingSession | None:
    """The session ``session_id`` (``FOR UPDATE`` when ``lock``); None when there is none."""
    q = select(TrainingSession).where(TrainingSession.id == session_id)
    return s.scalar(q.with_for_update() if lock else q)


def add_session(
    s: Session, *, user_id: int, scenario_id: str, seed: int | None, now: datetime
) -> TrainingSession:
    """A new session in progress, flushed; without a ``seed`` its seed is its id."""
    row = TrainingSession(
        user_id=user_id,
        scenario_id=scenario_id,
        seed=seed if seed is not None else 0,
        turns=[],
        status="in_progress",
        started_at=now,
    )
    s.add(row)
    s.flush()
    if seed is None:
        row.seed = row.id
    return row


def set_turns(row: TrainingSession, turns: list[str]) -> None:
    """The trainee's turns, replaced (a new list: the JSON column is saved on assignment)."""
    row.turns = turns


def finish_session(
    s: Session,
    row: TrainingSession,
    *,
    score: float,
    passed: bool,
    outcome: str | None,
    now: datetime,
) -> None:
    """The session done, with its score, pass and outcome (at most 40 characters), flushed."""
    row.status = "done"
    row.score = score
    row.passed = passed
    row.outcome = outcome[:40] if outcome is not None else None
    row.finished_at = now
    s.flush()


def sessions(s: Session, *, agent_id: int | None, limit: int) -> list[TrainingSession]:
    """Sessions, newest first (of ``agent_id`` when given), at most ``limit``."""
    q = select(TrainingSession).order_by(
        TrainingSession.started_at.desc(), TrainingSession.id.desc()
    )
    if agent_id is not None:
        q = q.where(TrainingSession.user_id == agent_id)
    return list(s.scalars(q.limit(limit)))


def finished_sessions(s: Session) -> list[TrainingSession]:
    """Every finished session, in the order they finished (ties: by id)."""
    return list(
        s.scalars(
            select(TrainingSession)
            .where(TrainingSession.status == "done")
            .order_by(TrainingSession.finished_at, TrainingSession.id)
        )
    )


def passed_scenarios(s: Session, user_id: int, since: datetime | None = None) -> dict[str, int]:
    """Each scenario the user passed (finished at or after ``since``) and its first passing
    session's id."""
    q = select(TrainingSession.scenario_id, func.min(TrainingSession.id)).where(
        TrainingSession.user_id == user_id, TrainingSession.passed.is_(True)
    )
    if since is not None:
        q = q.where(TrainingSession.finished_at >= since)
    return {sid: first for sid, first in s.execute(q.group_by(TrainingSession.scenario_id))}


# -- assignments --------------------------------------------------------------------------------


def add_assignment(
    s: Session,
    *,
    user_id: int,
    assigned_by: int,
    scenario_id: str | None,
    set_name: str | None,
    due_at: datetime | None,
    now: datetime,
) -> TrainingAssignment:
    """A new assignment of a scenario or a set, flushed."""
    row = TrainingAssignment(
        scenario_id=scenario_id,
        set_name=set_name,
        user_id=user_id,
        assigned_by=assigned_by,
        due_at=due_at,
        created_at=now,
    )
    s.add(row)
    s.flush()
    return row


def assignments(s: Session, *, agent_id: int | None) -> list[TrainingAssignment]:
    """Every assignment (of ``agent_id`` when given), in no particular order."""
    q = select(TrainingAssignment)
    if agent_id is not None:
        q = q.where(TrainingAssignment.user_id == agent_id)
    return list(s.scalars(q))


def open_assignments(s: Session, user_id: int) -> list[TrainingAssignment]:
    """The user's assignments not done yet."""
    return list(
        s.scalars(
            select(TrainingAssignment).where(
                TrainingAssignment.user_id == user_id, TrainingAssignment.done_at.is_(None)
            )
        )
    )


def close_assignment(a: TrainingAssignment, *, now: datetime) -> None:
    """The assignment done at ``now``."""
    a.done_at = now


def open_assignment_counts(s: Session) -> dict[int, int]:
    """User id -> how many of their assignments are not done (users with any)."""
    return {
        uid: int(n)
        for uid, n in s.execute(
            select(TrainingAssignment.user_id, func.count())
            .where(TrainingAssignment.done_at.is_(None))
            .group_by(TrainingAssignment.user_id)
        )
    }


# -- certifications -----------------------------------------------------------------------------


def certified_sets(s: Session, user_id: int) -> set[str]:
    """The sets the user is certified for."""
    return set(
        s.scalars(
            select(TrainingCertification.set_name).where(TrainingCertification.user_id == user_id)
        )
    )


def add_certification(
    s: Session, *, user_id: int, set_name: str, now: datetime, sessions: list[int]
) -> bool:
    """Certify the user for ``set_name`` (in a savepoint); False when they already are (a
    session of theirs that finished at the same moment certified them)."""
    try:
        with s.begin_nested():
            s.add(
                TrainingCertification(user_id=user_id, set_name=set_name, at=now, sessions=sessions)
            )
            s.flush()
    except IntegrityError:
        return False
    return True


def certifications(s: Session, *, agent_id: int | None) -> list[TrainingCertification]:
    """Certifications, newest first (of ``agent_id`` when given)."""
    q = select(TrainingCertification).order_by(
        TrainingCertification.at.desc(), TrainingCertification.id.desc()
    )
    if agent_id is not None:
        q = q.where(TrainingCertification.user_id == agent_id)
    return list(s.scalars(q))


def certified_pairs(s: Session) -> list[Row[int, str]]:
    """Every certification as ``(user_id, set_name)``."""
    return list(
        s.execute(select(TrainingCertification.user_id, TrainingCertification.set_name)).all()
    )


# -- people -------------------------------------------------------------------------------------


def user(s: Session, user_id: int) -> User | None:
    """The user ``user_id``, active or not; None when there is none."""
    return s.get(User, user_id)


def user_names(s: Session) -> dict[int, str]:
    """Every user's id -> name."""
    return {uid: name for uid, name in s.execute(select(User.id, User.name))}


def active_users(s: Session) -> list[User]:
    """The active users, by name."""
    return list(s.scalars(select(User).where(User.active.is_(True)).order_by(User.name)))


def staff_names(s: Session, user_ids: Collection[int]) -> list[Row[str, str]]:
    """``(name, display_name)`` of the users ``user_ids``."""
    return list(s.execute(select(User.name, User.display_name).where(User.id.in_(user_ids))).all())


# -- scenarios from the desk --------------------------------------------------------------------


def customer_conversation_ids(s: Session, customer_id: int) -> list[int]:
    """The ids of the customer's conversations."""
    return list(s.scalars(select(Conversation.id).where(Conversation.customer_id == customer_id)))


def desk_candidates(
    s: Session, *, limit: int
) -> Sequence[Row[Conversation, bool, int | None, float | None]]:
    """Resolved conversations, riskiest first (ties: by id), at most ``limit``: rows of
    ``(Conversation, escalated, score, risk)``: whether it was escalated, its lowest CSAT
    answer and its customer messages' highest risk (None when there is none)."""
    escalated = (
        select(Escalation.conversation_id)
        .where(Escalation.kind == "escalation")
        .distinct()
        .scalar_subquery()
    )
    csat = (
        select(CsatResponse.conversation_id, func.min(CsatResponse.score).label("score"))
        .where(CsatResponse.score.is_not(None))
        .group_by(CsatResponse.conversation_id)
        .subquery()
    )
    peak = (
        select(Message.conversation_id, func.max(Message.risk).label("risk"))
        .where(Message.author == "customer")
        .group_by(Message.conversation_id)
        .subquery()
    )
    return s.execute(
        select(
            Conversation,
            Conversation.id.in_(escalated).label("escalated"),
            csat.c.score,
            peak.c.risk,
        )
        .outerjoin(csat, csat.c.conversation_id == Conversation.id)
        .outerjoin(peak, peak.c.conversation_id == Conversation.id)
        .where(Conversation.status == "resolved")
        .order_by(Conversation.risk.desc(), Conversation.id)
        .limit(limit)
    ).all()


def conversation_customer(s: Session, conversation_id: int) -> Customer | None:
    """The customer of the conversation; None when either is gone."""
    conv = s.get(Conversation, conversation_id)
    return s.get(Customer, conv.customer_id) if conv is not None else None


def desk_turns(s: Session, conversation_id: int) -> list[Message]:
    """The conversation's customer and agent messages, in the order they came."""
    return list(
        s.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.author.in_(("customer", "agent")),
            )
            .order_by(Message.received_at, Message.id)
        )
    )
