"""A stored conversation as the core reads it: a :class:`~gracedesk.model.situation.Situation`
built straight from rows (messages, customer history, agent, open promises).

Read on every customer message (``service.desk``, the worker's micro-batches, policy replay), so
it runs the prepared statements of the store's modules (``store.messages``, ``.customers``, ...).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, bindparam, func, or_, select, union_all
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter

from gracedesk.model.flags import valid_flags
from gracedesk.model.signals import CAUSES
from gracedesk.model.situation import (
    AUTHORITY_KEYS,
    AgentProfile,
    Authority,
    Compensation,
    CustomerHistory,
    OpenPromise,
    PastIssue,
    Role,
    Sanction,
    Situation,
    Turn,
)
from gracedesk.store.agents import agent_by_id
from gracedesk.store.conversations import (
    CONVERSATIONS,
    HISTORY_CONVERSATIONS,
    conversation_by_id,
    past_conversations,
)
from gracedesk.store.customers import customer_by_id
from gracedesk.store.engine import PerEngine
from gracedesk.store.escalations import compensation, threat_cleared_at
from gracedesk.store.follow_ups import open_promises
from gracedesk.store.messages import (
    CONTEXT_MESSAGES,
    ERASED,
    MESSAGES,
    messages_upto,
    recent_messages,
)
from gracedesk.store.sanctions import active_sanctions, sanctions_in_force
from gracedesk.store.tables import Customer, Escalation, FollowUp, User, table_of
from gracedesk.store.tables import Sanction as SanctionRow

CUSTOMERS, USERS = table_of(Customer), table_of(User)
FOLLOW_UPS, ESCALATIONS, SANCTIONS = table_of(FollowUp), table_of(Escalation), table_of(SanctionRow)

COMPENSATION_KINDS = ("refund", "credit", "discount")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A conversation's Situation and what the desk adds: whether a restriction or block is in
    force (longer SLA)."""

    conversation_id: int
    situation: Situation
    restricted: bool = False


def recent_counts(past: Iterable[Any], *, now: datetime, exclude: int | None) -> tuple[int, int]:
    """(contacts in 30 days, complaints in 90 days) from past conversations, bar ``exclude``."""
    rows = [r for r in past if r.id != exclude]
    contacts = sum(1 for r in rows if r.opened_at >= now - timedelta(days=30))
    complaints = sum(
        1
        for r in rows
        if "complaint" in (r.labels or []) and r.opened_at >= now - timedelta(days=90)
    )
    return contacts, complaints


def top_cause(labels: list[Any]) -> str | None:
    return next((c for c in CAUSES if c in labels), None)


def agent_of(row: Any) -> AgentProfile:
    """The assignee as the core reads it (a row with role, display_name, authority)."""
    if row is None:
        return AgentProfile()
    raw: Mapping[str, Any] = row.authority or {}
    limits = {k: float(raw.get(k) or 0.0) for k in AUTHORITY_KEYS}
    return AgentProfile(role=row.role, name=row.display_name, authority=Authority(**limits))


def past_issue(row: Any) -> PastIssue:
    """An earlier conversation (a row with subject, channel, opened_at, labels) as history."""
    return PastIssue(
        _text((row.subject or row.channel)[:200]) or "(no summary)",
        row.opened_at,
        top_cause(row.labels or []),
    )


def compensation_of(data: Mapping[str, Any], at: datetime | None) -> Compensation | None:
    """What an approved escalation's ``data`` granted (refund, credit, discount), or None."""
    kind, amount = data.get("request_kind"), data.get("amount")
    if kind not in COMPENSATION_KINDS:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        amount = None
    return Compensation(kind, None if amount is None else float(amount), at)


def _text(v: Any) -> str | None:
    return v.strip() or None if isinstance(v, str) else None


def _base(cust: Any) -> CustomerHistory:
    """What the customer's row says (a row with name, tier, lifetime_value, preferences, flags)."""
    prefs: Mapping[str, Any] = cust.preferences or {}
    channel = _text(prefs.get("preferred_channel"))
    return CustomerHistory(
        name=cust.name,
        tier=cust.tier,
        lifetime_value=cust.lifetime_value,
        flags=valid_flags(cust.flags),
        preferred_channel=channel.lower() if channel else None,
        currency=_text(prefs.get("currency")),
    )


def _history(
    cust: Any,
    past: Sequence[Any],
    sanctions: Iterable[Any],
    given: Iterable[Any],
    *,
    now: datetime,
    exclude: int | None,
) -> CustomerHistory:
    """The history from the customer's row, past conversations (newest first, without
    ``exclude``), active sanctions (oldest first) and approved escalations (newest first)."""
    contacts, complaints = recent_counts(past, now=now, exclude=exclude)
    return replace(
        _base(cust),
        complaints_90d=complaints,
        contacts_30d=contacts,
        sanctions=tuple(Sanction(r.level, r.created_at, r.reason[:200]) for r in sanctions),
        issues=tuple(past_issue(r) for r in past[:5]),
        compensation=tuple(
            c for r in given if (c := compensation_of(r.data, r.decided_at)) is not None
        ),
    )


def customer_history(
    conn: Connection,
    customer_id: int,
    *,
    now: datetime,
    exclude: int | None,
    new: bool = False,
    row: Any = None,
) -> CustomerHistory:
    """The customer's history: counts, past issues, sanctions in force, compensation given."""
    cust = row if row is not None else conn.execute(customer_by_id(), {"cid": customer_id}).one()
    if new:  # a customer created by this very message has no history yet
        return _base(cust)
    past = [r for r in conn.execute(past_conversations(), {"cid": customer_id}) if r.id != exclude]
    return _history(
        cust,
        past,
        conn.execute(active_sanctions(), {"cid": customer_id}),
        conn.execute(compensation(), {"cid": customer_id}),
        now=now,
        exclude=exclude,
    )


def take(
    conn: Connection,
    conv_id: int,
    *,
    now: datetime,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    new_customer: bool = False,
    customer_row: Any = None,
    upto: int | None = None,
    restricted: bool | None = None,
    id: int | None = None,
) -> Snapshot:
    """The conversation's Situation: messages, customer history, agent, open promises.

    ``upto``: only the messages up to this message id (re-analysing an older message).
    ``restricted``: whether a restriction or block is in force, when ``accept`` already
    looked (else it is looked up here). ``id``: the Situation's reference (the message id).
    """
    if customer_id is None:
        conv = conn.execute(conversation_by_id(), {"conv": conv_id}).one()
        customer_id, assignee_id = conv.customer_id, conv.assignee_id
    rows = (
        conn.execute(recent_messages(), {"conv": conv_id}).all()
        if upto is None
        else conn.execute(messages_upto(), {"conv": conv_id, "upto": upto}).all()
    )
    turns = tuple(Turn(cast("Role", r.author), r.text, r.received_at) for r in reversed(rows))
    promises = tuple(
        OpenPromise(p.promise, p.due_at)
        for p in conn.execute(open_promises(), {"conv": conv_id}).all()
    )
    assignee = conn.execute(agent_by_id(), {"uid": assignee_id}).first() if assignee_id else None
    cleared = conn.execute(threat_cleared_at(), {"conv": conv_id}).scalar()
    if restricted is None:
        found = conn.execute(sanctions_in_force(), {"cid": customer_id, "now": now}).first()
        restricted = found is not None
    situation = Situation(
        turns=turns,
        customer=customer_history(
            conn, customer_id, now=now, exclude=conv_id, new=new_customer, row=customer_row
        ),
        agent=agent_of(assignee),
        promises=promises,
        threat_cleared_at=cleared,
        id=id,
    )
    return Snapshot(conv_id, situation, restricted)


# -- a micro-batch's situations, read set-based ------------------------------------------------


UNION_MAX = 64  # conversations per read of their newest messages


@cache
def _messages_since_many(n: int) -> Select[Any]:
    """The newest ``CONTEXT_MESSAGES`` messages of each of ``n`` conversations (``c{i}``) after
    one message id (``lo{i}``; 0 for all) up to another (``u{i}``), system messages left out,
    oldest first: one ``LIMIT`` read per conversation on ``messages (conversation_id, id,
    author)``, joined by ``UNION ALL`` (a window over every earlier message of the batch's
    conversations, sorted, took about 1.6x as long on SQLite)."""
    m = MESSAGES.c
    each = [
        select(m.conversation_id, m.author, m.text, m.received_at, m.id)
        .where(
            m.conversation_id == bindparam(f"c{i}"),
            m.id > bindparam(f"lo{i}"),
            m.id <= bindparam(f"u{i}"),
            m.author != "system",
        )
        .order_by(m.id.desc())
        .limit(CONTEXT_MESSAGES)
        .subquery()
        for i in range(n)
    ]
    both = union_all(*(select(s) for s in each)).subquery()
    return select(both.c.conversation_id, both.c.author, both.c.text, both.c.received_at).order_by(
        both.c.conversation_id, both.c.id
    )


@cache
def _erased_among() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(m.conversation_id)
        .where(
            m.conversation_id.in_(bindparam("convs", expanding=True)), m.analysis_state == ERASED
        )
        .distinct()
    )


class TurnCache:
    """Each conversation's turns as last read by this process, up to which message: the
    worker reads a conversation's forty newest messages for every new one it analyses, and
    with this only the messages that came since (about one) are read again. SQLite only:
    there one writer at a time gives every new message a higher id than any committed before,
    so nothing can appear later below an id already read; on PostgreSQL ids are drawn before
    their transactions commit, in any order, and the turns are read whole every time.

    A stored message's author, text and time are never rewritten except by an erasure
    (``store.erasure``), which masks every message of the customer's conversations and sets
    their customer messages' analysis state to ``erased``, for good (``messages.reclaim``
    leaves them), in one transaction. Each read asks which of the batch's conversations hold
    an erased message (every conversation read holds the customer message being analysed):
    those are read whole, and forgotten; the erasing process forgets every conversation
    (:func:`forget_turns`), and a read that began before it does not keep what it read
    (``generation``). Messages are never deleted. Bounded: the conversations least
    recently read go first, past ``SIZE`` conversations or ``MAX_CHARS`` characters of text."""

    SIZE = 4096  # conversations
    MAX_CHARS = 16_000_000  # characters of text, all conversations together

    def __init__(self) -> None:
        self._turns: OrderedDict[int, tuple[int, tuple[Turn, ...], int]] = OrderedDict()
        self._chars = 0
        self.generation = 0  # forgetting every conversation starts a new one
        self._lock = threading.Lock()

    def get(self, conv_id: int) -> tuple[int, tuple[Turn, ...]] | None:
        """``(upto, turns)``: the conversation's newest turns up to message ``upto``."""
        with self._lock:
            got = self._turns.get(conv_id)
        return None if got is None else (got[0], got[1])

    def put_many(
        self, entries: Mapping[int, tuple[int, tuple[Turn, ...]]], *, generation: int
    ) -> None:
        """Keep these conversations' turns, read during ``generation``: nothing if every
        conversation was forgotten since (the read may hold text an erasure has masked)."""
        with self._lock:
            if generation != self.generation:
                return
            for conv_id, (upto, turns) in entries.items():
                self._drop(conv_id)
                size = sum(len(t.text) for t in turns)
                self._turns[conv_id] = (upto, turns, size)
                self._chars += size
            while self._turns and (len(self._turns) > self.SIZE or self._chars > self.MAX_CHARS):
                self._chars -= self._turns.popitem(last=False)[1][2]

    def forget(self, conv_ids: Iterable[int] | None = None) -> None:
        """Forget these conversations (None: every one)."""
        with self._lock:
            if conv_ids is None:
                self._turns.clear()
                self._chars = 0
                self.generation += 1
            for conv_id in conv_ids or ():
                self._drop(conv_id)

    def _drop(self, conv_id: int) -> None:
        old = self._turns.pop(conv_id, None)
        if old is not None:
            self._chars -= old[2]


_TURNS = PerEngine(TurnCache)  # one per SQLite engine: a message id is unique within one database


def _turn_cache(conn: Connection) -> TurnCache | None:
    return _TURNS.of(conn.engine) if conn.dialect.name == "sqlite" else None


def forget_turns() -> None:
    """Forget the turns every :class:`TurnCache` of this process keeps (an erasure: the
    conversations it masked may be among them)."""
    for kept in _TURNS.all():
        kept.forget()


def _turns_of(
    conn: Connection,
    work: Sequence[tuple[int, int]],
    kept: TurnCache | None,
    generation: int,
) -> dict[int, tuple[Turn, ...]]:
    """Each ``(mid, conv)``'s conversation turns up to ``mid``, as :func:`take` reads them
    (the newest ``CONTEXT_MESSAGES``, system messages left out): what ``kept`` holds, and the
    messages after it read set-based. ``generation``: ``kept``'s, read before the
    transaction's first statement (its snapshot), so that what a snapshot older than an
    erasure read is not kept once the erasing process has forgotten."""
    known: dict[int, tuple[int, tuple[Turn, ...]]] = {}
    if kept is not None:
        erased = set(conn.execute(_erased_among(), {"convs": [c for _, c in work]}).scalars())
        kept.forget(erased)
        for mid, cid in work:
            got = kept.get(cid) if cid not in erased else None
            if got is not None and got[0] <= mid:
                known[cid] = got
    rows: list[Any] = []
    for k in range(0, len(work), UNION_MAX):  # SQLite joins at most 500 selects by UNION
        part = work[k : k + UNION_MAX]
        params: dict[str, Any] = {}
        for i, (mid, cid) in enumerate(part):
            params |= {f"c{i}": cid, f"u{i}": mid, f"lo{i}": known[cid][0] if cid in known else 0}
        rows += conn.execute(_messages_since_many(len(part)), params).all()
    new: dict[int, list[Turn]] = defaultdict(list)
    for cid, author, text, at in rows:
        new[cid].append(Turn(author, text, at))
    out: dict[int, tuple[Turn, ...]] = {}
    for _, cid in work:
        before = known[cid][1] if cid in known else ()
        turns = (*before, *new.get(cid, ()))[-CONTEXT_MESSAGES:]
        if turns:
            out[cid] = turns
    if kept is not None:
        kept.put_many(
            {cid: (mid, out.get(cid, ())) for mid, cid in work if cid not in erased},
            generation=generation,
        )
    return out


@cache
def _statements() -> dict[str, Select[Any]]:
    """The set-based reads of :func:`take_many` (expanding ``IN`` lists: one statement each)."""
    v, c, u = CONVERSATIONS.c, CUSTOMERS.c, USERS.c
    f, e, s = FOLLOW_UPS.c, ESCALATIONS.c, SANCTIONS.c
    convs: BindParameter[Any] = bindparam("convs", expanding=True)
    custs: BindParameter[Any] = bindparam("custs", expanding=True)
    past_rn = func.row_number().over(
        partition_by=v.customer_id, order_by=(v.opened_at.desc(), v.id.desc())
    )
    past = (
        select(v.customer_id, v.id, v.opened_at, v.subject, v.channel, v.labels)
        .add_columns(past_rn.label("rn"))
        .where(v.customer_id.in_(custs))
        .subquery()
    )
    comp_rn = func.row_number().over(
        partition_by=v.customer_id, order_by=(e.decided_at.desc(), e.id.desc())
    )
    comp = (
        select(v.customer_id, e.data, e.decided_at, comp_rn.label("rn"))
        .join(CONVERSATIONS, v.id == e.conversation_id)
        .where(v.customer_id.in_(custs), e.kind == "approval", e.state == "approved")
        .subquery()
    )
    return {
        "conversations": select(v.id, v.customer_id, v.assignee_id).where(v.id.in_(convs)),
        "promises": select(f.conversation_id, f.promise, f.due_at)
        .where(f.conversation_id.in_(convs), f.state == "open")
        .order_by(f.id),
        "agents": select(u.id, u.role, u.display_name, u.authority).where(
            u.id.in_(bindparam("users", expanding=True))
        ),
        "cleared": select(e.conversation_id, func.max(e.decided_at))
        .where(e.conversation_id.in_(convs), e.target == "security", e.state != "pending")
        .group_by(e.conversation_id),
        "in_force": select(s.customer_id).where(
            s.customer_id.in_(custs),
            s.state == "active",
            s.level.in_(("restrict", "block")),
            or_(s.until.is_(None), s.until > bindparam("now")),
        ),
        "customers": select(c.id, c.name, c.tier, c.lifetime_value, c.preferences, c.flags).where(
            c.id.in_(custs)
        ),
        "past": select(
            past.c.customer_id,
            past.c.id,
            past.c.opened_at,
            past.c.subject,
            past.c.channel,
            past.c.labels,
        )
        .where(past.c.rn <= HISTORY_CONVERSATIONS)
        .order_by(past.c.customer_id, past.c.rn),
        "sanctions": select(s.customer_id, s.level, s.created_at, s.reason)
        .where(s.customer_id.in_(custs), s.state == "active")
        .order_by(s.customer_id, s.created_at, s.id),
        "compensation": select(comp.c.customer_id, comp.c.data, comp.c.decided_at)
        .where(comp.c.rn <= 10)
        .order_by(comp.c.customer_id, comp.c.rn),
    }


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        out[int(r[0])].append(r)
    return out


def take_many(
    conn: Connection, work: Sequence[tuple[int, int]], *, now: datetime
) -> list[Snapshot]:
    """``take(conn, conv, now=now, upto=mid, id=mid)`` for each ``(mid, conv)`` of a
    micro-batch (one message per conversation), in about ten statements for the whole batch
    instead of about ten per message. The same Situations, field for field
    (tests/desk/test_ingest.py compares them). Call it first in its read transaction (the
    worker does): the kept turns are only kept if no erasure was forgotten since it began."""
    if not work:
        return []
    kept = _turn_cache(conn)
    generation = kept.generation if kept is not None else 0  # before any read (see _turns_of)
    q = _statements()
    conv_ids = [cid for _, cid in work]
    if len(set(conv_ids)) != len(conv_ids):
        raise ValueError("take_many reads one message per conversation")
    convs = {int(r.id): r for r in conn.execute(q["conversations"], {"convs": conv_ids})}
    cust_ids = sorted({int(r.customer_id) for r in convs.values()})
    user_ids = sorted({int(r.assignee_id) for r in convs.values() if r.assignee_id})
    turns = _turns_of(conn, work, kept, generation)
    promises = _grouped(conn.execute(q["promises"], {"convs": conv_ids}).all())
    agents = (
        {int(r.id): r for r in conn.execute(q["agents"], {"users": user_ids})} if user_ids else {}
    )
    cleared: dict[int, datetime | None] = {
        int(r[0]): r[1] for r in conn.execute(q["cleared"], {"convs": conv_ids})
    }
    restricted = {int(r[0]) for r in conn.execute(q["in_force"], {"custs": cust_ids, "now": now})}
    customers = {int(r.id): r for r in conn.execute(q["customers"], {"custs": cust_ids})}
    past = _grouped(conn.execute(q["past"], {"custs": cust_ids}).all())
    sanctions = _grouped(conn.execute(q["sanctions"], {"custs": cust_ids}).all())
    comp = _grouped(conn.execute(q["compensation"], {"custs": cust_ids}).all())
    out = []
    for mid, cid in work:
        conv = convs[cid]
        cust_id = int(conv.customer_id)
        situation = Situation(
            turns=turns.get(cid, ()),
            customer=_history(
                customers[cust_id],
                [r for r in past.get(cust_id, ()) if r.id != cid],
                sanctions.get(cust_id, ()),
                comp.get(cust_id, ()),
                now=now,
                exclude=cid,
            ),
            agent=agent_of(agents.get(conv.assignee_id) if conv.assignee_id else None),
            promises=tuple(OpenPromise(p.promise, p.due_at) for p in promises.get(cid, ())),
            threat_cleared_at=cleared.get(cid),
            id=mid,
        )
        out.append(Snapshot(cid, situation, cust_id in restricted))
    return out
