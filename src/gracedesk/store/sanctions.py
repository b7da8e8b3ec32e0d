"""Sanctions on a customer (warn, restrict, block): active at once, or pending a supervisor's
approval (then at most one pending per customer and level)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select
from sqlalchemy.sql import Select

from gracedesk.model.effect import ImposeSanction
from gracedesk.store import audit, escalations
from gracedesk.store.escalations import Pending, Scrub
from gracedesk.store.tables import Sanction, table_of

SANCTIONS = table_of(Sanction)


@cache
def active_sanctions() -> Select[Any]:
    s = SANCTIONS.c
    return (
        select(s.level, s.created_at, s.reason)
        .where(s.customer_id == bindparam("cid"), s.state == "active")
        .order_by(s.created_at, s.id)
    )


@cache
def sanctions_in_force() -> Select[Any]:
    """The levels of the customer's active restrictions and blocks at ``now``."""
    s = SANCTIONS.c
    return select(s.level).where(
        s.customer_id == bindparam("cid"),
        s.state == "active",
        s.level.in_(("restrict", "block")),
        or_(s.until.is_(None), s.until > bindparam("now")),
    )


@cache
def pending_sanction() -> Select[Any]:
    s = SANCTIONS.c
    return select(s.id).where(
        s.customer_id == bindparam("cid"), s.level == bindparam("level"), s.state == "pending"
    )


@cache
def insert_sanction() -> Any:
    return insert(SANCTIONS).returning(SANCTIONS.c.id)


def impose(
    conn: Connection,
    s: ImposeSanction,
    *,
    scrub: Scrub,
    pending: Pending | None = None,
    trail: audit.Trail | None = None,
) -> None:
    """The sanction, its approval's escalation (when it waits for one) and its audit event
    (``trail``: the batch's audit events, else written here)."""
    if (
        s.state == "pending"
        and conn.execute(pending_sanction(), {"cid": s.customer_id, "level": s.level}).scalar()
    ):
        return  # already waiting for a supervisor's decision
    sid = conn.execute(
        insert_sanction(),
        {
            "customer_id": s.customer_id,
            "conversation_id": s.conversation_id,
            "level": s.level,
            "state": s.state,
            "reason": s.reason,
            "rule_id": s.rule_id,
            "until": s.until,
            "created_by": None,
            "approved_by": None,
            "created_at": s.at,
        },
    ).scalar_one()
    if s.approval is not None:
        approval = replace(s.approval, data={"sanction_id": sid, **s.approval.data})
        escalations.open_escalation(conn, approval, scrub=scrub, pending=pending, trail=trail)
    audit.log(
        conn,
        trail,
        [
            audit.event(
                f"sanction.{s.state}",
                now=s.at,
                conversation_id=s.conversation_id,
                customer_id=s.customer_id,
                reason=s.reason,
                level=s.level,
                rule_id=s.rule_id,
            )
        ],
    )
