"""Customers: found by their external id on every message, created on their first; and the
reads and writes of the customer pages (``service.customers``).

``find_or_create`` runs in the transaction that stores the message; on PostgreSQL it locks the
customer's row, so one customer's messages are stored one after the other.

The customer pages (a ``Session`` from ``Store.read()``/``write()``):

- :func:`search`: a page of customers matching a query (:func:`matches`), with the total;
  :func:`activity` (conversations, open ones, last contact) and :func:`sanction_levels` (the
  active, unexpired sanctions) of the customers listed.
- :func:`get`, :func:`history` (newest conversations and their count),
  :func:`sanctions_with_staff` (with who gave and who approved each), :func:`newest_analysed`
  (the signals of the newest analysed customer message), :func:`csat_responses`,
  :func:`abuse_evidence` (customer messages with signals, of customers or conversations).
- :func:`locked` (the row ``FOR UPDATE``) and :func:`set_flags`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased
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


# -- the customer pages (ORM, a Session) ---------------------------------------------------------

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
    needle = text.lower()
    fields = (Customer.name, Customer.email, Customer.phone, Customer.external_id)
    parts = [func.lower(f).contains(needle, autoescape=True) for f in fields]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and PHONE_LIKE.fullmatch(text):
        parts.append(_digits(Customer.phone).contains(digits, autoescape=True))
    return or_(*parts)


def search(s: Session, text: str, *, limit: int, offset: int) -> tuple[int, Sequence[Customer]]:
    """The number of customers matching ``text`` and a page of them: by name when ``text`` is
    given, all customers newest first when it is empty."""
    q = select(Customer)
    if text:
        q = q.where(matches(text))
        order: tuple[Any, ...] = (func.lower(func.coalesce(Customer.name, "")), Customer.id)
    else:
        order = (Customer.id.desc(),)
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = s.scalars(q.order_by(*order).limit(limit).offset(offset)).all()
    return total, rows


def activity(
    s: Session, ids: Sequence[int]
) -> Sequence[Row[int, int, int | None, datetime | None]]:
    """Per customer of ``ids`` with conversations: (customer id, conversations, open ones, the
    last time the customer wrote)."""
    if not ids:
        return []
    last = func.max(func.coalesce(Conversation.last_customer_at, Conversation.opened_at))
    return s.execute(
        select(
            Conversation.customer_id,
            func.count(),
            func.sum(case((Conversation.status != "resolved", 1), else_=0)),
            last,
        )
        .where(Conversation.customer_id.in_(ids))
        .group_by(Conversation.customer_id)
    ).all()


def sanction_levels(s: Session, ids: Sequence[int], *, now: datetime) -> Sequence[Row[int, str]]:
    """(customer id, level) of the active sanctions of ``ids`` not expired at ``now``."""
    if not ids:
        return []
    return s.execute(
        select(Sanction.customer_id, Sanction.level).where(
            Sanction.customer_id.in_(ids),
            Sanction.state == "active",
            or_(Sanction.until.is_(None), Sanction.until > now),
        )
    ).all()


def get(s: Session, customer_id: int) -> Customer | None:
    return s.get(Customer, customer_id)


def history(s: Session, customer_id: int, *, limit: int) -> tuple[Sequence[Conversation], int]:
    """The customer's newest ``limit`` conversations and how many they have in all."""
    convs = s.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.opened_at.desc(), Conversation.id.desc())
        .limit(limit)
    ).all()
    total = s.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.customer_id == customer_id)
    )
    return convs, total or 0


def sanctions_with_staff(
    s: Session, customer_id: int
) -> Sequence[Row[Sanction, str | None, str | None]]:
    """The customer's sanctions, newest first, with the names of who gave and who approved."""
    given, approved = aliased(User), aliased(User)
    return s.execute(
        select(Sanction, given.name, approved.name)
        .outerjoin(given, given.id == Sanction.created_by)
        .outerjoin(approved, approved.id == Sanction.approved_by)
        .where(Sanction.customer_id == customer_id)
        .order_by(Sanction.id.desc())
    ).all()


def newest_analysed(
    s: Session, customer_id: int
) -> Row[dict[str, Any] | None, datetime, int] | None:
    """(signals, received_at, conversation_id) of the customer's newest analysed message."""
    return s.execute(
        select(Message.signals, Message.received_at, Message.conversation_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.customer_id == customer_id,
            Message.author == "customer",
            Message.analysis_state == "done",
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    ).first()


def csat_responses(s: Session, customer_id: int) -> Sequence[CsatResponse]:
    """The surveys sent about the customer's conversations, newest first."""
    return s.scalars(
        select(CsatResponse)
        .join(Conversation, Conversation.id == CsatResponse.conversation_id)
        .where(Conversation.customer_id == customer_id)
        .order_by(CsatResponse.sent_at.desc(), CsatResponse.id.desc())
    ).all()


def abuse_evidence(
    s: Session, *, customer_ids: Sequence[int], conversation_ids: Sequence[int]
) -> Sequence[Row[str, dict[str, Any] | None]]:
    """(text, signals) of the customer messages with signals of these customers or
    conversations (none when both are empty)."""
    where = [
        *([Conversation.customer_id.in_(customer_ids)] if customer_ids else []),
        *([Message.conversation_id.in_(conversation_ids)] if conversation_ids else []),
    ]
    if not where:
        return []
    return s.execute(
        select(Message.text, Message.signals)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.author == "customer", Message.signals.is_not(None), or_(*where))
    ).all()


def locked(s: Session, customer_id: int) -> Customer | None:
    """The customer row, locked (``FOR UPDATE``): two supervisors flagging at once must not
    lose a flag."""
    return s.scalar(select(Customer).where(Customer.id == customer_id).with_for_update())


def set_flags(c: Customer, flags: list[str]) -> None:
    """Store the customer's flags (a new list: SQLAlchemy sees the JSON column change)."""
    c.flags = list(flags)
