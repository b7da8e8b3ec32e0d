"""The per-reply records of "what calms customers", read from the store, and the phrase stats
guidance ranks by.

:func:`reply_outcomes` reads every agent reply of a period with the customer message it answered
(stored signals and guidance, never re-analysed), the customer's next analysed message, and the
conversation's escalations, resolutions, reopenings and CSAT answers; the comparison itself is
pure (:mod:`gracedesk.insights.outcomes`). :class:`PhraseStatsCache` turns the same records into
``PhraseStats`` for guidance's measured ranking, rebuilt at most once per ``ttl`` because the
counts move slowly and a query per customer message would not be worth it.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gracedesk.guidance.phrases import PhraseStats
from gracedesk.insights.outcomes import ReplyOutcome, calm_counts, phrase_used, top_cause
from gracedesk.store import reports as reports_store

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gracedesk.store import Store


@dataclass(frozen=True, slots=True)
class _Said:
    """A customer message with its stored analysis."""

    id: int
    signals: dict[str, Any]
    guidance: dict[str, Any] | None


@dataclass(slots=True)
class _After:
    """What happened in one conversation, as times (sorted), for "after the reply" tests."""

    escalated: list[datetime]
    resolved: list[datetime]
    reopened: list[datetime]
    csat: list[tuple[datetime, int]]  # (sent_at, score) of answered surveys


def _replies(conn: Connection, since: datetime | None, until: datetime | None) -> list[Any]:
    return list(reports_store.agent_replies(conn, since, until))


def _customer_messages(conn: Connection, convs: Sequence[int]) -> dict[int, list[_Said]]:
    out: dict[int, list[_Said]] = defaultdict(list)
    for r in reports_store.analysed_customer_messages(conn, convs):
        if isinstance(r.signals, dict):  # JSON null is not a stored analysis
            out[r.conversation_id].append(_Said(r.id, r.signals, r.guidance))
    return out


def _afterwards(conn: Connection, convs: Sequence[int]) -> dict[int, _After]:
    out: dict[int, _After] = defaultdict(lambda: _After([], [], [], []))
    found = reports_store.afterwards(conn, convs)
    for cid, at in found.escalations:
        out[cid].escalated.append(at)
    for conv, kind, at in found.events:
        if conv is not None:
            a = out[conv]
            (a.resolved if kind == "conversation.resolved" else a.reopened).append(at)
    for c, sent, score in found.surveys:
        out[c].csat.append((sent, int(score or 0)))
    for a in out.values():
        a.escalated.sort()
        a.resolved.sort()
        a.reopened.sort()
        a.csat.sort()
    return out


def _later(times: list[datetime], at: datetime) -> bool:
    """Whether anything in the sorted ``times`` is strictly after ``at``."""
    return bisect_right(times, at) < len(times)


def _num(d: dict[str, Any], *path: str) -> float:
    v: Any = d
    for p in path:
        v = v.get(p) if isinstance(v, dict) else None
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _outcome(reply: Any, said: list[_Said], after: _After) -> ReplyOutcome | None:
    """One reply's record; None when no analysed customer message comes before it."""
    ids = [m.id for m in said]
    i = bisect_right(ids, reply.id)
    if i == 0:
        return None
    start, nxt = said[i - 1], (said[i] if i < len(said) else None)
    g = start.guidance or {}
    nxt_step = g.get("next_step")
    step: dict[str, Any] = nxt_step if isinstance(nxt_step, dict) else {}
    phrases = [p for p in g.get("phrases") or [] if isinstance(p, dict) and p.get("id")]
    critique = reply.critique if isinstance(reply.critique, dict) else {}
    kinds = [f.get("kind") for f in critique.get("findings") or [] if isinstance(f, dict)]
    sig, at = start.signals, reply.received_at
    raw_ctx = sig.get("context")
    ctx: dict[str, Any] = raw_ctx if isinstance(raw_ctx, dict) else {}
    score = critique.get("score")
    csat = next((sc for sent, sc in after.csat if sent > at), None)
    return ReplyOutcome(
        conversation_id=reply.conversation_id,
        reply_id=reply.id,
        answered_id=start.id,
        replied_at=at,
        start_risk=_num(sig, "risk"),
        start_anger=_num(sig, "emotions", "anger"),
        start_sentiment=_num(sig, "sentiment"),
        archetype=str(ctx.get("archetype") or "none"),
        cause=top_cause(sig.get("causes")),
        stage=g.get("stage"),
        step=step.get("step"),
        suggested=tuple(str(p["id"]) for p in phrases),
        used=tuple(
            str(p["id"])
            for p in phrases
            if phrase_used(str(p["id"]), str(p.get("text") or ""), reply.text)
        ),
        findings=tuple(sorted({str(k) for k in kinds if k})),
        coach_score=score if isinstance(score, int) and not isinstance(score, bool) else None,
        next_id=nxt.id if nxt else None,
        next_risk=_num(nxt.signals, "risk") if nxt else None,
        next_anger=_num(nxt.signals, "emotions", "anger") if nxt else None,
        next_sentiment=_num(nxt.signals, "sentiment") if nxt else None,
        escalated=_later(after.escalated, at),
        resolved=_later(after.resolved, at),
        reopened=_later(after.reopened, at),
        csat=csat,
    )


def reply_outcomes(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> list[ReplyOutcome]:
    """Every agent reply sent in ``[since, until)`` with where it started and what followed
    (oldest first). Replies with no analysed customer message before them are left out."""
    with store.read_core() as conn:
        replies = _replies(conn, since, until)
        convs = sorted({r.conversation_id for r in replies})
        said = _customer_messages(conn, convs)
        after = _afterwards(conn, convs)
    out = (_outcome(r, said.get(r.conversation_id, []), after[r.conversation_id]) for r in replies)
    return [o for o in out if o is not None]


def phrase_stats(rows: Iterable[ReplyOutcome], *, seed: int = 0) -> PhraseStats:
    """Guidance's ``PhraseStats`` from reply records: calmed / measured per phrase id."""
    return PhraseStats(calm_counts(rows), seed=seed)


class PhraseStatsCache:
    """Phrase stats over the last ``window`` of replies, rebuilt at most once per ``ttl``.

    ``get(now=..., seed=...)`` gives the cached counts with the caller's seed: the desk passes
    the message id, so every message gets its own reproducible Thompson draw.
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl: timedelta = timedelta(hours=1),
        window: timedelta = timedelta(days=180),
    ) -> None:
        self.store, self.ttl, self.window = store, ttl, window
        self._lock = threading.Lock()
        self._built: tuple[datetime, PhraseStats] | None = None

    def get(self, *, now: datetime, seed: int = 0) -> PhraseStats:
        with self._lock:
            if self._built is None or now - self._built[0] >= self.ttl or now < self._built[0]:
                rows = reply_outcomes(self.store, now - self.window, now)
                self._built = (now, phrase_stats(rows))
            return replace(self._built[1], seed=seed)
