"""Escalations (to a supervisor, a team, an approver): opened once per conversation, kind and
target while pending; every new one is audited and its supervisor notified."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Update, bindparam, func, insert, select, update
from sqlalchemy.sql import Select

from gracedesk.model.effect import OpenEscalation
from gracedesk.store import audit, conversations, outbox
from gracedesk.store.tables import Conversation, Escalation, table_of

ESCALATIONS = table_of(Escalation)
_CONVERSATIONS = table_of(Conversation)

# a notification's words about a conversation, scrubbed of its abuse (service.protect)
Scrub = Callable[[Connection, int, str], str]


@cache
def threat_cleared_at() -> Select[Any]:
    """When a supervisor last decided the conversation's security escalation (a threat of
    violence is remembered until then)."""
    e = ESCALATIONS.c
    return select(func.max(e.decided_at)).where(
        e.conversation_id == bindparam("conv"), e.target == "security", e.state != "pending"
    )


@cache
def compensation() -> Select[Any]:
    """The customer's approved compensation (newest first)."""
    e, v = ESCALATIONS.c, _CONVERSATIONS.c
    return (
        select(e.data, e.decided_at)
        .join(_CONVERSATIONS, v.id == e.conversation_id)
        .where(v.customer_id == bindparam("cid"), e.kind == "approval", e.state == "approved")
        .order_by(e.decided_at.desc(), e.id.desc())
        .limit(10)
    )


@cache
def pending_escalation() -> Select[Any]:
    e = ESCALATIONS.c
    return select(e.id).where(
        e.conversation_id == bindparam("conv"),
        e.kind == bindparam("kind"),
        e.target.is_not_distinct_from(bindparam("target")),
        e.state == "pending",
    )


@cache
def escalation_packet() -> Update:
    return (
        update(ESCALATIONS)
        .where(ESCALATIONS.c.id == bindparam("eid"))
        .values(packet=bindparam("p_packet"))
    )


@cache
def insert_escalation() -> Any:
    return insert(ESCALATIONS).returning(ESCALATIONS.c.id)


@cache
def refresh_pending_packets() -> Update:
    """The newest hand-over packet on every pending escalation of the conversation."""
    e = ESCALATIONS.c
    return (
        update(ESCALATIONS)
        .where(e.conversation_id == bindparam("conv"), e.state == "pending")
        .values(packet=bindparam("p_packet"))
    )


def refresh_packets_many(conn: Connection, packets: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """The newest hand-over packet on every pending escalation of each conversation (one
    ``executemany``)."""
    rows = [{"conv": conv_id, "p_packet": packet} for conv_id, packet in packets]
    if rows:
        conn.execute(refresh_pending_packets(), rows[0] if len(rows) == 1 else rows)


@cache
def pending_of_conversations() -> Select[Any]:
    e = ESCALATIONS.c
    return (
        select(e.conversation_id, e.kind, e.target, e.id)
        .where(e.conversation_id.in_(bindparam("convs", expanding=True)), e.state == "pending")
        .order_by(e.id)
    )


class Pending:
    """The pending escalations of a micro-batch's conversations, read in one statement once
    their rows are locked (``conversations.states``), and kept up to date as the batch opens
    more: ``open_escalation`` looks one up here instead of one query per decision. A
    conversation outside the batch is looked up in the database."""

    def __init__(self, conn: Connection, conv_ids: Sequence[int], *, defer: bool = False) -> None:
        self._convs = frozenset(conv_ids)
        self._ids: dict[tuple[int, str, str | None], int] = {}
        # ``defer``: packets refreshed on pending escalations are written at :meth:`flush`,
        # one statement for the batch (the last packet of each escalation wins, as in order)
        self._packets: dict[int, Any] | None = {} if defer else None
        if self._convs:
            rows = conn.execute(pending_of_conversations(), {"convs": sorted(self._convs)})
            for r in rows:  # the oldest one wins, as the single lookup's first row would
                self._ids.setdefault((int(r[0]), str(r[1]), r[2]), int(r[3]))

    def find(self, conn: Connection, conv_id: int, kind: str, target: str | None) -> int | None:
        if conv_id not in self._convs:
            found = conn.execute(
                pending_escalation(), {"conv": conv_id, "kind": kind, "target": target}
            ).scalar()
            return None if found is None else int(found)
        return self._ids.get((conv_id, kind, target))

    def opened(self, conv_id: int, kind: str, target: str | None, eid: int) -> None:
        if conv_id in self._convs:
            self._ids[(conv_id, kind, target)] = eid

    def refresh(self, conn: Connection, eid: int, packet: Any) -> None:
        """Write a pending escalation's new hand-over packet (at :meth:`flush` if deferred)."""
        if self._packets is None:
            conn.execute(escalation_packet(), {"eid": eid, "p_packet": packet})
        else:
            self._packets[eid] = dict(packet)

    def flush(self, conn: Connection) -> None:
        """Write the deferred packets (nothing in the batch reads them before)."""
        if self._packets:
            conn.execute(
                escalation_packet(),
                [{"eid": eid, "p_packet": p} for eid, p in self._packets.items()],
            )
            self._packets = {}


def pending_of(conn: Connection, conv_ids: Sequence[int]) -> Pending:
    """The pending escalations of these conversations (``Pending``), read in one statement;
    the packets it refreshes are written at its ``flush``."""
    return Pending(conn, conv_ids, defer=True)


def open_escalation(
    conn: Connection,
    e: OpenEscalation,
    *,
    scrub: Scrub,
    pending: Pending | None = None,
    trail: audit.Trail | None = None,
) -> int:
    """Open the escalation, or refresh the packet (and join the agent's reason to) the pending
    one of its conversation, kind and target; returns its id. ``pending``: the batch's pending
    escalations, read once (else one query); ``trail``: the batch's audit events (else
    written here)."""
    conv_id = e.conversation_id
    if pending is None:  # no batch: its conversation is looked up in the database
        pending = Pending(conn, ())
    existing = pending.find(conn, conv_id, e.kind, e.target)
    if existing is not None:
        if e.packet is not None and e.refresh_pending:  # the next agent sees the latest state
            pending.refresh(conn, existing, e.packet)
        if e.requested_by is not None:  # an agent's own reason joins the pending escalation
            conn.execute(
                update(ESCALATIONS)
                .where(ESCALATIONS.c.id == existing)
                .values(reason=ESCALATIONS.c.reason + "; " + e.reason, requested_by=e.requested_by)
            )
        return int(existing)
    eid = int(
        conn.execute(
            insert_escalation(),
            {
                "conversation_id": conv_id,
                "kind": e.kind,
                "target": e.target,
                "state": "pending",
                "reason": e.reason,
                "rule_id": e.rule_id,
                "packet": e.packet,
                "data": dict(e.data),
                "requested_by": e.requested_by,
                "created_at": e.at,
            },
        ).scalar_one()
    )
    pending.opened(conv_id, e.kind, e.target, eid)
    if e.kind == "escalation":
        conversations.mark_escalated(conn, conv_id)
    audit.log(
        conn,
        trail,
        [
            audit.event(
                f"{e.kind}.opened",
                now=e.at,
                actor="system" if e.requested_by is None else f"user:{e.requested_by}",
                actor_id=e.requested_by,
                conversation_id=conv_id,
                customer_id=e.customer_id,
                reason=e.reason,
                escalation_id=eid,
                target=e.target,
                rule_id=e.rule_id,
            )
        ],
    )
    # the reason is a rule's or an agent's words: never the customer's abuse (service.protect)
    said = scrub(conn, conv_id, e.reason)
    outbox.notify(
        conn,
        key=f"escalation:{eid}:opened",
        event=f"{e.kind}.opened",
        to=[e.notice.to],
        subject=f"[gracedesk] {e.kind} for conversation #{conv_id}: {said[:120]}",
        body=f"{said}\n\nOpen: {e.notice.console_url}/console/conversations/{conv_id}\n",
        payload={
            "escalation_id": eid,
            "conversation_id": conv_id,
            "kind": e.kind,
            "target": e.target,
        },
        now=e.at,
    )
    return eid
