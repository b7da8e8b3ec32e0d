"""Reports: the read-only queries behind the report and "what calms customers".

Nothing here writes. ``service.reports`` turns these rows into ``insights``' plain rows (trends,
SLA minutes, causes, CSAT and its model's training rows, sanctions, people and their breaks);
``service.outcomes`` turns the reply reads into the per-reply records of phrase outcomes. Every
function runs in the caller's ORM session.

- The scope: :class:`Scope` (a period, optionally one team and/or one agent),
  :func:`user_id` (an agent by name), :func:`touched` (the conversations in scope that
  anything in the period touched) and :func:`answered` (the conversations whose CSAT answers
  train the model), both statements of conversation ids.
- A history of the conversations a statement selects: :func:`messages`,
  :func:`conversations`, :func:`escalations`, :func:`surveys`, :func:`events`,
  :func:`sanctions`, :func:`customers`.
- What belongs to no conversation: :func:`lifted` (``sanction.lifted`` events),
  :func:`loose_sanctions`, :func:`users`, :func:`breaks`.
- The console's filter: :func:`teams`, :func:`active_user_names`.
- Phrase outcomes: :func:`agent_replies`, :func:`analysed_customer_messages`,
  :func:`afterwards` (escalations, resolutions and reopenings, CSAT answers), conversation ids
  read ``CHUNK`` at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    CsatResponse,
    Customer,
    Escalation,
    Message,
    Sanction,
    User,
)

CHUNK = 500  # conversation ids per IN (...) list


@dataclass(frozen=True, slots=True)
class Scope:
    """A report's period ``[since, until)``, narrowed to a team and/or an agent when given."""

    since: datetime
    until: datetime
    team: str | None = None
    agent_id: int | None = None

    def filters(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.team is not None:
            out.append(Conversation.team == self.team)
        if self.agent_id is not None:
            out.append(Conversation.assignee_id == self.agent_id)
        return out

    def during(self, col: Any) -> ColumnElement[bool]:
        return and_(col >= self.since, col < self.until)


# -- the scope ----------------------------------------------------------------------------------


def user_id(s: Session, name: str) -> int | None:
    """The id of the user named ``name``; None when there is none."""
    return s.scalar(select(User.id).where(User.name == name))


def touched(scope: Scope) -> Select[Any]:
    """Conversations in scope opened before ``until`` that anything in the period touched."""
    cid = Conversation.id
    during = scope.during
    return select(cid).where(
        Conversation.opened_at < scope.until,
        *scope.filters(),
        or_(
            Conversation.opened_at >= scope.since,
            Conversation.resolved_at >= scope.since,
            Conversation.updated_at >= scope.since,
            Conversation.sla_breached_at >= scope.since,
            exists().where(AuditEvent.conversation_id == cid, during(AuditEvent.at)),
            exists().where(Message.conversation_id == cid, during(Message.received_at)),
            exists().where(
                Escalation.conversation_id == cid,
                or_(during(Escalation.created_at), during(Escalation.decided_at)),
            ),
            exists().where(CsatResponse.conversation_id == cid, during(CsatResponse.sent_at)),
            exists().where(Sanction.conversation_id == cid, during(Sanction.created_at)),
        ),
    )


def answered(until: datetime, *, limit: int) -> Select[Any]:
    """The conversations of the ``limit`` surveys answered last before ``until``."""
    return (
        select(CsatResponse.conversation_id)
        .where(CsatResponse.score.is_not(None), CsatResponse.responded_at < until)
        .order_by(CsatResponse.responded_at.desc())
        .limit(limit)
    )


# -- the history of the conversations ``ids`` selects -------------------------------------------


def messages(
    s: Session, ids: Select[Any]
) -> Sequence[
    Row[
        int,
        int,
        str,
        str,
        datetime,
        str,
        float | None,
        dict[str, Any] | None,
        dict[str, Any] | None,
    ]
]:
    """Their messages: id, conversation, author, channel, time, analysis state, risk, signals,
    critique."""
    M = Message
    return s.execute(
        select(
            M.id, M.conversation_id, M.author, M.channel, M.received_at, M.analysis_state,
            M.risk, M.signals, M.critique,
        ).where(M.conversation_id.in_(ids))
    ).all()  # fmt: skip


def conversations(
    s: Session, ids: Select[Any]
) -> Sequence[
    Row[
        int,
        int,
        str,
        str | None,
        int | None,
        str,
        str,
        datetime,
        datetime | None,
        datetime | None,
        datetime | None,
    ]
]:
    """The conversations: id, customer, channel, team, assignee, priority, status and the
    times opened, first answered, resolved and SLA-breached."""
    return s.execute(
        select(
            Conversation.id, Conversation.customer_id, Conversation.channel,
            Conversation.team, Conversation.assignee_id, Conversation.priority,
            Conversation.status, Conversation.opened_at, Conversation.first_response_at,
            Conversation.resolved_at, Conversation.sla_breached_at,
        ).where(Conversation.id.in_(ids))
    ).all()  # fmt: skip


def escalations(
    s: Session, ids: Select[Any]
) -> Sequence[Row[int, int, str, str | None, str | None, str, datetime, datetime | None]]:
    """Their escalations: id, conversation, kind, target, rule, state, created, decided."""
    E = Escalation
    return s.execute(
        select(
            E.id, E.conversation_id, E.kind, E.target, E.rule_id, E.state, E.created_at,
            E.decided_at,
        ).where(E.conversation_id.in_(ids))
    ).all()  # fmt: skip


def surveys(
    s: Session, ids: Select[Any]
) -> Sequence[Row[int, int, datetime, int | None, datetime | None]]:
    """Their CSAT surveys: id, conversation, sent, score, answered."""
    CS = CsatResponse
    return s.execute(
        select(CS.id, CS.conversation_id, CS.sent_at, CS.score, CS.responded_at).where(
            CS.conversation_id.in_(ids)
        )
    ).all()


def events(
    s: Session, ids: Select[Any], kinds: Sequence[str]
) -> Sequence[Row[str, datetime, int | None, int | None, dict[str, Any]]]:
    """Their audit events of ``kinds``: kind, time, conversation, actor id, detail."""
    return s.execute(
        select(
            AuditEvent.kind, AuditEvent.at, AuditEvent.conversation_id, AuditEvent.actor_id,
            AuditEvent.detail,
        ).where(AuditEvent.conversation_id.in_(ids), AuditEvent.kind.in_(kinds))
    ).all()  # fmt: skip


SanctionRead = Row[int, int, int | None, str, str, datetime]


def _sanctions(s: Session, where: ColumnElement[bool]) -> Sequence[SanctionRead]:
    return s.execute(
        select(
            Sanction.id, Sanction.customer_id, Sanction.conversation_id, Sanction.level,
            Sanction.state, Sanction.created_at,
        ).where(where)
    ).all()  # fmt: skip


def sanctions(s: Session, ids: Select[Any]) -> Sequence[SanctionRead]:
    """Their sanctions: id, customer, conversation, level, state, created."""
    return _sanctions(s, Sanction.conversation_id.in_(ids))


def customers(s: Session, ids: Select[Any]) -> Sequence[Row[int, str, str | None]]:
    """Their customers: id, external id, name."""
    return s.execute(
        select(Customer.id, Customer.external_id, Customer.name).where(
            Customer.id.in_(select(Conversation.customer_id).where(Conversation.id.in_(ids)))
        )
    ).all()


# -- what belongs to no conversation ------------------------------------------------------------


def lifted(s: Session, scope: Scope) -> Sequence[Row[datetime, dict[str, Any]]]:
    """The ``sanction.lifted`` events of the period: time, detail."""
    return s.execute(
        select(AuditEvent.at, AuditEvent.detail).where(
            AuditEvent.kind == "sanction.lifted", scope.during(AuditEvent.at)
        )
    ).all()


def loose_sanctions(s: Session, scope: Scope, lifted_ids: Sequence[int]) -> Sequence[SanctionRead]:
    """The sanctions ``lifted_ids`` (of a conversation in scope when the scope names a team or
    an agent) and, without such a filter, the sanctions given outside a conversation in the
    period; rows as :func:`sanctions`."""
    filters = scope.filters()
    loose: list[ColumnElement[bool]] = [Sanction.id.in_(list(lifted_ids))]
    if not filters:
        loose.append(and_(Sanction.conversation_id.is_(None), scope.during(Sanction.created_at)))
        where: ColumnElement[bool] = or_(*loose)
    else:
        where = Sanction.id.in_(
            select(Sanction.id)
            .join(Conversation, Conversation.id == Sanction.conversation_id)
            .where(Sanction.id.in_(list(lifted_ids)), *filters)
        )
    return _sanctions(s, where)


def users(s: Session) -> Sequence[Row[int, str, str, str, datetime | None]]:
    """Every user: id, name, display name, role, last break."""
    return s.execute(
        select(User.id, User.name, User.display_name, User.role, User.last_break_at)
    ).all()


def breaks(s: Session, scope: Scope) -> Sequence[Row[datetime, int | None]]:
    """The ``agent.break`` events of the period: time, actor id."""
    return s.execute(
        select(AuditEvent.at, AuditEvent.actor_id).where(
            AuditEvent.kind == "agent.break", scope.during(AuditEvent.at)
        )
    ).all()


# -- the console's filter -----------------------------------------------------------------------


def teams(s: Session) -> Sequence[str | None]:
    """Every team a conversation names (distinct)."""
    return s.scalars(
        select(Conversation.team).where(Conversation.team.is_not(None)).distinct()
    ).all()


def active_user_names(s: Session) -> Sequence[str]:
    """The active users' names, in order."""
    return s.scalars(select(User.name).where(User.active.is_(True)).order_by(User.name)).all()


# -- phrase outcomes ----------------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def agent_replies(
    s: Session, since: datetime | None, until: datetime | None
) -> list[Row[int, int, str, datetime, dict[str, Any] | None]]:
    """Every agent reply sent in ``[since, until)`` (either end open when None), by id: id,
    conversation, text, time, critique."""
    q = select(
        Message.id, Message.conversation_id, Message.text, Message.received_at, Message.critique
    ).where(Message.author == "agent")
    if since is not None:
        q = q.where(Message.received_at >= since)
    if until is not None:
        q = q.where(Message.received_at < until)
    return list(s.execute(q.order_by(Message.id)).all())


def analysed_customer_messages(
    s: Session, convs: Sequence[int]
) -> list[Row[int, int, dict[str, Any] | None, dict[str, Any] | None]]:
    """The customer messages of ``convs`` with stored signals (by id within each ``CHUNK`` of
    conversations): id, conversation, signals, guidance."""
    out: list[Row[int, int, dict[str, Any] | None, dict[str, Any] | None]] = []
    for part in _chunks(convs):
        q = (
            select(Message.id, Message.conversation_id, Message.signals, Message.guidance)
            .where(
                Message.conversation_id.in_(part),
                Message.author == "customer",
                Message.signals.is_not(None),
            )
            .order_by(Message.id)
        )
        out.extend(s.execute(q))
    return out


@dataclass(frozen=True, slots=True)
class Afterwards:
    """What happened in some conversations, unsorted."""

    escalations: list[Row[int, datetime]]  # (conversation, created) of escalations proper
    events: list[Row[int | None, str, datetime]]  # (conversation, kind, at): resolved/reopened
    surveys: list[Row[int, datetime, int | None]]  # (conversation, sent, score) of answered ones


def afterwards(s: Session, convs: Sequence[int]) -> Afterwards:
    """The escalations (kind ``escalation``), ``conversation.resolved`` and
    ``conversation.reopened`` events and answered surveys of ``convs``."""
    out = Afterwards([], [], [])
    for part in _chunks(convs):
        out.escalations.extend(
            s.execute(
                select(Escalation.conversation_id, Escalation.created_at).where(
                    Escalation.conversation_id.in_(part), Escalation.kind == "escalation"
                )
            )
        )
        out.events.extend(
            s.execute(
                select(AuditEvent.conversation_id, AuditEvent.kind, AuditEvent.at).where(
                    AuditEvent.conversation_id.in_(part),
                    AuditEvent.kind.in_(("conversation.resolved", "conversation.reopened")),
                )
            )
        )
        out.surveys.extend(
            s.execute(
                select(
                    CsatResponse.conversation_id, CsatResponse.sent_at, CsatResponse.score
                ).where(CsatResponse.conversation_id.in_(part), CsatResponse.score.is_not(None))
            )
        )
    return out
