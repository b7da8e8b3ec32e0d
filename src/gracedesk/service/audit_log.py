"""The audit trail for supervisors: filtered, newest first, a page at a time or all for export.

``AuditFilter`` is the one value the console (and any other edge) builds from what was asked:
conversation, customer, actor (``sam`` means ``user:sam``; ``system`` and ``customer`` as they
are), kind as a prefix (``sanction.`` finds ``sanction.active`` and ``sanction.lifted``; LIKE
wildcards typed are literal) and a time range ``[since, until)``. :func:`page` lists a page;
:func:`export` checks the role at once and hands back the rows in batches (keyset pagination, so
a large export never holds one transaction open nor re-reads what it skipped). Each export is
itself audited (``audit.exported``: who and with which filters) and stops at the events that
existed when it began. :func:`page_for` masks the words of the customers' abuse for a user who
masks them (``protect``); the export is the record as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidRequest
from gracedesk.model.staff import Staff
from gracedesk.service import protect
from gracedesk.service.customers import abuse_terms
from gracedesk.service.desk import audit
from gracedesk.service.records import SUPERVISING, require
from gracedesk.store.protocol import AuditMatch, store

if TYPE_CHECKING:
    from sqlalchemy import Row

    from gracedesk.service.desk import Desk

PAGE_MAX = 200
EXPORT_BATCH = 1000
TEXT_MAX = 120  # audit_events.actor is 120 characters, kind 60


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit events to show; every field left None matches everything."""

    conversation_id: int | None = None
    customer_id: int | None = None
    actor: str | None = None
    kind: str | None = None  # a prefix of the event kind
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        for name in ("actor", "kind"):
            value = getattr(self, name)
            if value is not None and (len(value) > TEXT_MAX or not value.strip()):
                raise InvalidRequest(f"{name} must be 1..{TEXT_MAX} characters")
        for name in ("since", "until"):
            t = getattr(self, name)
            if t is not None and t.tzinfo is None:
                raise InvalidRequest(f"{name} must carry a time zone")
        if self.since and self.until and self.since >= self.until:
            raise InvalidRequest("the time range is empty: 'from' must come before 'to'")

    @classmethod
    def of(
        cls,
        *,
        conversation_id: int | None = None,
        customer_id: int | None = None,
        actor: str | None = None,
        kind: str | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> AuditFilter:
        """From a form: blank text is no filter; dates are whole UTC days, both included."""
        return cls(
            conversation_id=conversation_id,
            customer_id=customer_id,
            actor=(actor or "").strip() or None,
            kind=(kind or "").strip() or None,
            since=datetime.combine(from_date, time(0), UTC) if from_date else None,
            until=datetime.combine(to_date + timedelta(days=1), time(0), UTC) if to_date else None,
        )

    def match(self) -> AuditMatch:
        """The store's read of these filters."""
        return AuditMatch(
            conversation_id=self.conversation_id,
            customer_id=self.customer_id,
            actor=self.actor,
            kind=self.kind,
            since=self.since,
            until=self.until,
        )

    def to_dict(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready (times as ISO strings)."""
        return {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in asdict(self).items()
            if v is not None
        }


def event_dict(e: Row[Any]) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "kind": e.kind,
        "conversation_id": e.conversation_id,
        "customer_id": e.customer_id,
        "reason": e.reason,
        "detail": e.detail,
    }


def page(
    desk: Desk, flt: AuditFilter, *, user: Staff, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """One page of matching events, newest first, with the total (supervisors, admins)."""
    require(user, *SUPERVISING)
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise InvalidRequest(f"limit must be 1..{PAGE_MAX} and offset >= 0")
    match = flt.match()
    with desk.store.read_core() as conn:
        total = store.audit.count(conn, match)
        rows = store.audit.page(conn, match, limit=limit, offset=offset)
        items = [event_dict(e) for e in rows]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def page_for(
    desk: Desk, flt: AuditFilter, *, user: Staff, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """:func:`page` as ``user`` may see it: while they mask abuse, the words the customers'
    abuse used (in the conversations and customers on the page) are masked in reasons and
    details. The CSV export keeps the record as it is."""
    found = page(desk, flt, user=user, limit=limit, offset=offset)
    items = found["items"]
    if not items or not protect.masking_for(desk, user):
        return found
    with desk.store.read() as s:
        terms = abuse_terms(
            s,
            customer_ids=[e["customer_id"] for e in items if e["customer_id"]],
            conversation_ids=[e["conversation_id"] for e in items if e["conversation_id"]],
        )
    shown = [
        {
            **e,
            "reason": protect.scrub_tree(e["reason"], terms),
            "detail": protect.scrub_tree(e["detail"], terms),
        }
        for e in items
    ]
    return {**found, "items": shown}


def export(
    desk: Desk, flt: AuditFilter, *, user: Staff, now: datetime, batch: int = EXPORT_BATCH
) -> Iterator[list[dict[str, Any]]]:
    """Every matching event, newest first, in batches (supervisors, admins).

    The role is checked and the export audited here, before the first batch is asked for, so
    a refusal is an error the caller sees before it starts sending anything.
    """
    require(user, *SUPERVISING)
    with desk.store.write() as s:
        upto = store.audit.last_id(s.connection())
        audit(s, "audit.exported", now=now, actor=user, filters=flt.to_dict())
    return _batches(desk, flt, upto=upto, batch=batch)


def _batches(
    desk: Desk, flt: AuditFilter, *, upto: int, batch: int
) -> Iterator[list[dict[str, Any]]]:
    match = flt.match()
    after: tuple[datetime, int] | None = None
    while True:
        with desk.store.read_core() as conn:
            rows = store.audit.batch(conn, match, upto=upto, after=after, limit=batch)
            items = [event_dict(e) for e in rows]
            after = (rows[-1].at, rows[-1].id) if rows else None
        if items:
            yield items
        if len(items) < batch:
            return
