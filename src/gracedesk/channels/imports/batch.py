"""One batch of an import: what is new, its analysis, and one transaction that stores it.

A batch costs a fixed number of statements whatever its size: one look-up of the messages
already stored, one of the conversations and customers it touches, one ``executemany`` per
table written. The analysis runs between the reads and the write transaction, so the write
lock (SQLite) is held only while rows are written. Everything written for a batch, and the
import's ``position``, commit together: a crash loses at most the batch in flight.

History is not decided on: no policy, no escalations, notifications, SLA clocks or follow-ups
for events long past. Only what the live path would have left on the records is kept: each
customer message's signals (analysed in the context of its conversation's earlier messages),
and the conversation's ``risk`` and ``labels`` from its newest customer message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.analysis.context import with_context
from gracedesk.channels.imports.arrange import Plan
from gracedesk.channels.imports.records import Party, Record, idempotency_key
from gracedesk.channels.imports.stored import (
    Conv,
    earlier_turns,
    fold,
    stored_conversations,
    stored_messages,
)
from gracedesk.model.situation import Situation, Turn
from gracedesk.service.desk import retrying
from gracedesk.store import audit
from gracedesk.store import imports as stored
from gracedesk.store.messages import CONTEXT_MESSAGES

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gracedesk.analysis.pipeline import Analyzer
    from gracedesk.store import Store

ACTOR = "import"  # audit events' actor


@dataclass(slots=True)
class Counts:
    """What one batch did."""

    imported: int = 0
    skipped: int = 0
    conversations: int = 0  # created
    customers: int = 0  # created


def analyse(
    analyzer: Analyzer, records: Sequence[Record], convs: dict[str, Conv]
) -> dict[int, dict[str, Any]]:
    """Signals of each customer record (by index), each in the context of its conversation's
    earlier messages, as the live path analyses a message. The texts go through the models
    in one batch; the context then reuses those results (``analyze_memo``)."""
    turns: dict[str, list[Turn]] = {
        ref: list(c.turns) for ref, c in convs.items() if c.id is not None
    }
    work: list[tuple[int, Situation]] = []
    for i, r in enumerate(records):
        earlier = turns.setdefault(r.conversation, [])
        turn = Turn("customer" if r.author == "customer" else "agent", r.text, r.at)
        if r.author == "customer":
            # the customer's other conversations are read by live messages, later
            work.append((i, Situation((*earlier[-CONTEXT_MESSAGES:], turn))))
        earlier.append(turn)
    if not work:
        return {}
    base = analyzer.analyze_memo([records[i].text for i, _ in work])
    return {
        i: with_context(analyzer, sig, records[i].text, ctx).to_dict()
        for (i, ctx), sig in zip(work, base, strict=True)
    }


def _customers(
    conn: Connection,
    records: Sequence[Record],
    owners: dict[str, Party],
    new_refs: set[str],
    *,
    now: datetime,
    run_id: int,
    events: list[dict[str, Any]],
) -> tuple[dict[str, int], int]:
    """Customer ids by external id: created when new (with name and e-mail), empty names and
    e-mails filled in when known (an archive never overwrites what the desk has: its data is
    older). Returns the map and how many were created."""
    wanted: dict[str, Party] = {}
    since: dict[str, datetime] = {}

    def want(p: Party, at: datetime) -> None:
        old = wanted.get(p.external_id)
        wanted[p.external_id] = (
            p if old is None else Party(p.external_id, p.name or old.name, p.email or old.email)
        )
        since[p.external_id] = min(since.get(p.external_id, at), at)

    for r in records:
        if r.conversation in new_refs:
            want(owners[r.conversation], r.at)
        if r.author == "customer" and r.party is not None:
            want(r.party, r.at)
    if not wanted:
        return {}, 0
    known = stored.customers_of(conn, wanted)
    fresh = [p for ext, p in wanted.items() if ext not in known]
    stored.add_customers(
        conn,
        [stored.NewCustomer(p.external_id, p.name, p.email, since[p.external_id]) for p in fresh],
    )
    ids = {ext: int(r.id) for ext, r in stored.customers_of(conn, wanted).items()}
    for p in fresh:
        events.append(
            audit.event(
                "customer.created",
                now=now,
                actor=ACTOR,
                customer_id=ids[p.external_id],
                import_id=run_id,
            )
        )
    fills = []
    for ext, row in known.items():
        p = wanted[ext]
        fields = [k for k in ("name", "email") if getattr(p, k) and not getattr(row, k)]
        if fields:
            fills.append((int(row.id), p.name, p.email))
            events.append(
                audit.event(
                    "customer.updated",
                    now=now,
                    actor=ACTOR,
                    customer_id=row.id,
                    fields=fields,
                    import_id=run_id,
                )
            )
    stored.fill_customers(conn, fills)
    return ids, len(fresh)


def store_batch(
    store: Store,
    analyzer: Analyzer | None,
    records: Sequence[Record],
    plan: Plan,
    *,
    run_id: int,
    position: int,
    priority: str,
    now: datetime,
) -> Counts:
    """Store one batch (``analyzer`` None: messages stored without analysis) and move the
    import's ``position`` to ``position``, in one transaction."""
    with store.read_core() as conn:
        have = stored_messages(conn, records)
        todo = [r for r in records if (r.channel, r.message_id) not in have]
        refs = {r.conversation for r in todo}
        known = stored_conversations(conn, refs)
        needs_context = {r.conversation for r in todo if r.author == "customer"}
        if analyzer is not None:
            earlier_turns(conn, {k: c for k, c in known.items() if k in needs_context})
    signals = analyse(analyzer, todo, known) if analyzer is not None else {}

    def write() -> Counts:  # one transaction; run again if PostgreSQL broke a deadlock
        with store.write_core() as conn:
            return _write(
                conn, records, todo, signals, plan,
                run_id=run_id, position=position, priority=priority, now=now,
            )  # fmt: skip

    return retrying(write)


def _write(
    conn: Connection,
    records: Sequence[Record],
    todo: Sequence[Record],
    signals: dict[int, dict[str, Any]],
    plan: Plan,
    *,
    run_id: int,
    position: int,
    priority: str,
    now: datetime,
) -> Counts:
    """The batch's rows and the import's new position, in the caller's transaction."""
    counts = Counts()
    # under the write lock (SQLite): what a live message or another import stored meanwhile
    have = stored_messages(conn, todo)
    counts.skipped = len(records) - len(todo) + len(have)
    keep = [(i, r) for i, r in enumerate(todo) if (r.channel, r.message_id) not in have]
    kept = [r for _, r in keep]
    convs = stored_conversations(conn, {r.conversation for r in kept})
    new_refs = {r.conversation for r in kept} - set(convs)
    events: list[dict[str, Any]] = []
    owners = plan.owners
    customer_ids, counts.customers = _customers(
        conn, kept, owners, new_refs, now=now, run_id=run_id, events=events
    )
    for i, r in keep:
        conv = convs.get(r.conversation)
        if conv is None:
            conv = convs[r.conversation] = Conv.new(
                customer_ids[owners[r.conversation].external_id],
                r.channel,
                plan.subjects.get(r.conversation) or _subject(r.text),
                plan.statuses.get(r.conversation, "resolved"),
            )
        fold(conv, r, signals.get(i))
    _create(conn, convs, new_refs, owners, priority=priority)
    counts.conversations = len(new_refs)
    counts.imported = _messages(conn, keep, convs, signals, now=now)
    stored.touch(conn, [c for ref, c in convs.items() if ref not in new_refs and c.added])
    for ref, c in convs.items():
        if c.added:
            events.append(
                audit.event(
                    "conversation.imported", now=now, actor=ACTOR, conversation_id=c.id,
                    customer_id=c.customer_id, import_id=run_id, messages=c.added,
                    created=ref in new_refs,
                )
            )  # fmt: skip
    if events:
        audit.write(conn, events)
    stored.advance(
        conn, run_id, position=position, imported=counts.imported, skipped=counts.skipped
    )
    return counts


def _subject(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 80 else first[:77].rstrip() + "…"


def _create(
    conn: Connection,
    convs: dict[str, Conv],
    refs: set[str],
    owners: dict[str, Party],
    *,
    priority: str,
) -> None:
    """Insert the batch's new conversations with their final state; their ids come back."""
    stored.create_conversations(
        conn,
        [
            # replies to an e-mail conversation go to the customer's address
            (ref, convs[ref], owners[ref].email if convs[ref].channel == "email" else None)
            for ref in sorted(refs)
        ],
        priority=priority,
    )


def _messages(
    conn: Connection,
    keep: Sequence[tuple[int, Record]],
    convs: dict[str, Conv],
    signals: dict[int, dict[str, Any]],
    *,
    now: datetime,
) -> int:
    new = [
        stored.NewMessage(
            conversation_id=convs[r.conversation].id,
            author=r.author,
            channel=r.channel,
            channel_message_id=r.message_id,
            idempotency_key=idempotency_key(r.channel, r.message_id),
            text=r.text,
            at=r.at,
            signals=signals.get(i),
            meta=r.meta,
        )
        for i, r in keep
    ]
    return stored.add_messages(conn, new, now=now)
