"""Console: the report for supervisors and admins, with its charts drawn on the server.

``/console/reports`` shows the figures of ``service.reports`` for a period (a plain GET form:
dates, a team, a person) as headline numbers and inline SVG charts, each with its data table
(``insights.charts``): no script, nothing from another origin, so the console's
Content-Security-Policy holds. ``/console/reports/download`` gives the same report as JSON, CSV
or a standalone HTML page. Agents get the 403 page (the service refuses them).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from gracedesk.errors import InvalidRequest
from gracedesk.insights import charts, export
from gracedesk.service import reports
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Day = Annotated[str, Query(max_length=40)]
Name = Annotated[str, Query(max_length=80)]
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def _form(since: str, until: str, team: str, agent: str) -> dict[str, str]:
    return {"since": since.strip(), "until": until.strip(), "team": team.strip(), "agent": agent}


def _shown(report: dict[str, Any]) -> dict[str, str]:
    """The period as the date fields show it (``until`` is the last day included)."""
    p = report["period"]
    since, until = (reports.parse_time(p[k], k) for k in ("since", "until"))
    return {
        "since": since.date().isoformat(),
        "until": (until - timedelta(microseconds=1)).date().isoformat(),
    }


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    since: Day = "",
    until: Day = "",
    team: Name = "",
    agent: Name = "",
) -> HTMLResponse:
    form = _form(since, until, team, agent)
    ctx: dict[str, Any] = {"form": form, "report": None, "error": None}
    ctx.update(reports.choices(desk, user=user))  # refuses agents first (403 page)
    try:
        report = reports.summary_for(
            desk, user=user, since=since, until=until, team=team, agent=agent, now=at
        )
    except InvalidRequest as exc:
        return page(request, "reports.html", {**ctx, "error": exc.message}, user=user, status=422)
    form.update(_shown(report))
    query = urlencode({k: v for k, v in form.items() if v})
    ctx.update(
        report=report,
        query=query,
        headline=export.headline(report),
        figures=[Markup(charts.figure_html(c)) for c in charts.charts(report)],  # escaped there
        predicted=export.predicted_text(report["predicted_csat"]),
    )
    return page(request, "reports.html", ctx, user=user)


@router.get("/reports/download")
def download(
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    format: Literal["json", "csv", "html"] = "json",
    since: Day = "",
    until: Day = "",
    team: Name = "",
    agent: Name = "",
) -> Response:
    report = reports.summary_for(
        desk, user=user, since=since, until=until, team=team, agent=agent, now=at
    )
    body = {"json": export.to_json, "csv": export.to_csv, "html": export.to_html}[format](report)
    name = f"gracedesk-report-{report['period']['since'][:10]}.{format}"
    return Response(
        body,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
