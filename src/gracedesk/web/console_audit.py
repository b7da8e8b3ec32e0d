"""Console: the audit log for supervisors and admins, filtered, with a CSV export.

``/console/audit`` lists events newest first; ``/console/audit.csv`` downloads every event the
same filters select. The filter form is a plain GET form, so an empty field arrives as an empty
string: :func:`audit_filter` reads the raw query once and builds the service's ``AuditFilter``
(an unusable value is a 422 page). CSV cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from gracedesk.errors import InvalidRequest
from gracedesk.service import audit_log
from gracedesk.service.audit_log import AuditFilter
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
ID_MAX = 2**31 - 1
COLUMNS = ("at", "actor", "kind", "conversation_id", "customer_id", "reason", "detail")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FIELDS = ("conversation_id", "customer_id", "actor", "kind", "from", "to")

Text = Annotated[str, Query(max_length=200)]


def _id(value: str, name: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= ID_MAX:
        raise InvalidRequest(f"{name} must be a whole number from 1 (got {text!r})")
    return int(text)


def _date(value: str, name: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date (YYYY-MM-DD), not {text!r}") from None


def audit_filter(
    conversation_id: Text = "",
    customer_id: Text = "",
    actor: Text = "",
    kind: Text = "",
    from_: Annotated[str, Query(alias="from", max_length=40)] = "",
    to: Annotated[str, Query(max_length=40)] = "",
) -> AuditFilter:
    """The filters of the form, parsed once (blank fields filter nothing)."""
    return AuditFilter.of(
        conversation_id=_id(conversation_id, "conversation"),
        customer_id=_id(customer_id, "customer"),
        actor=actor,
        kind=kind,
        from_date=_date(from_, "from"),
        to_date=_date(to, "to"),
    )


Filter = Annotated[AuditFilter, Depends(audit_filter)]


def form_values(request: Request) -> dict[str, str]:
    """The filters as typed (to refill the form and carry into links), blank ones left out."""
    return {k: v for k in FIELDS if (v := request.query_params.get(k, "").strip())}


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    flt: Filter,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    found = audit_log.page_for(desk, flt, user=user, limit=PAGE_SIZE, offset=offset)
    for e in found["items"]:
        e["detail_json"] = detail_json(e["detail"])
    values = form_values(request)
    ctx = {"page": found, "values": values, "query": urlencode(values)}
    return page(request, "audit.html", ctx, user=user)


@router.get("/audit.csv")
def audit_csv(
    desk: sess.DeskDep, user: sess.UserDep, at: sess.Now, flt: Filter
) -> StreamingResponse:
    """Every event the filters select, as CSV (the role is checked before anything is sent)."""
    batches = audit_log.export(desk, flt, user=user, now=at)
    name = f"gracedesk-audit-{at:%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        csv_chunks(batches),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def detail_json(detail: Any) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a would-be formula gets a leading ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(event: dict[str, Any]) -> list[str]:
    values = {**event, "detail": detail_json(event.get("detail"))}
    return [csv_cell(values.get(c)) for c in COLUMNS]


def csv_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """The header, then one chunk of CSV per batch of events."""
    yield _csv([list(COLUMNS)])
    for batch in batches:
        yield _csv([csv_row(e) for e in batch])


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()
