"""The sweeps the worker runs: each is ``f(..., *, now) -> int`` (how many things it handled).

The worker (``gracedesk.jobs.worker``) runs them each round; the bodies live here, in the service.

Running one twice, or in two workers at once, does no harm: rows are claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer at a time), and every
state change is checked before it is made (a reminder is sent once, a breach escalated once).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from gracedesk.errors import InvalidInput, NotificationError
from gracedesk.model.notification import Notification as Note
from gracedesk.service.desk import audit
from gracedesk.service.effects import open_escalation
from gracedesk.store import sweeps as store_sweeps
from gracedesk.store.outbox import notify
from gracedesk.store.protocol import store as persistence

if TYPE_CHECKING:
    from gracedesk.service.desk import Desk
    from gracedesk.store import Store

log = logging.getLogger("gracedesk.jobs")
BATCH = 100
BACKOFF = (60, 300, 900, 3600, 6 * 3600)  # seconds before attempts 2, 3, ...


class Notifier(Protocol):
    """What sends a notification (``jobs.notify.Notifier``): raises ``NotificationError`` when
    no channel took it."""

    def send(self, n: Note, /) -> object: ...


LEASE = timedelta(minutes=5)  # a claimed notification is not claimed again before this


def sweep_follow_ups(desk: Desk, *, now: datetime) -> int:
    """Remind the agent before a promise is due; mark it overdue (and tell) when it is missed."""
    lead = timedelta(minutes=desk.follow_up_lead_minutes)
    done = 0
    with desk.store.write() as s:
        rows = persistence.follow_ups.claim_due(
            s.connection(), until=now + lead, limit=BATCH, skip_locked=desk.store.skip_locked()
        )
        for f in rows:
            agent = store_sweeps.assignee(s.connection(), f.assignee_id) if f.assignee_id else None
            to = [agent.email] if agent and agent.email else []
            link = f"{desk.base_url}/console/conversations/{f.conversation_id}"
            if f.due_at <= now:
                persistence.follow_ups.mark_overdue(s.connection(), f.id)
                notify(
                    s.connection(),
                    key=f"follow_up:{f.id}:overdue",
                    event="follow_up.overdue",
                    to=[*to, desk.supervisor_email or ""],
                    subject=f"[gracedesk] promise missed on conversation #{f.conversation_id}",
                    body=f"Promised: {f.promise}\nDue: {f.due_at.isoformat()}\n{link}\n",
                    payload={"follow_up_id": f.id, "conversation_id": f.conversation_id},
                    now=now,
                )
                audit(
                    s,
                    "follow_up.overdue",
                    now=now,
                    actor="system",
                    conversation_id=f.conversation_id,
                    follow_up_id=f.id,
                )
                done += 1
            elif f.reminded_at is None:
                persistence.follow_ups.mark_reminded(s.connection(), f.id, now=now)
                notify(
                    s.connection(),
                    key=f"follow_up:{f.id}:due",
                    event="follow_up.due",
                    to=to,
                    subject=f"[gracedesk] promise due {f.due_at.isoformat()}: conversation #{f.conversation_id}",
                    body=f"You promised: {f.promise}\nDue: {f.due_at.isoformat()}\n{link}\n",
                    payload={
                        "follow_up_id": f.id,
                        "conversation_id": f.conversation_id,
                        "due": f.due_at.isoformat(),
                    },
                    now=now,
                )
                audit(
                    s,
                    "follow_up.reminded",
                    now=now,
                    actor="system",
                    conversation_id=f.conversation_id,
                    follow_up_id=f.id,
                )
                done += 1
    return done


def sweep_sla(desk: Desk, *, now: datetime) -> int:
    """Escalate conversations whose reply is overdue, once per breach, with a hand-over packet."""
    done = 0
    with desk.store.write() as s:
        rows = store_sweeps.claim_breached(
            s.connection(), now=now, limit=BATCH, skip_locked=desk.store.skip_locked()
        )
        for c in rows:
            store_sweeps.mark_breached(s.connection(), c.id, now=now)
            due = c.first_response_due.isoformat() if c.first_response_due else "?"
            open_escalation(
                desk,
                s.connection(),
                c.id,
                c.customer_id,
                kind="sla",
                target="supervisor",
                reason=f"SLA breached: reply was due {due} ({c.priority} priority)",
                rule_id="sla-breach",
                packet=store_sweeps.latest_packet(s.connection(), c.id),
                now=now,
            )
            audit(
                s,
                "sla.breached",
                now=now,
                actor="system",
                conversation_id=c.id,
                customer_id=c.customer_id,
                due=due,
            )
            done += 1
    return done


def deliver_notifications(store: Store, notifier: Notifier, *, now: datetime) -> int:
    """Send what the outbox holds; a failure is retried with back-off, then given up.

    Rows are claimed in one short transaction (a lease moves ``next_attempt_at`` on), sent
    outside any transaction (no lock is held during SMTP or HTTP), then marked sent or failed.
    """
    with store.write() as s:
        rows = store_sweeps.claim_pending(
            s.connection(), now=now, limit=BATCH, skip_locked=store.skip_locked()
        )
        claimed = []
        for n in rows:
            attempts = store_sweeps.lease(s.connection(), n.id, until=now + LEASE)
            try:
                note = Note(
                    event=n.event,
                    to=tuple(r for r in n.recipients if r),
                    subject=n.subject,
                    body=n.body,
                    payload=n.payload,
                    key=n.key,
                )
            except InvalidInput as exc:  # can never be sent: give it up, do not block the rest
                store_sweeps.mark_failed(s.connection(), n.id, exc.message[:2000])
                log.error("notification %s (%s) is malformed: %s", n.id, n.event, exc.code)
                continue
            claimed.append((n.id, attempts, note))
    sent = 0
    for nid, attempts, note in claimed:
        error: str | None = None
        final = False
        try:
            notifier.send(note)
        except NotificationError as exc:
            error, final = exc.message[:2000], False
        with store.write() as s:
            row = store_sweeps.notification(s.connection(), nid)
            if error is None:
                store_sweeps.mark_sent(s.connection(), nid, now=now)
                sent += 1
            elif final or attempts > len(BACKOFF):
                store_sweeps.mark_failed(s.connection(), nid, error)
                log.error("notification %s (%s) given up; see its last_error", row.id, row.event)
            else:
                store_sweeps.retry_at(
                    s.connection(), nid, error, at=now + timedelta(seconds=BACKOFF[attempts - 1])
                )
    return sent


def reanalyse_pending(desk: Desk, *, now: datetime) -> int:
    """Analyse the messages whose analysis failed or never finished (stored, never lost)."""
    done = 0
    for mid in desk.pending_analysis(now=now):
        # reanalyse records a failure on the message itself and never raises for one
        if desk.reanalyse(mid, now=now).analysis == "done":
            done += 1
    return done
