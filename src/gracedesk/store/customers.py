"""Customers: found by their external id on every message, created on their first; and the
reads and writes of the customer pages (``service.customers``).

``find_or_create`` runs in the transaction that stores the message; on PostgreSQL it locks the
customer's row, so one customer's messages are stored one after the other.

The customer pages (the ``Connection`` of the service's session, ``Session.connection()``):

- :func:`search`: a page of customers matching a query (:func:`matches`), with the total;
  :func:`activity` (conversations, open ones, last contact) and :func:`sanction_levels` (the
  active, unexpired sanctions) of the customers listed.
- :func:`get`, :func:`history` (newest conversations and their count),
  :func:`sanctions_with_staff` (with who gave and who approved each), :func:`newest_analysed`
  (the signals of the newest analysed customer message), :func:`csat_responses`,
  :func:`abuse_evidence` (customer messages with signals, of customers or conversations).
- :func:`locked` (the row ``FOR UPDATE``) and :func:`set_flags`.
- :func:`erasure_preview`: the external id and the number of conversations of a customer about
  to be erased (the CLI's confirmation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from gracedesk.store import audit
from gracedesk.store.tables import (
    Conversation,
    CsatResponse,
    Customer,
    Message,
    Sanction,
    User,
    table_of,
)

if TYPE_CHECKING:
    from gracedesk.store.inbound import CustomerRef

CUSTOMERS = table_of(Customer)
_CONVERSATIONS = table_of(Conversation)
_MESSAGES = table_of(Message)
_SANCTIONS = table_of(Sanction)
_CSAT = table_of(CsatResponse)
_USERS = table_of(User)

Actor = tuple[str, int | None]  # an audit event's actor and actor_id


@cache
def customer_by_external(lock: bool) -> Select[Any]:
    c = CUSTOMERS.c
    q = select(
        c.id, c.name, c.email, c.phone, c.tier, c.lifetime_value, c.preferences, c.flags
    ).where(c.external_id == bindparam("ext"))
    # FOR NO KEY UPDATE: rows inserted by other messages' transactions still reference it freely
    return q.with_for_update(key_share=True) if lock else q


@cache
def customer_by_id() -> Select[Any]:
    c = CUSTOMERS.c
    return select(c.name, c.tier, c.lifetime_value, c.preferences, c.flags).where(
        c.id == bindparam("cid")
    )


def find_or_create(
    conn: Connection,
    ref: CustomerRef,
    *,
    now: datetime,
    who: Actor,
    events: list[dict[str, Any]],
) -> tuple[Any, bool]:
    """The customer's row (created, or its name, e-mail and phone updated, from ``ref``) and
    whether it is new; the audit events go to ``events``."""
    lock = conn.dialect.name == "postgresql"  # one message per customer at a time (PostgreSQL)
    row = conn.execute(customer_by_external(lock), {"ext": ref.external_id}).first()
    new = row is None
    if row is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(CUSTOMERS)
            .values(
                external_id=ref.external_id,
                name=ref.name,
                email=ref.email,
                phone=ref.phone,
                tier=ref.tier or "standard",
                lifetime_value=0.0,
                preferences={},
                flags=[],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["external_id"])
        )
        # ours, or the one a concurrent request created first
        row = conn.execute(customer_by_external(lock), {"ext": ref.external_id}).one()
        events.append(
            audit.event(
                "customer.created", now=now, actor=who[0], actor_id=who[1], customer_id=row.id
            )
        )
    changed = {
        k: v
        for k, v in (("name", ref.name), ("email", ref.email), ("phone", ref.phone))
        if v and getattr(row, k) != v
    }
    if changed and not new:
        conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == row.id).values(**changed))
        events.append(
            audit.event(
                "customer.updated",
                now=now,
                actor=who[0],
                actor_id=who[1],
                customer_id=row.id,
                fields=sorted(changed),
            )
        )
    return row, new


# -- the customer pages (Core, the service session's connection) --------------------------------

PHONE_LIKE = re.compile(r"[\d\s().+/-]+")
PHONE_SEPARATORS = (" ", "-", "(", ")", ".", "+", "/")


def _digits(column: Any) -> Any:
    """The column with the usual phone separators removed (SQL ``replace``, both databases)."""
    out = column
    for sep in PHONE_SEPARATORS:
        out = func.replace(out, sep, "")
    return out


def matches(text: str) -> ColumnElement[bool]:
    """Customers whose name, e-mail, phone or external id contains ``text`` (any case)."""
    c = CUSTOMERS.c
    needle = text.lower()
    parts = [
        func.lower(f).contains(needle, autoescape=True)
        for f in (c.name, c.email, c.phone, c.external_id)
    ]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and PHONE_LIKE.fullmatch(text):
        parts.append(_digits(c.phone).contains(digits, autoescape=True))
    return or_(*parts)


def search(
    conn: Connection, text: str, *, limit: int, offset: int
) -> tuple[int, Sequence[Row[Any]]]:
    """The number of customers matching ``text`` and a page of them (customer rows): by name
    when ``text`` is given, all customers newest first when it is empty."""
    c = CUSTOMERS.c
    q = select(CUSTOMERS)
    if text:
        q = q.where(matches(text))
        order: tuple[Any, ...] = (func.lower(func.coalesce(c.name, "")), c.id)
    else:
        order = (c.id.desc(),)
    total = conn.execute(select(func.count()).select_from(q.subquery())).scalar() or 0
    rows = conn.execute(q.order_by(*order).limit(limit).offset(offset)).all()
    return total, rows


def activity(
    conn: Connection, ids: Sequence[int]
) -> Sequence[Row[int, int, int | None, datetime | None]]:
    """Per customer of ``ids`` with conversations: (customer id, conversations, open ones, the
    last time the customer wrote)."""
    if not ids:
        return []
    c = _CONVERSATIONS.c
    last = func.max(func.coalesce(c.last_customer_at, c.opened_at))
    return conn.execute(
        select(
            c.customer_id,
            func.count(),
            func.sum(case((c.status != "resolved", 1), else_=0)),
            last,
        )
        .where(c.customer_id.in_(ids))
        .group_by(c.customer_id)
    ).all()


def sanction_levels(
    conn: Connection, ids: Sequence[int], *, now: datetime
) -> Sequence[Row[int, str]]:
    """(customer id, level) of the active sanctions of ``ids`` not expired at ``now``."""
    if not ids:
        return []
    x = _SANCTIONS.c
    return conn.execute(
        select(x.customer_id, x.level).where(
            x.customer_id.in_(ids),
            x.state == "active",
            or_(x.until.is_(None), x.until > now),
        )
    ).all()


@cache
def _customer_row(lock: bool) -> Select[Any]:
    q = select(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("cid"))
    return q.with_for_update() if lock else q


def get(conn: Connection, customer_id: int) -> Row[Any] | None:
    """The customer row (every column), None when there is none."""
    return conn.execute(_customer_row(False), {"cid": customer_id}).first()


def history(conn: Connection, customer_id: int, *, limit: int) -> tuple[Sequence[Row[Any]], int]:
    """The customer's newest ``limit`` conversations (rows) and how many they have in all."""
    c = _CONVERSATIONS.c
    convs = conn.execute(
        select(_CONVERSATIONS)
        .where(c.customer_id == customer_id)
        .order_by(c.opened_at.desc(), c.id.desc())
        .limit(limit)
    ).all()
    total = conn.execute(
        select(func.count()).select_from(_CONVERSATIONS).where(c.customer_id == customer_id)
    ).scalar()
    return convs, total or 0


def sanctions_with_staff(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The customer's sanctions, newest first: each sanction row with ``given_by_name`` and
    ``approved_by_name``, the names of who gave and who approved it."""
    x = _SANCTIONS.c
    given, approved = _USERS.alias("given"), _USERS.alias("approved")
    return conn.execute(
        select(
            _SANCTIONS,
            given.c.name.label("given_by_name"),
            approved.c.name.label("approved_by_name"),
        )
        .outerjoin(given, given.c.id == x.created_by)
        .outerjoin(approved, approved.c.id == x.approved_by)
        .where(x.customer_id == customer_id)
        .order_by(x.id.desc())
    ).all()


def newest_analysed(
    conn: Connection, customer_id: int
) -> Row[dict[str, Any] | None, datetime, int] | None:
    """(signals, received_at, conversation_id) of the customer's newest analysed message."""
    m, c = _MESSAGES.c, _CONVERSATIONS.c
    return conn.execute(
        select(m.signals, m.received_at, m.conversation_id)
        .join(_CONVERSATIONS, c.id == m.conversation_id)
        .where(
            c.customer_id == customer_id,
            m.author == "customer",
            m.analysis_state == "done",
        )
        .order_by(m.received_at.desc(), m.id.desc())
        .limit(1)
    ).first()


def csat_responses(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The surveys (rows) sent about the customer's conversations, newest first."""
    r, c = _CSAT.c, _CONVERSATIONS.c
    return conn.execute(
        select(_CSAT)
        .join(_CONVERSATIONS, c.id == r.conversation_id)
        .where(c.customer_id == customer_id)
        .order_by(r.sent_at.desc(), r.id.desc())
    ).all()


def abuse_evidence(
    conn: Connection, *, customer_ids: Sequence[int], conversation_ids: Sequence[int]
) -> Sequence[Row[str, dict[str, Any] | None]]:
    """(text, signals) of the customer messages with signals of these customers or
    conversations (none when both are empty)."""
    m, c = _MESSAGES.c, _CONVERSATIONS.c
    where = [
        *([c.customer_id.in_(customer_ids)] if customer_ids else []),
        *([m.conversation_id.in_(conversation_ids)] if conversation_ids else []),
    ]
    if not where:
        return []
    return conn.execute(
        select(m.text, m.signals)
        .join(_CONVERSATIONS, c.id == m.conversation_id)
        .where(m.author == "customer", m.signals.is_not(None), or_(*where))
    ).all()


def locked(conn: Connection, customer_id: int) -> Row[Any] | None:
    """The customer row, locked (``FOR UPDATE``): two supervisors flagging at once must not
    lose a flag."""
    return conn.execute(_customer_row(True), {"cid": customer_id}).first()


def set_flags(conn: Connection, customer_id: int, flags: Sequence[str]) -> None:
    """Store the customer's flags (a new list)."""
    conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == customer_id).values(flags=list(flags)))


def erasure_preview(conn: Connection, customer_id: int) -> tuple[str, int] | None:
    """(external id, number of conversations) of the customer, None when there is none."""
    c = CUSTOMERS.c
    ext = conn.execute(select(c.external_id).where(c.id == customer_id)).scalar()
    if ext is None:
        return None
    convs = conn.execute(
        select(func.count()).where(_CONVERSATIONS.c.customer_id == customer_id)
    ).scalar()
    return ext, convs or 0
