"""The report: what the desk did in a period, one small function per section.

Each section reads the rows of ``History`` (already narrowed to a team or an agent) and keeps
what falls in ``[since, until)`` by its own time stamp: a conversation counts as *opened* by
``opened_at``, *resolved* by ``resolved_at``, a message by ``received_at``, an escalation by
``created_at`` (a decision by ``decided_at``), a survey by ``sent_at``, an audit event by
``at``. docs/insights.md defines every figure; the tests assert them on hand-built histories.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from gracedesk.insights import predicted_csat
from gracedesk.insights.rows import (
    ConversationRow,
    History,
    MessageRow,
    Period,
    QuoteRow,
    Target,
)
from gracedesk.insights.stats import mean, met, rate, spread
from gracedesk.model import ARCHETYPES, CAUSES

CAUSE_LINE = 0.5  # a cause (or label) counts from the analysis' decision threshold on
REPEAT_MINIMUM = 2  # complaint messages that make a repeat complainer
REPEAT_TOP = 10
SCORES = ("1", "2", "3", "4", "5")
SANCTION_LEVELS = ("warn", "restrict", "block")
KB_TOP = 20  # articles listed, and recent questions without an article


def build(
    history: History,
    period: Period,
    *,
    priorities: Sequence[str],
    targets: Mapping[str, Target],
    zone: tzinfo,
    training: History | None = None,
    outcomes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every section of the report. ``training``: the answered surveys the CSAT model learns
    from (the whole store, not narrowed); ``outcomes``: what calms customers, summarised by
    ``insights.outcomes.summary`` over the period's replies (docs/insights-outcomes.md)."""
    return {
        "period": period_section(period, zone),
        "volume": volume(history, period),
        "first_response": first_response(history, period),
        "resolution": resolution(history, period),
        "sla": sla(history, period, priorities, targets),
        "reopen_rate": reopen_rate(history, period),
        "csat": csat(history, period),
        "escalations": escalations(history, period),
        "causes": causes(history, period, zone),
        "archetypes": archetypes(history, period),
        "repeat_complainers": repeat_complainers(history, period),
        "abuse_exposure": abuse_exposure(history, period),
        "sanctions": sanctions(history, period),
        "knowledge_base": knowledge_base(history, period),
        "outcomes": outcomes,
        "predicted_csat": predicted_csat.section(training or history, history, period),
    }


def period_section(p: Period, zone: tzinfo) -> dict[str, Any]:
    return {
        "since": p.since.isoformat(),
        "until": p.until.isoformat(),
        "days": round((p.until - p.since).total_seconds() / 86400, 2),
        "team": p.team,
        "agent": p.agent,
        "timezone": str(zone),
    }


def _opened(h: History, p: Period) -> list[ConversationRow]:
    return [c for c in h.conversations if p.contains(c.opened_at)]


def _resolved(h: History, p: Period) -> list[ConversationRow]:
    return [c for c in h.conversations if c.status == "resolved" and p.contains(c.resolved_at)]


def _customer_messages(h: History, p: Period) -> list[MessageRow]:
    return [m for m in h.messages if m.author == "customer" and p.contains(m.received_at)]


def volume(h: History, p: Period) -> dict[str, Any]:
    """Customer messages and agent replies received, conversations opened and resolved."""
    opened = _opened(h, p)
    received = _customer_messages(h, p)
    convs = Counter(c.channel for c in opened)
    msgs = Counter(m.channel for m in received)
    return {
        "messages": len(received),
        "replies": sum(1 for m in h.messages if m.author == "agent" and p.contains(m.received_at)),
        "conversations": len(opened),
        "resolved": len(_resolved(h, p)),
        "by_channel": {
            ch: {"conversations": convs[ch], "messages": msgs[ch]}
            for ch in sorted(set(convs) | set(msgs))
        },
    }


def first_response(h: History, p: Period) -> dict[str, Any]:
    """Business minutes from opening to the first reply, over conversations opened in the
    period that have one; ``unanswered``: those opened in the period still without one."""
    opened = _opened(h, p)
    minutes = [c.first_response_minutes for c in opened if c.first_response_minutes is not None]
    return {**spread(minutes), "unanswered": sum(1 for c in opened if c.first_response_at is None)}


def resolution(h: History, p: Period) -> dict[str, Any]:
    """Business minutes from opening to resolution (waiting on the customer left out), over
    conversations resolved in the period."""
    return spread(
        [c.resolution_minutes for c in _resolved(h, p) if c.resolution_minutes is not None]
    )


def sla(
    h: History, p: Period, priorities: Sequence[str], targets: Mapping[str, Target]
) -> dict[str, Any]:
    """Attainment of each priority's targets, and the breaches the SLA sweep recorded."""
    opened, resolved = _opened(h, p), _resolved(h, p)
    breached = [c for c in h.conversations if p.contains(c.sla_breached_at)]
    seen = {c.priority for c in (*opened, *resolved, *breached)}
    order = [*priorities, *sorted(seen - set(priorities))]
    by_priority: dict[str, Any] = {}
    totals = {"first_response": [0, 0], "resolution": [0, 0]}
    for pr in order:
        t = targets.get(pr)
        fr = [c for c in opened if c.priority == pr and c.first_response_minutes is not None]
        rs = [c for c in resolved if c.priority == pr and c.resolution_minutes is not None]
        fr_met = sum(
            1 for c in fr if t and (c.first_response_minutes or 0) <= t.first_response_minutes
        )
        rs_met = sum(1 for c in rs if t and (c.resolution_minutes or 0) <= t.resolution_minutes)
        fr_n, rs_n = (len(fr), len(rs)) if t else (0, 0)  # no target: nothing to attain
        totals["first_response"][0] += fr_met
        totals["first_response"][1] += fr_n
        totals["resolution"][0] += rs_met
        totals["resolution"][1] += rs_n
        by_priority[pr] = {
            "first_response_target": t.first_response_minutes if t else None,
            "resolution_target": t.resolution_minutes if t else None,
            "first_response": met(fr_met, fr_n),
            "resolution": met(rs_met, rs_n),
            "breaches": sum(1 for c in breached if c.priority == pr),
        }
    return {
        "first_response": met(*totals["first_response"]),
        "resolution": met(*totals["resolution"]),
        "by_priority": by_priority,
        "breaches": len(breached),
    }


def reopen_rate(h: History, p: Period) -> dict[str, Any]:
    """Of the conversations resolved in the period (a ``conversation.resolved`` event), the
    share the customer reopened afterwards (a ``conversation.reopened`` event before ``until``)."""
    first_resolved: dict[int, datetime] = {}
    for e in h.events:
        if e.kind == "conversation.resolved" and e.conversation_id is not None and p.contains(e.at):
            cid = e.conversation_id
            first_resolved[cid] = min(e.at, first_resolved.get(cid, e.at))
    reopened = {
        e.conversation_id
        for e in h.events
        if e.kind == "conversation.reopened"
        and e.conversation_id in first_resolved
        and first_resolved[e.conversation_id] < e.at < p.until
    }
    return {
        "resolved": len(first_resolved),
        "reopened": len(reopened),
        "rate": rate(len(reopened), len(first_resolved)),
    }


def csat(h: History, p: Period) -> dict[str, Any]:
    """Surveys sent in the period, how many were answered (before ``until``) and the scores."""
    sent = [s for s in h.surveys if p.contains(s.sent_at)]
    scores = [
        s.score
        for s in sent
        if s.score is not None and s.responded_at is not None and s.responded_at < p.until
    ]
    counts = Counter(str(x) for x in scores)
    return {
        "sent": len(sent),
        "answered": len(scores),
        "response_rate": rate(len(scores), len(sent)),
        "mean": mean(scores),
        "distribution": {k: counts[k] for k in SCORES},
    }


def escalations(h: History, p: Period) -> dict[str, Any]:
    """What was escalated (every kind opened in the period, by kind, rule and target), the
    share of new conversations escalated, and how long approvals waited for a decision."""
    created = [e for e in h.escalations if p.contains(e.created_at)]
    opened = _opened(h, p)
    escalated = {
        e.conversation_id
        for e in h.escalations
        if e.kind == "escalation" and e.created_at < p.until
    }
    n_escalated = sum(1 for c in opened if c.id in escalated)
    turnaround = [
        e.turnaround_minutes
        for e in h.escalations
        if e.kind == "approval"
        and e.state in ("approved", "rejected")
        and p.contains(e.decided_at)
        and e.turnaround_minutes is not None
    ]
    return {
        "total": len(created),
        "by_kind": _counts(e.kind for e in created),
        "by_rule": _counts(e.rule_id or "manual" for e in created),
        "by_target": _counts(e.target or "none" for e in created),
        "rate": {
            "conversations": len(opened),
            "escalated": n_escalated,
            "rate": rate(n_escalated, len(opened)),
        },
        "approval_turnaround": spread(turnaround),
    }


def _counts(items: Iterable[str]) -> dict[str, int]:
    """Counts, most frequent first (ties by name), so a chart reads from the top."""
    c = Counter(items)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def root_cause(m: MessageRow) -> str | None:
    """The message's strongest cause at or above the line (ties: the order of ``CAUSES``)."""
    best = max(CAUSES, key=lambda c: (m.causes.get(c, 0.0), -CAUSES.index(c)))
    return best if m.causes.get(best, 0.0) >= CAUSE_LINE else None


def week_of(t: datetime, zone: tzinfo) -> date:
    """The Monday that starts ``t``'s week in the calendar's zone."""
    d = t.astimezone(zone).date()
    return d - timedelta(days=d.weekday())


def causes(h: History, p: Period, zone: tzinfo) -> dict[str, Any]:
    """Root causes of analysed customer messages in the period: the share of each, and the
    count per calendar week (every week of the period, empty ones too)."""
    found = [
        (m, c) for m in _customer_messages(h, p) if m.analysed and (c := root_cause(m)) is not None
    ]
    total = Counter(c for _, c in found)
    weeks: dict[date, Counter[str]] = {}
    w = week_of(p.since, zone)
    last = week_of(p.until - timedelta(microseconds=1), zone)
    while w <= last:
        weeks[w] = Counter()
        w += timedelta(days=7)
    for m, c in found:
        weeks.setdefault(week_of(m.received_at, zone), Counter())[c] += 1
    return {
        "messages": len(found),
        "by_cause": {c: {"count": total[c], "share": rate(total[c], len(found))} for c in CAUSES},
        "weekly": [
            {"week": w.isoformat(), "total": sum(n.values()), "counts": {c: n[c] for c in CAUSES}}
            for w, n in sorted(weeks.items())
        ],
    }


def archetypes(h: History, p: Period) -> dict[str, Any]:
    """The archetype of each conversation with an analysed customer message in the period, as
    its latest such message gave it (``unknown``: analysed without context)."""
    latest: dict[int, MessageRow] = {}
    for m in _customer_messages(h, p):
        if m.analysed and (
            m.conversation_id not in latest
            or (m.received_at, m.id)
            > (latest[m.conversation_id].received_at, latest[m.conversation_id].id)
        ):
            latest[m.conversation_id] = m
    counts = Counter(m.archetype or "unknown" for m in latest.values())
    names = [*ARCHETYPES, *sorted(set(counts) - set(ARCHETYPES))]
    return {
        "conversations": len(latest),
        "mix": {a: {"count": counts[a], "share": rate(counts[a], len(latest))} for a in names},
    }


def repeat_complainers(h: History, p: Period) -> dict[str, Any]:
    """Customers with at least ``REPEAT_MINIMUM`` complaint messages (the ``complaint`` label)
    in the period, the most first; with how many conversations they complained in."""
    customer_of = {c.id: c.customer_id for c in h.conversations}
    messages: Counter[int] = Counter()
    convs: dict[int, set[int]] = {}
    for m in _customer_messages(h, p):
        if "complaint" in m.labels and m.conversation_id in customer_of:
            cid = customer_of[m.conversation_id]
            messages[cid] += 1
            convs.setdefault(cid, set()).add(m.conversation_id)
    names = {c.id: c for c in h.customers}
    ranked = sorted(
        (cid for cid, n in messages.items() if n >= REPEAT_MINIMUM),
        key=lambda cid: (-messages[cid], -len(convs[cid]), cid),
    )[:REPEAT_TOP]
    return {
        "minimum": REPEAT_MINIMUM,
        "customers": [
            {
                "customer_id": cid,
                "external_id": names[cid].external_id if cid in names else None,
                "name": names[cid].name if cid in names else None,
                "complaints": messages[cid],
                "conversations": len(convs[cid]),
            }
            for cid in ranked
        ],
    }


def abuse_exposure(h: History, p: Period) -> dict[str, Any]:
    """Abusive customer messages received, and per person: abusive messages they answered
    (``agent.exposed`` events) and breaks they took (``agent.break`` events) in the period."""
    exposures = Counter(
        e.user_id for e in h.events if e.kind == "agent.exposed" and p.contains(e.at) and e.user_id
    )
    breaks = Counter(
        e.user_id for e in h.events if e.kind == "agent.break" and p.contains(e.at) and e.user_id
    )
    users = {u.id: u for u in h.users}
    if p.agent is not None:
        shown = {u.id for u in h.users if u.name == p.agent}
    else:
        shown = set(exposures) | (set(breaks) if p.team is None else set())
    people = sorted(
        (users[uid] for uid in shown if uid in users), key=lambda u: (-exposures[u.id], u.name)
    )
    rows = [
        {
            "name": u.name,
            "display_name": u.display_name,
            "exposures": exposures[u.id],
            "breaks": breaks[u.id],
            "last_break_at": u.last_break_at.isoformat() if u.last_break_at else None,
        }
        for u in people
    ]
    abusive = sum(1 for m in _customer_messages(h, p) if "abusive" in m.labels)
    return {"abusive_messages": abusive, "agents": rows}


def sanctions(h: History, p: Period) -> dict[str, Any]:
    """Sanctions given in the period by level (and the state they are in now), and sanctions
    lifted in the period (whenever they were given)."""
    created = [x for x in h.sanctions if p.contains(x.created_at)]
    lifted = [x for x in h.sanctions if p.contains(x.lifted_at)]
    seen = {x.level for x in (*created, *lifted)}
    levels = [*SANCTION_LEVELS, *sorted(seen - set(SANCTION_LEVELS))]
    return {
        "created": len(created),
        "lifted": len(lifted),
        "by_level": {
            lv: {
                "created": sum(1 for x in created if x.level == lv),
                "lifted": sum(1 for x in lifted if x.level == lv),
            }
            for lv in levels
        },
        "by_state": _counts(x.state for x in created),
    }


def _settled(h: History, p: Period, since: dict[int, datetime]) -> set[int]:
    """Conversations (id -> their first quote) resolved after that quote and before ``until``,
    and not reopened after that resolution (before ``until``)."""
    resolved: dict[int, datetime] = {}
    for e in h.events:
        cid = e.conversation_id
        if e.kind == "conversation.resolved" and cid in since and since[cid] <= e.at < p.until:
            resolved[cid] = min(e.at, resolved.get(cid, e.at))
    reopened = {
        e.conversation_id
        for e in h.events
        if e.kind == "conversation.reopened"
        and e.conversation_id in resolved
        and resolved[e.conversation_id] < e.at < p.until
    }
    return set(resolved) - reopened


def _quoted(quotes: Sequence[QuoteRow], settled: set[int]) -> dict[str, Any]:
    convs = {q.conversation_id for q in quotes}
    done = len(convs & settled)
    return {
        "quotes": len(quotes),
        "conversations": len(convs),
        "settled": done,
        "settled_rate": rate(done, len(convs)),
    }


def knowledge_base(h: History, p: Period) -> dict[str, Any]:
    """Which articles agents quoted in the period and whether those conversations were settled
    (resolved after the quote, not reopened), and the customer questions that called for an
    article but found none: the articles to write next."""
    quotes = [q for q in h.kb_quotes if p.contains(q.at)]
    first: dict[int, datetime] = {}
    for q in quotes:
        first[q.conversation_id] = min(q.at, first.get(q.conversation_id, q.at))
    settled = _settled(h, p, first)
    by_article: dict[str, list[QuoteRow]] = {}
    for q in quotes:
        by_article.setdefault(q.article_id, []).append(q)
    articles = [
        {
            "article_id": aid,
            "title": max(qs, key=lambda q: (q.at, q.version)).title,
            **_quoted(qs, settled),
        }
        for aid, qs in by_article.items()
    ]
    articles.sort(key=lambda a: (-a["quotes"], -a["conversations"], a["article_id"]))
    asked = [m for m in h.kb_questions if p.contains(m.received_at)]
    missing = sorted((m for m in asked if not m.found), key=lambda m: m.received_at, reverse=True)
    return {
        **_quoted(quotes, settled),
        "articles_quoted": len(by_article),
        "articles": articles[:KB_TOP],
        "questions": {
            "messages": len(asked),
            "without_article": len(missing),
            "rate": rate(len(missing), len(asked)),
            "by_reason": _counts(r for m in missing for r in m.reasons),
            "recent": [
                {
                    "message_id": m.message_id,
                    "conversation_id": m.conversation_id,
                    "received_at": m.received_at.isoformat(),
                    "reasons": list(m.reasons),
                }
                for m in missing[:KB_TOP]
            ],
        },
    }
