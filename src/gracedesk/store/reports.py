"""Reports: the read-only queries behind the report and "what calms customers".

Nothing here writes. ``service.reports`` turns these rows into ``insights``' plain rows (trends,
SLA minutes, causes, CSAT and its model's training rows, sanctions, people and their breaks);
``service.outcomes`` turns the reply reads into the per-reply records of phrase outcomes. Every
function reads on the caller's connection (the service passes its session's).

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
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    or_,
    select,
)

from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    CsatResponse,
    Customer,
    Escalation,
    Message,
    Sanction,
    User,
    table_of,
)

AUDIT_EVENTS = table_of(AuditEvent)
CONVERSATIONS = table_of(Conversation)
SURVEYS = table_of(CsatResponse)
CUSTOMERS = table_of(Customer)
ESCALATIONS = table_of(Escalation)
MESSAGES = table_of(Message)
SANCTIONS = table_of(Sanction)
USERS = table_of(User)

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
            out.append(CONVERSATIONS.c.team == self.team)
        if self.agent_id is not None:
            out.append(CONVERSATIONS.c.assignee_id == self.agent_id)
        return out

    def during(self, col: Any) -> ColumnElement[bool]:
        return and_(col >= self.since, col < self.until)


# -- the scope ----------------------------------------------------------------------------------


@cache
def user_by_name() -> Select[Any]:
    return select(USERS.c.id).where(USERS.c.name == bindparam("name"))


def user_id(conn: Connection, name: str) -> int | None:
    """The id of the user named ``name``; None when there is none."""
    uid: int | None = conn.scalar(user_by_name(), {"name": name})
    return uid


def touched(scope: Scope) -> Select[Any]:
    """Conversations in scope opened before ``until`` that anything in the period touched."""
    v, a, m, e = CONVERSATIONS.c, AUDIT_EVENTS.c, MESSAGES.c, ESCALATIONS.c
    cs, x = SURVEYS.c, SANCTIONS.c
    cid = v.id
    during = scope.during
    return select(cid).where(
        v.opened_at < scope.until,
        *scope.filters(),
        or_(
            v.opened_at >= scope.since,
            v.resolved_at >= scope.since,
            v.updated_at >= scope.since,
            v.sla_breached_at >= scope.since,
            exists().where(a.conversation_id == cid, during(a.at)),
            exists().where(m.conversation_id == cid, during(m.received_at)),
            exists().where(
                e.conversation_id == cid, or_(during(e.created_at), during(e.decided_at))
            ),
            exists().where(cs.conversation_id == cid, during(cs.sent_at)),
            exists().where(x.conversation_id == cid, during(x.created_at)),
        ),
    )


def answered(until: datetime, *, limit: int) -> Select[Any]:
    """The conversations of the ``limit`` surveys answered last before ``until``."""
    cs = SURVEYS.c
    return (
        select(cs.conversation_id)
        .where(cs.score.is_not(None), cs.responded_at < until)
        .order_by(cs.responded_at.desc())
        .limit(limit)
    )


# -- the history of the conversations ``ids`` selects -------------------------------------------


def messages(
    conn: Connection, ids: Select[Any]
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
    M = MESSAGES.c
    return conn.execute(
        select(
            M.id, M.conversation_id, M.author, M.channel, M.received_at, M.analysis_state,
            M.risk, M.signals, M.critique,
        ).where(M.conversation_id.in_(ids))
    ).all()  # fmt: skip


def conversations(
    conn: Connection, ids: Select[Any]
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
    v = CONVERSATIONS.c
    return conn.execute(
        select(
            v.id, v.customer_id, v.channel, v.team, v.assignee_id, v.priority, v.status,
            v.opened_at, v.first_response_at, v.resolved_at, v.sla_breached_at,
        ).where(v.id.in_(ids))
    ).all()  # fmt: skip


def escalations(
    conn: Connection, ids: Select[Any]
) -> Sequence[Row[int, int, str, str | None, str | None, str, datetime, datetime | None]]:
    """Their escalations: id, conversation, kind, target, rule, state, created, decided."""
    E = ESCALATIONS.c
    return conn.execute(
        select(
            E.id, E.conversation_id, E.kind, E.target, E.rule_id, E.state, E.created_at,
            E.decided_at,
        ).where(E.conversation_id.in_(ids))
    ).all()  # fmt: skip


def surveys(
    conn: Connection, ids: Select[Any]
) -> Sequence[Row[int, int, datetime, int | None, datetime | None]]:
    """Their CSAT surveys: id, conversation, sent, score, answered."""
    CS = SURVEYS.c
    return conn.execute(
        select(CS.id, CS.conversation_id, CS.sent_at, CS.score, CS.responded_at).where(
            CS.conversation_id.in_(ids)
        )
    ).all()


def events(
    conn: Connection, ids: Select[Any], kinds: Sequence[str]
) -> Sequence[Row[str, datetime, int | None, int | None, dict[str, Any]]]:
    """Their audit events of ``kinds``: kind, time, conversation, actor id, detail."""
    a = AUDIT_EVENTS.c
    return conn.execute(
        select(a.kind, a.at, a.conversation_id, a.actor_id, a.detail).where(
            a.conversation_id.in_(ids), a.kind.in_(kinds)
        )
    ).all()


SanctionRead = Row[int, int, int | None, str, str, datetime]


def _sanctions(conn: Connection, where: ColumnElement[bool]) -> Sequence[SanctionRead]:
    x = SANCTIONS.c
    return conn.execute(
        select(x.id, x.customer_id, x.conversation_id, x.level, x.state, x.created_at).where(where)
    ).all()


def sanctions(conn: Connection, ids: Select[Any]) -> Sequence[SanctionRead]:
    """Their sanctions: id, customer, conversation, level, state, created."""
    return _sanctions(conn, SANCTIONS.c.conversation_id.in_(ids))


def customers(conn: Connection, ids: Select[Any]) -> Sequence[Row[int, str, str | None]]:
    """Their customers: id, external id, name."""
    cu, v = CUSTOMERS.c, CONVERSATIONS.c
    return conn.execute(
        select(cu.id, cu.external_id, cu.name).where(
            cu.id.in_(select(v.customer_id).where(v.id.in_(ids)))
        )
    ).all()


# -- what belongs to no conversation ------------------------------------------------------------


def lifted(conn: Connection, scope: Scope) -> Sequence[Row[datetime, dict[str, Any]]]:
    """The ``sanction.lifted`` events of the period: time, detail."""
    return conn.execute(
        select(AUDIT_EVENTS.c.at, AUDIT_EVENTS.c.detail).where(
            AUDIT_EVENTS.c.kind == "sanction.lifted", scope.during(AUDIT_EVENTS.c.at)
        )
    ).all()


def loose_sanctions(
    conn: Connection, scope: Scope, lifted_ids: Sequence[int]
) -> Sequence[SanctionRead]:
    """The sanctions ``lifted_ids`` (of a conversation in scope when the scope names a team or
    an agent) and, without such a filter, the sanctions given outside a conversation in the
    period; rows as :func:`sanctions`."""
    x = SANCTIONS.c
    filters = scope.filters()
    loose: list[ColumnElement[bool]] = [x.id.in_(list(lifted_ids))]
    if not filters:
        loose.append(and_(x.conversation_id.is_(None), scope.during(x.created_at)))
        where: ColumnElement[bool] = or_(*loose)
    else:
        where = x.id.in_(
            select(x.id)
            .join(CONVERSATIONS, CONVERSATIONS.c.id == x.conversation_id)
            .where(x.id.in_(list(lifted_ids)), *filters)
        )
    return _sanctions(conn, where)


def users(conn: Connection) -> Sequence[Row[int, str, str, str, datetime | None]]:
    """Every user: id, name, display name, role, last break."""
    u = USERS.c
    return conn.execute(select(u.id, u.name, u.display_name, u.role, u.last_break_at)).all()


def breaks(conn: Connection, scope: Scope) -> Sequence[Row[datetime, int | None]]:
    """The ``agent.break`` events of the period: time, actor id."""
    return conn.execute(
        select(AUDIT_EVENTS.c.at, AUDIT_EVENTS.c.actor_id).where(
            AUDIT_EVENTS.c.kind == "agent.break", scope.during(AUDIT_EVENTS.c.at)
        )
    ).all()


# -- the console's filter -----------------------------------------------------------------------


@cache
def named_teams() -> Select[Any]:
    v = CONVERSATIONS.c
    return select(v.team).where(v.team.is_not(None)).distinct()


@cache
def active_names() -> Select[Any]:
    u = USERS.c
    return select(u.name).where(u.active.is_(True)).order_by(u.name)


def teams(conn: Connection) -> Sequence[str | None]:
    """Every team a conversation names (distinct)."""
    return conn.scalars(named_teams()).all()


def active_user_names(conn: Connection) -> Sequence[str]:
    """The active users' names, in order."""
    return conn.scalars(active_names()).all()


# -- phrase outcomes ----------------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def agent_replies(
    conn: Connection, since: datetime | None, until: datetime | None
) -> list[Row[int, int, str, datetime, dict[str, Any] | None]]:
    """Every agent reply sent in ``[since, until)`` (either end open when None), by id: id,
    conversation, text, time, critique."""
    m = MESSAGES.c
    q = select(m.id, m.conversation_id, m.text, m.received_at, m.critique).where(
        m.author == "agent"
    )
    if since is not None:
        q = q.where(m.received_at >= since)
    if until is not None:
        q = q.where(m.received_at < until)
    return list(conn.execute(q.order_by(m.id)).all())


@cache
def analysed_of() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(m.id, m.conversation_id, m.signals, m.guidance)
        .where(
            m.conversation_id.in_(bindparam("convs", expanding=True)),
            m.author == "customer",
            m.signals.is_not(None),
        )
        .order_by(m.id)
    )


def analysed_customer_messages(
    conn: Connection, convs: Sequence[int]
) -> list[Row[int, int, dict[str, Any] | None, dict[str, Any] | None]]:
    """The customer messages of ``convs`` with stored signals (by id within each ``CHUNK`` of
    conversations): id, conversation, signals, guidance."""
    out: list[Row[int, int, dict[str, Any] | None, dict[str, Any] | None]] = []
    for part in _chunks(convs):
        out.extend(conn.execute(analysed_of(), {"convs": part}))
    return out


@dataclass(frozen=True, slots=True)
class Afterwards:
    """What happened in some conversations, unsorted."""

    escalations: list[Row[int, datetime]]  # (conversation, created) of escalations proper
    events: list[Row[int | None, str, datetime]]  # (conversation, kind, at): resolved/reopened
    surveys: list[Row[int, datetime, int | None]]  # (conversation, sent, score) of answered ones


@cache
def escalations_proper() -> Select[Any]:
    e = ESCALATIONS.c
    return select(e.conversation_id, e.created_at).where(
        e.conversation_id.in_(bindparam("convs", expanding=True)), e.kind == "escalation"
    )


@cache
def resolutions() -> Select[Any]:
    a = AUDIT_EVENTS.c
    return select(a.conversation_id, a.kind, a.at).where(
        a.conversation_id.in_(bindparam("convs", expanding=True)),
        a.kind.in_(("conversation.resolved", "conversation.reopened")),
    )


@cache
def answers() -> Select[Any]:
    cs = SURVEYS.c
    return select(cs.conversation_id, cs.sent_at, cs.score).where(
        cs.conversation_id.in_(bindparam("convs", expanding=True)), cs.score.is_not(None)
    )


def afterwards(conn: Connection, convs: Sequence[int]) -> Afterwards:
    """The escalations (kind ``escalation``), ``conversation.resolved`` and
    ``conversation.reopened`` events and answered surveys of ``convs``."""
    out = Afterwards([], [], [])
    for part in _chunks(convs):
        params = {"convs": part}
        out.escalations.extend(conn.execute(escalations_proper(), params))
        out.events.extend(conn.execute(resolutions(), params))
        out.surveys.extend(conn.execute(answers(), params))
    return out
