"""Reports: read the store into ``insights``' plain rows, and build the report from them.

The figures themselves are pure (``gracedesk.insights.report``); this module owns what needs the
store and the policy: the period from the caller's text (parsed once, here), the conversations
the period touches (narrowed to a team or an agent), and business minutes counted with the
policy's calendar exactly as the SLA clock counts them (``policy.sla.BusinessClock``; a priority
whose target is round the clock is counted round the clock; waiting on the customer is left out
of resolution times when the calendar says so). docs/insights.md defines every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gracedesk.errors import InvalidRequest
from gracedesk.insights import outcomes
from gracedesk.insights import report as build_report
from gracedesk.insights.rows import (
    ConversationRow,
    CustomerRow,
    EscalationRow,
    EventRow,
    History,
    MessageRow,
    Period,
    SanctionRow,
    SurveyRow,
    Target,
    UserRow,
)
from gracedesk.insights.stats import waiting_pauses
from gracedesk.model.staff import Staff
from gracedesk.policy.sla import BusinessClock
from gracedesk.service import knowledge_use
from gracedesk.service.outcomes import reply_outcomes
from gracedesk.service.records import SUPERVISING, require
from gracedesk.store import reports as reports_store
from gracedesk.store.reports import Scope

if TYPE_CHECKING:
    from sqlalchemy import Connection, Select

    from gracedesk.policy import PolicySet
    from gracedesk.service.desk import Desk
    from gracedesk.store import Store

DEFAULT_DAYS = 30
MAX_DAYS = 400  # a longer window is a batch job (gracedesk insights), not a page
NAME_MAX = 80  # users.name and conversations.team are 80 characters
TRAINING_LIMIT = 5000  # the most recent answered surveys the CSAT model learns from
# the audit events a report counts, read for the conversations in scope
EVENT_KINDS = ("conversation.resolved", "conversation.reopened", "agent.exposed")


def parse_time(value: str, name: str, *, end: bool = False) -> datetime:
    """An ISO 8601 date or date-time with an offset. A bare date is midnight UTC of that day;
    for ``until`` (``end``) the midnight after it, so ``--until 2026-11-30`` includes the 30th."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=int(end)), datetime.min.time(), UTC)
        t = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be an ISO 8601 date (2026-11-01) or date-time with an offset "
            f"(2026-11-01T09:00:00Z), not {value!r}"
        ) from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidRequest(f"{name} needs a time zone offset (e.g. {text}Z): {value!r}")
    try:
        return t.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(f"{name} is out of range once converted to UTC") from None


def _name(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value.strip()) > NAME_MAX:
        raise InvalidRequest(f"{what} is longer than {NAME_MAX} characters")
    return value.strip()


def period_of(
    since: str | None,
    until: str | None,
    *,
    team: str | None = None,
    agent: str | None = None,
    now: datetime,
) -> Period:
    """The report's period from the caller's text: by default the 30 days before ``now``."""
    end = parse_time(until, "until", end=True) if until else now.astimezone(UTC)
    start = parse_time(since, "since") if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidRequest(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})"
        )
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidRequest(f"the period is longer than {MAX_DAYS} days; report in parts")
    return Period(start, end, _name(team, "team"), _name(agent, "agent"))


def summary_for(
    desk: Desk,
    *,
    user: Staff,
    since: str | None,
    until: str | None,
    team: str | None,
    agent: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The report for a signed-in user: supervisors and admins only (PermissionDenied first,
    so an agent learns nothing from a bad parameter either)."""
    require(user, *SUPERVISING)
    period = period_of(since, until, team=team, agent=agent, now=now)
    return summary(desk.store, desk.policy, period)


def summary(store: Store, policy: PolicySet, period: Period) -> dict[str, Any]:
    """Every figure of the report for ``period`` (docs/insights.md)."""
    clocks = Clocks(policy)
    with store.read() as s:
        conn = s.connection()
        where = Scope(period.since, period.until, period.team, _agent_id(conn, period.agent))
        scope = _history(conn, reports_store.touched(where), clocks, full=True)
        scope = _with_globals(conn, scope, where)
        quotes, questions = knowledge_use.report_rows(
            s, reports_store.touched(where), period.since, period.until
        )
        scope = replace(scope, kb_quotes=tuple(quotes), kb_questions=tuple(questions))
        training = _history(
            conn, reports_store.answered(period.until, limit=TRAINING_LIMIT), clocks, full=False
        )
    calming = _outcomes(store, period, {c.id for c in scope.conversations})
    targets = {
        name: Target(t.first_response_minutes, t.resolution_minutes)
        for name, t in policy.sla.targets.items()
    }
    return build_report.build(
        scope,
        period,
        priorities=policy.sla.priorities,
        targets=targets,
        zone=ZoneInfo(policy.calendar.timezone),
        training=training,
        outcomes=calming,
    )


def _outcomes(store: Store, p: Period, scope: set[int]) -> dict[str, Any]:
    """What calms customers (issue 13 item 2): ``insights.outcomes.summary`` of the replies
    sent in the period, narrowed like the rest of the report."""
    rows = reply_outcomes(store, p.since, p.until)
    if p.team is not None or p.agent is not None:
        rows = [r for r in rows if r.conversation_id in scope]
    return outcomes.summary(rows)


class Clocks:
    """The SLA clock of each priority (the calendar's, or round the clock) and its pauses."""

    def __init__(self, policy: PolicySet) -> None:
        self.calendar = BusinessClock(policy.calendar)
        self.always = BusinessClock(policy.calendar, always_open=True)
        self.round_the_clock = {n for n, t in policy.sla.targets.items() if not t.business_hours}
        self.pause = policy.calendar.pause_while_waiting_on_customer

    def of(self, priority: str) -> BusinessClock:
        return self.always if priority in self.round_the_clock else self.calendar


def _agent_id(conn: Connection, name: str | None) -> int | None:
    if name is None:
        return None
    uid = reports_store.user_id(conn, name)
    if uid is None:
        raise InvalidRequest(f"there is no user named {name!r}")
    return uid


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _message(r: Any) -> MessageRow:
    sig = r.signals if isinstance(r.signals, dict) else None
    crit = _dict(r.critique)
    if sig is None or r.analysis_state != "done":
        return MessageRow(
            r.id, r.conversation_id, r.author, r.channel, r.received_at,
            coach_score=_num(crit.get("score")),
        )  # fmt: skip
    emotions, causes, ctx = (
        _dict(sig.get("emotions")),
        _dict(sig.get("causes")),
        _dict(sig.get("context")),
    )
    archetype = ctx.get("archetype")
    return MessageRow(
        id=r.id,
        conversation_id=r.conversation_id,
        author=r.author,
        channel=r.channel,
        received_at=r.received_at,
        analysed=True,
        risk=_num(r.risk) if r.risk is not None else _num(sig.get("risk")),
        anger=_num(emotions.get("anger")),
        labels=tuple(str(x) for x in sig.get("labels") or ()),
        causes={str(k): x for k, v in causes.items() if (x := _num(v)) is not None},
        archetype=archetype if isinstance(archetype, str) else None,
        coach_score=_num(crit.get("score")),
    )


def _conversation(c: Any, turns: list[tuple[str, datetime]], clocks: Clocks) -> ConversationRow:
    """The conversation with its business minutes, as the SLA clock of its priority counts."""
    clock = clocks.of(c.priority)
    first = clock.minutes_between(c.opened_at, c.first_response_at) if c.first_response_at else None
    resolved = None
    if c.status == "resolved" and c.resolved_at is not None:
        pauses = waiting_pauses(turns, c.resolved_at) if clocks.pause else []
        resolved = clock.minutes_between(c.opened_at, c.resolved_at, pauses=pauses)
    return ConversationRow(
        id=c.id,
        customer_id=c.customer_id,
        channel=c.channel,
        team=c.team,
        assignee_id=c.assignee_id,
        priority=c.priority,
        status=c.status,
        opened_at=c.opened_at,
        first_response_at=c.first_response_at,
        resolved_at=c.resolved_at,
        sla_breached_at=c.sla_breached_at,
        first_response_minutes=first,
        resolution_minutes=resolved,
    )


def _history(conn: Connection, ids: Select[Any], clocks: Clocks, *, full: bool) -> History:
    """The rows of the conversations ``ids`` selects; ``full`` adds what only the report reads
    (customers, the events of exposure and resolution), not the CSAT model."""
    messages = [_message(r) for r in reports_store.messages(conn, ids)]
    turns: dict[int, list[tuple[str, datetime]]] = {}
    for m in messages:
        if m.author in ("customer", "agent"):
            turns.setdefault(m.conversation_id, []).append((m.author, m.received_at))
    conversations = [
        _conversation(c, turns.get(c.id, []), clocks)
        for c in reports_store.conversations(conn, ids)
    ]
    escalations = [
        EscalationRow(
            e.id, e.conversation_id, e.kind, e.target, e.rule_id, e.state, e.created_at,
            e.decided_at,
            clocks.calendar.minutes_between(e.created_at, e.decided_at) if e.decided_at else None,
        )
        for e in reports_store.escalations(conn, ids)
    ]  # fmt: skip
    surveys = [
        SurveyRow(r.id, r.conversation_id, r.sent_at, r.score, r.responded_at)
        for r in reports_store.surveys(conn, ids)
    ]
    kinds = EVENT_KINDS if full else ("conversation.reopened",)
    events = [
        _event(e.kind, e.at, e.conversation_id, e.actor_id, e.detail)
        for e in reports_store.events(conn, ids, kinds)
    ]
    sanctions = _sanctions(reports_store.sanctions(conn, ids), {})
    customers: list[CustomerRow] = []
    if full:
        customers = [
            CustomerRow(r.id, r.external_id, r.name) for r in reports_store.customers(conn, ids)
        ]
    return History(
        conversations=tuple(conversations),
        messages=tuple(messages),
        escalations=tuple(escalations),
        sanctions=tuple(sanctions),
        surveys=tuple(surveys),
        events=tuple(events),
        customers=tuple(customers),
    )


def _event(kind: str, at: datetime, conv: int | None, actor: int | None, detail: Any) -> EventRow:
    """``agent.exposed`` names the agent in its detail (the actor is the system)."""
    who = actor
    if kind == "agent.exposed" and isinstance(detail, dict):
        uid = detail.get("user_id")
        who = uid if isinstance(uid, int) and not isinstance(uid, bool) else None
    return EventRow(kind, at, conv, who)


def _sanctions(rows: Sequence[Any], lifted: Mapping[int, datetime]) -> list[SanctionRow]:
    return [
        SanctionRow(
            x.id, x.customer_id, x.conversation_id, x.level, x.state, x.created_at,
            lifted.get(x.id),
        )
        for x in rows
    ]  # fmt: skip


def _lifted(conn: Connection, where: Scope) -> dict[int, datetime]:
    """Sanction id -> when it was lifted, for ``sanction.lifted`` events in the period."""
    out: dict[int, datetime] = {}
    for at, detail in reports_store.lifted(conn, where):
        sid = detail.get("sanction_id") if isinstance(detail, dict) else None
        if isinstance(sid, int) and not isinstance(sid, bool):
            out[sid] = max(at, out.get(sid, at))
    return out


def _with_globals(conn: Connection, h: History, where: Scope) -> History:
    """Add what belongs to no conversation: people and their breaks, sanctions lifted in the
    period (the lift event names only the sanction), and, without a filter, sanctions given
    outside a conversation."""
    lifted = _lifted(conn, where)
    seen = {x.id for x in h.sanctions}
    loose = reports_store.loose_sanctions(conn, where, list(lifted))
    extra = [x for x in _sanctions(loose, lifted) if x.id not in seen]
    sanctions = [
        SanctionRow(
            x.id, x.customer_id, x.conversation_id, x.level, x.state, x.created_at,
            lifted.get(x.id),
        )
        for x in h.sanctions
    ]  # fmt: skip
    users = [
        UserRow(u.id, u.name, u.display_name, u.role, u.last_break_at)
        for u in reports_store.users(conn)
    ]
    breaks = [
        EventRow("agent.break", at, None, uid) for at, uid in reports_store.breaks(conn, where)
    ]
    return History(
        conversations=h.conversations,
        messages=h.messages,
        escalations=h.escalations,
        sanctions=(*sanctions, *extra),
        surveys=h.surveys,
        events=(*h.events, *breaks),
        users=tuple(users),
        customers=h.customers,
    )


def choices(desk: Desk, *, user: Staff) -> dict[str, list[str]]:
    """The teams and people the console's filter offers (supervisors and admins)."""
    require(user, *SUPERVISING)
    with desk.store.read_core() as conn:
        teams = reports_store.teams(conn)
        names = reports_store.active_user_names(conn)
    return {"teams": sorted(t for t in teams if t), "agents": list(names)}
