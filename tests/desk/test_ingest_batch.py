"""The worker's set-based reads and writes give what the one-message path gives (issue 11):
``situations.take_many`` builds the same Situations as ``situations.take``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from gracedesk.model.effect import Notice, OpenEscalation
from gracedesk.model.situation import Turn
from gracedesk.service import ingest
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.store import escalations, situations
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    Escalation,
    FollowUp,
    Message,
    Sanction,
)

from .conftest import NOW, make_user, post


def _rich_history(desk: Desk) -> list[tuple[int, int]]:
    """Conversations that use every part of a Situation; returns ``(message id, conversation
    id)`` pairs to read (each a message in the middle of its conversation)."""
    agent, _ = make_user(desk.store, "kim", "agent", authority={"refund_limit": 50.0})
    work: list[tuple[int, int]] = []
    # a long conversation (more than the 40 turns a situation carries), read at its 61st message
    long = [
        post(desk, f"Message number {i}, where is it?", customer="long", at=NOW) for i in range(3)
    ]
    cid = long[0].conversation_id
    with desk.store.write() as s:
        for i in range(70):
            s.add(
                Message(
                    conversation_id=cid,
                    author=("agent", "customer", "system")[i % 3],
                    channel="api",
                    text=f"turn {i}",
                    received_at=NOW + timedelta(minutes=i),
                    analysis_state="none",
                )
            )
    with desk.store.read() as s:
        ids = [m.id for m in s.query(Message).filter_by(conversation_id=cid).order_by(Message.id)]
    work.append((ids[60], cid))
    # a customer with past conversations (some complaints), sanctions, compensation, promises,
    # an assignee with authority and a decided security escalation
    first = post(desk, "You lost my parcel, this is a complaint.", customer="rich", at=NOW)
    with desk.store.write() as s:
        old = s.get_one(Conversation, first.conversation_id)
        old.status, old.labels = "resolved", ["complaint", "unmet_expectations"]
        for k in range(25):  # more than the 20 past conversations read
            s.add(
                Conversation(
                    customer_id=old.customer_id,
                    channel="email" if k % 2 else "chat",
                    subject=f"Earlier issue {k}" if k % 3 else None,
                    status="resolved",
                    labels=["complaint"] if k % 4 == 0 else [],
                    opened_at=NOW - timedelta(days=k * 7, hours=k % 2),
                    updated_at=NOW,
                )
            )
        for level, state in (("warn", "active"), ("restrict", "active"), ("block", "rejected")):
            s.add(
                Sanction(
                    customer_id=old.customer_id,
                    level=level,
                    state=state,
                    reason=f"{level} for abuse " * 30,
                    until=NOW + timedelta(days=1),
                    created_at=NOW - timedelta(hours=len(level)),
                )
            )
    now_conv = post(desk, "And now it is broken.", customer="rich", at=NOW + timedelta(hours=1))
    with desk.store.write() as s:
        conv = s.get_one(Conversation, now_conv.conversation_id)
        conv.assignee_id = agent.id
        for k, (kind, amount) in enumerate((("refund", 40), ("credit", None), ("upgrade", 5))):
            s.add(
                Escalation(
                    conversation_id=first.conversation_id,
                    kind="approval",
                    target="supervisor",
                    state="approved",
                    reason="ok",
                    data={"request_kind": kind, "amount": amount},
                    created_at=NOW,
                    decided_at=NOW + timedelta(minutes=k),
                )
            )
        s.add(
            Escalation(
                conversation_id=conv.id,
                kind="escalation",
                target="security",
                state="closed",
                reason="threat",
                created_at=NOW,
                decided_at=NOW + timedelta(minutes=30),
            )
        )
        for k in range(3):
            s.add(
                FollowUp(
                    conversation_id=conv.id,
                    promise=f"call back {k}",
                    due_at=NOW + timedelta(days=k),
                    state="open" if k != 1 else "done",
                    source="promise",
                    created_at=NOW,
                )
            )
    later = post(desk, "Hello?", customer="rich", at=NOW + timedelta(hours=2))
    work.append((now_conv.message_id, now_conv.conversation_id))
    assert later.conversation_id == now_conv.conversation_id
    # a plain new customer
    plain = post(desk, "Where is my order?", customer="plain", at=NOW)
    work.append((plain.message_id, plain.conversation_id))
    return work


def test_take_many_reads_the_same_situations_as_take(desk: Desk) -> None:
    work = _rich_history(desk)
    now = NOW + timedelta(hours=3)
    with desk.store.read_core() as conn:
        one = [situations.take(conn, cid, now=now, upto=mid, id=mid) for mid, cid in work]
        many = situations.take_many(conn, work, now=now)
        assert situations.take_many(conn, [], now=now) == []
    assert many == one
    # the parts the fixture means to exercise are there
    long, rich, _ = many
    assert len(long.situation.turns) == 40
    assert long.situation.turns[-1].text == "turn 57"  # ids[60] is the 58th added turn
    h = rich.situation.customer
    assert len(h.issues) == 5 and h.sanctions and h.compensation and h.complaints_90d
    assert rich.restricted and rich.situation.agent.authority.refund_limit == 50.0
    assert rich.situation.promises and rich.situation.threat_cleared_at is not None


def _more_turns(desk: Desk, cid: int, n: int) -> int:
    """``n`` more messages in the conversation (customer, agent and system in turn); the id
    of the last customer one."""
    with desk.store.write() as s:
        added = [
            Message(
                conversation_id=cid,
                author=("customer", "agent", "system")[i % 3],
                channel="api",
                text=f"later turn {i}",
                received_at=NOW + timedelta(days=1, minutes=i),
                analysis_state="none",
            )
            for i in range(n)
        ]
        s.add_all(added)
        s.flush()
        return max(m.id for m in added if m.author == "customer")


def test_take_many_reads_what_came_since_and_the_same_situations_as_take(desk: Desk) -> None:
    """``take_many`` keeps each conversation's turns between reads (``TurnCache``, SQLite)
    and reads only the messages that came since: the Situations stay the ones ``take`` reads
    as messages of every author arrive, and for an older message read again."""
    work = _rich_history(desk)
    now = NOW + timedelta(days=2)
    with desk.store.read_core() as conn:
        first = situations.take_many(conn, work, now=now)
    later = [(_more_turns(desk, cid, 7), cid) for _, cid in work]
    with desk.store.read_core() as conn:
        many = situations.take_many(conn, later, now=now)
        assert many == [situations.take(conn, c, now=now, upto=m, id=m) for m, c in later]
        again = situations.take_many(conn, work, now=now)  # older than what was kept
        assert again == [situations.take(conn, c, now=now, upto=m, id=m) for m, c in work]
    assert again == first
    long_before, long_after = first[0].situation.turns, many[0].situation.turns
    assert long_after[-1].text == "later turn 6" and len(long_after) == 40
    if desk.store.dialect == "sqlite":  # the turns kept are the ones read before, not re-read
        overlap = long_before.index(long_after[0])
        assert overlap > 0
        assert all(a is b for a, b in zip(long_after, long_before[overlap:], strict=False))


def test_an_erased_customer_s_turns_are_read_again(desk: Desk) -> None:
    """An erasure rewrites the text of messages ``take_many`` may have kept: the erasing
    process forgets its kept turns, and a conversation with an erased message is read whole
    again (as another process would), so no text from before the erasure comes back."""
    from gracedesk.service import erasure

    one = post(desk, "I am Dana Smith of 4 Elm Road, where is my parcel?", customer="erase-me")
    two = post(desk, "Dana Smith again, call me on 0123 456 789", customer="erase-me")
    assert one.conversation_id == two.conversation_id
    work = [(two.message_id, two.conversation_id)]
    now = NOW + timedelta(hours=1)
    with desk.store.read_core() as conn:
        before = situations.take_many(conn, work, now=now)
    assert "Dana Smith" in before[0].situation.turns[0].text
    with desk.store.read() as s:
        customer_id = s.get_one(Conversation, one.conversation_id).customer_id
    erasure.erase(desk.store, customer_id, actor="system", now=now)
    with desk.store.read_core() as conn:
        kept = situations._turn_cache(conn)
        assert kept is None or kept.get(two.conversation_id) is None  # the eraser forgot them
        after = situations.take_many(conn, work, now=now)
        assert after == [situations.take(conn, c, now=now, upto=m, id=m) for m, c in work]
    assert len(after[0].situation.turns) == 2
    assert not any("Dana" in t.text or "0123" in t.text for t in after[0].situation.turns)
    # another process that kept the turns from before: the erased check reads them whole
    if desk.store.dialect == "sqlite":
        with desk.store.read_core() as conn:
            kept = situations._turn_cache(conn)
            assert kept is not None
            kept.put_many(
                {two.conversation_id: (two.message_id, before[0].situation.turns)},
                generation=kept.generation,
            )
            again = situations.take_many(conn, work, now=now)
        assert again == after
        assert kept.get(two.conversation_id) is None  # forgotten, not kept again


def test_turns_read_before_an_erasure_are_not_kept(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An erasure that commits while ``take_many`` reads (its snapshot older than the
    erasure, in the server's job thread say) leaves what that read saw out of the kept turns:
    the erasing process forgot its turns after the read began."""
    if desk.store.dialect != "sqlite":
        pytest.skip("turns are kept on SQLite only")
    from gracedesk.service import erasure

    p = post(desk, "Dana Smith here, 4 Elm Road: where is my parcel?", customer="mid-read")
    with desk.store.read() as s:
        customer_id = s.get_one(Conversation, p.conversation_id).customer_id
    real = situations._erased_among

    def erase_meanwhile() -> object:  # after take_many's first read: its snapshot is older
        erasure.erase(desk.store, customer_id, actor="system", now=NOW)
        return real()

    monkeypatch.setattr(situations, "_erased_among", erase_meanwhile)
    with desk.store.read_core() as conn:
        got = situations.take_many(conn, [(p.message_id, p.conversation_id)], now=NOW)
        kept = situations._turn_cache(conn)
    assert "Dana Smith" in got[0].situation.turns[0].text  # the older snapshot's text ...
    assert kept is not None and kept.get(p.conversation_id) is None  # ... is not kept


def test_the_kept_turns_stay_within_their_bounds() -> None:
    """``TurnCache`` keeps at most ``SIZE`` conversations and ``MAX_CHARS`` characters, the
    least recently read going first; its count of characters follows every put, replacement
    and forgetting; and a read begun before every conversation was forgotten keeps nothing."""
    kept = situations.TurnCache()
    kept.SIZE, kept.MAX_CHARS = 3, 100

    def turns(n: int) -> tuple[Turn, ...]:
        return (Turn("customer", "x" * n), Turn("agent", "y" * n))

    def chars() -> int:
        return sum(len(t.text) for c in range(10) if (e := kept.get(c)) for t in e[1])

    g = kept.generation
    kept.put_many({1: (10, turns(10)), 2: (20, turns(10))}, generation=g)
    kept.put_many({1: (11, turns(20))}, generation=g)  # replaced: 40 characters, not 60
    assert kept._chars == chars() == 60 and kept.get(1) == (11, turns(20))
    kept.put_many({3: (30, turns(5)), 4: (40, turns(5))}, generation=g)  # 4 conversations
    assert kept.get(2) is None and kept._chars == chars() == 60  # the oldest went
    kept.put_many({5: (50, turns(45))}, generation=g)  # 150 characters: past MAX_CHARS
    assert kept.get(1) is None and kept.get(3) is None  # the least recent, until 100 are left
    assert kept.get(4) is not None and kept._chars == chars() == 100
    kept.forget([5])
    assert kept._chars == chars() == 10
    kept.put_many({6: (60, turns(1))}, generation=g)
    kept.forget()  # every conversation: a new generation
    assert kept._chars == 0 and kept.generation == g + 1
    kept.put_many({7: (70, turns(1))}, generation=g)  # read before the forgetting
    assert kept.get(7) is None


def test_take_many_wants_one_message_per_conversation(desk: Desk) -> None:
    p = post(desk, "Where is my order?", customer="one")
    with desk.store.read_core() as conn, pytest.raises(ValueError):
        situations.take_many(
            conn, [(p.message_id, p.conversation_id)] * 2, now=NOW + timedelta(hours=1)
        )


MIXED = [
    "You idiots lost my parcel AGAIN. I want a refund now.",
    "Where is my order? It was due on Monday.",
    "If my money isn't back by Friday I will find you and break your face",
    "I want to speak to your manager right now, this is a disgrace.",
]


def _queue_mixed(desk: Desk, prefix: str, times: int) -> list[str]:
    """Queue :data:`MIXED` ``times`` over, each message from a new customer; returns the texts."""
    texts = MIXED * times
    for i, text in enumerate(texts):
        desk.post_message(
            Incoming(CustomerRef(f"{prefix}-{i}"), text), actor=None, now=NOW, respond_async=True
        )
    return texts


def test_a_batch_writes_the_audit_trail_message_by_message(desk: Desk) -> None:
    """``record_many`` writes a batch's audit events in the order one message at a time would:
    each message's own events (escalations, sanctions, …) and then its ``message.analysed``,
    before the next message's."""
    texts = _queue_mixed(desk, "trail", 3)
    with desk.store.read() as s:
        first = s.scalar(select(func.max(AuditEvent.id))) or 0
    assert ingest.analyse_queued(desk, now=NOW + timedelta(minutes=1)) == len(texts)
    with desk.store.read() as s:
        trail = s.execute(
            select(AuditEvent.conversation_id, AuditEvent.kind)
            .where(AuditEvent.id > first)
            .order_by(AuditEvent.id)
        ).all()
    runs: list[list[str]] = []
    last = None
    for conv, kind in trail:
        if conv != last:
            runs.append([])
            last = conv
        runs[-1].append(kind)
    assert len(runs) == len(texts)  # one contiguous run per message (its conversation)
    assert all(run[-1] == "message.analysed" for run in runs)
    assert any(len(run) > 1 for run in runs)  # some messages wrote events of their own


def test_a_batch_reads_its_pending_escalations_once(desk: Desk) -> None:
    """``escalations.Pending`` answers what one query per decision answered: the pending
    escalation of a conversation, kind and target, one the batch opened itself, and (outside
    the batch's conversations) the database's answer."""
    first = post(desk, "You are useless idiots and I will sue you.", customer="p-1")
    other = post(desk, "Where is my parcel?", customer="p-2")
    conv = first.conversation_id
    with desk.store.write_core() as conn:
        pending = escalations.pending_of(conn, [conv])
        with desk.store.read() as s:
            stored = s.scalars(
                select(Escalation).where(
                    Escalation.conversation_id == conv, Escalation.state == "pending"
                )
            ).all()
        assert stored
        for e in stored:
            assert pending.find(conn, conv, e.kind, e.target) == e.id
        assert pending.find(conn, conv, "escalation", "nobody") is None
        opened = escalations.open_escalation(
            conn,
            OpenEscalation(
                conv, 1, "escalation", "nobody", "r", None, None, Notice("a@b.c", "http://x"), NOW
            ),
            scrub=lambda c, i, t: t,
            pending=pending,
        )
        assert pending.find(conn, conv, "escalation", "nobody") == opened
        # a conversation outside the batch: looked up in the database
        assert pending.find(conn, other.conversation_id, "escalation", "supervisor") is None
        assert pending.find(conn, conv, stored[0].kind, stored[0].target) == stored[0].id


def _statements_during(desk: Desk, run: Callable[[], object]) -> list[str]:
    """The SQL statements the write engine runs while ``run`` runs (an executemany is one)."""
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        seen.append(" ".join(statement.split()))

    engine = desk.store.engines.write
    event.listen(engine, "before_cursor_execute", listen)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def test_a_batch_inserts_its_audit_events_in_one_statement(desk: Desk) -> None:
    """A micro-batch's audit events (its escalations' and sanctions' and each message's
    ``message.analysed``) go to the database in one INSERT, in order (test above), not one per
    event; unassigned conversations give rotation nothing to read in between."""
    texts = _queue_mixed(desk, "one", 3)
    with desk.store.read() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
    seen = _statements_during(desk, lambda: ingest.analyse_queued(desk, now=NOW))
    with desk.store.read() as s:
        written = (s.scalar(select(func.count()).select_from(AuditEvent)) or 0) - before
    inserts = [q for q in seen if q.startswith("INSERT INTO audit_events")]
    assert written > len(texts)  # events of their own besides each message.analysed
    assert len(inserts) == 1


def test_a_batch_writes_refreshed_packets_at_its_flush(desk: Desk) -> None:
    """``pending_of`` defers the packets it refreshes: the last one of each escalation is
    written at ``flush``, in one statement; a lookup without a batch writes at once."""
    first = post(desk, "You are useless idiots and I will sue you.", customer="pk-1")
    conv = first.conversation_id
    with desk.store.read() as s:
        eid = s.scalars(
            select(Escalation.id).where(
                Escalation.conversation_id == conv, Escalation.state == "pending"
            )
        ).first()
    assert eid is not None

    def packet() -> object:
        with desk.store.read() as s:
            return s.scalar(select(Escalation.packet).where(Escalation.id == eid))

    with desk.store.write_core() as conn:
        pending = escalations.pending_of(conn, [conv])
        pending.refresh(conn, eid, {"why": "first"})
        pending.refresh(conn, eid, {"why": "second"})
        assert conn.scalar(select(Escalation.packet).where(Escalation.id == eid)) != {
            "why": "second"
        }
        pending.flush(conn)
        assert conn.scalar(select(Escalation.packet).where(Escalation.id == eid)) == {
            "why": "second"
        }
    assert packet() == {"why": "second"}
    with desk.store.write_core() as conn:
        escalations.Pending(conn, ()).refresh(conn, eid, {"why": "at once"})
        assert conn.scalar(select(Escalation.packet).where(Escalation.id == eid)) == {
            "why": "at once"
        }


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        (
            "SELECT conversation_id, author, text, received_at FROM messages "
            "WHERE conversation_id = 1 AND id > 5 AND id <= 10 AND author != 'system' "
            "ORDER BY id DESC LIMIT 40",
            "INDEX ix_messages_conversation_id_author (conversation_id=? AND id>? AND id<?)",
        ),
        (
            "SELECT m.id FROM messages m WHERE m.analysis_state = 'queued' AND NOT EXISTS "
            "(SELECT 1 FROM messages o WHERE o.conversation_id = m.conversation_id "
            "AND o.id < m.id AND o.analysis_state IN ('queued', 'running')) "
            "ORDER BY m.id LIMIT 64",
            "COVERING INDEX ix_messages_conversation_state_id",
        ),
        (
            "SELECT conversation_id, max(id) FROM messages WHERE conversation_id IN (1, 2, 3) "
            "AND author = 'customer' GROUP BY conversation_id",
            "COVERING INDEX ix_messages_conversation_author_id",
        ),
        (
            "SELECT conversation_id, kind, target, id FROM escalations "
            "WHERE conversation_id IN (1, 2, 3) AND state = 'pending' ORDER BY id",
            "INDEX ix_escalations_conversation_state",
        ),
    ],
)
def test_the_batch_lookups_use_their_indexes(desk: Desk, statement: str, index: str) -> None:
    """A situation's newest turns (migration 0009), the claim's "older message still queued?",
    a batch's newest customer messages and its pending escalations are read by conversation
    from an index (migration 0008), not by walking and sorting every message of the
    conversation or every pending escalation of the desk."""
    if desk.store.dialect != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL plans by statistics)")
    with desk.store.read_core() as conn:
        plan = " | ".join(
            str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement)
        )
    assert index in plan, plan


def test_a_batch_scrubs_its_notifications_without_reading_evidence_back(desk: Desk) -> None:
    """``record_many`` keeps the abusive words of the analyses it stores (``remember_terms``):
    the notifications of the batch's new escalations are scrubbed without reading that
    evidence back, and the words kept are the ones a read of the stored evidence gives."""
    from gracedesk.service import protect

    _queue_mixed(desk, "scrub", 2)
    with desk.store.read() as s:
        convs = list(
            s.scalars(select(Message.conversation_id).where(Message.analysis_state == "queued"))
        )
    protect._TERMS.clear()
    seen = _statements_during(desk, lambda: ingest.analyse_queued(desk, now=NOW))
    assert any(q.startswith("INSERT INTO notifications") for q in seen)
    assert not any(q.startswith("SELECT messages.id, messages.text") for q in seen)
    with desk.store.write_core() as conn:
        kept = protect._terms_by_conversation(conn, convs)
    protect._TERMS.clear()
    with desk.store.write_core() as conn:
        read = protect._terms_by_conversation(conn, convs)
    assert kept == read
    assert any("idiots" in terms for terms in read.values())
