"""Customers: found by their external id on every message, created on their first.

``find_or_create`` runs in the transaction that stores the message; on PostgreSQL it locks the
customer's row, so one customer's messages are stored one after the other.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from gracedesk.store import audit
from gracedesk.store.tables import Customer, table_of

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
