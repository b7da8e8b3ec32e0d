"""Console: practice with simulated difficult customers, assignments, progress, certification.

Plain forms and redirects (post/redirect/get), no script: each trainee reply is a form POST and
the page is drawn again from the replayed session, so the console's Content-Security-Policy
holds. The customer's mood is an inline SVG drawn on the server (``training.mood_svg``), the
supervisors' progress chart too (``insights.charts``). Scenarios come from the package and from
the data directory's ``scenarios/`` folder (``gracedesk train build --from-desk`` writes there).

- ``GET /console/training``: assigned scenarios, the library and sets, one's sessions and
  certifications; for supervisors and admins also the assign form, each person's progress
  (``?agent=ID`` lists that person's sessions) and every certification.
- ``POST /console/training/start``; ``GET /console/training/sessions/{id}``;
  ``POST …/sessions/{id}/reply``; ``POST …/sessions/{id}/finish``
- ``POST /console/training/assign`` (supervisors and admins; the service refuses others: 403)
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from gracedesk.errors import InvalidRequest
from gracedesk.insights import charts
from gracedesk.service import training, training_progress
from gracedesk.service.records import SUPERVISING
from gracedesk.settings import Settings
from gracedesk.training import mood_svg
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page, see_other

router = APIRouter(prefix="/console/training", route_class=ConsoleRoute, include_in_schema=False)

ScenarioId = Annotated[str, Form(min_length=1, max_length=80)]
DIFFICULTY = ("easy", "medium", "hard")  # the library's order: easiest first
PERSONAS = {
    "serial_complainer": "serial complainer",
    "indecisive": "indecisive",
    "demanding": "demanding",
    "aggressive": "aggressive",
    "vague": "vague",
}


def library_of(request: Request) -> training.Library:
    """The packaged scenarios plus the data directory's ``scenarios/`` folder, if any."""
    settings: Settings = request.app.state.settings
    return training.library(training.scenario_dirs(settings.home))


def _due(value: str) -> datetime | None:
    """A date field (``2026-12-24``) as the end of that day, UTC; blank: no due date."""
    value = value.strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidRequest("the due date must be a date like 2026-12-24") from None
    return datetime.combine(day, time(23, 59, 59), UTC)


def _progress_chart(people: list[training_progress.AgentProgress]) -> Markup | None:
    """Each person's mean score per week, one line each (escaped in ``insights.charts``)."""
    weeks = sorted({w for p in people for w in p.weekly})
    if not weeks:
        return None
    chart = charts.Chart(
        id="training-progress",
        title="Practice scores over time",
        caption="Mean score (0-100) of the sessions each person finished, by week (Monday).",
        axis="Week of",
        labels=tuple(weeks),
        series=tuple(
            charts.Series(p.name, tuple(p.weekly.get(w) for w in weeks)) for p in people if p.weekly
        ),
        kind="line",
    )
    return Markup(charts.figure_html(chart))


@router.get("", response_class=HTMLResponse)
def index(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    agent: Annotated[int | None, Query(ge=1, le=sess.ID_MAX)] = None,
) -> HTMLResponse:
    lib = library_of(request)
    store = desk.store
    supervising = user.role in SUPERVISING
    passed = {
        s["scenario_id"]
        for s in training_progress.sessions(store, lib, user=user, agent_id=user.id, limit=1000)
        if s["passed"]
    }
    ctx: dict[str, Any] = {
        "scenarios": sorted(
            lib.scenarios.values(), key=lambda x: (DIFFICULTY.index(x.difficulty), x.title)
        ),
        "sets": list(lib.sets.values()),
        "personas": PERSONAS,
        "local": lib.local,
        "passed": passed,
        "mine": training.assignments(store, lib, user=user, agent_id=user.id),
        "my_sessions": training_progress.sessions(store, lib, user=user, agent_id=user.id),
        "my_certs": training_progress.certifications(store, lib, user=user, agent_id=user.id),
        "supervising": supervising,
    }
    if supervising:
        people = training_progress.progress(store, lib, by=user)
        ctx.update(
            trainees=training.trainees(store, by=user),
            progress=people,
            chart=_progress_chart(people),
            all_assignments=training.assignments(store, lib, user=user),
            all_certs=training_progress.certifications(store, lib, user=user),
            agent=agent,
            agent_sessions=(
                training_progress.sessions(store, lib, user=user, agent_id=agent) if agent else None
            ),
        )
    return page(request, "training.html", ctx, user=user)


@router.post("/start")
def start(
    request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now, scenario_id: ScenarioId
) -> RedirectResponse:
    sid = training.start(desk.store, library_of(request), scenario_id, user=user, now=at)
    return see_other(f"/console/training/sessions/{sid}")


@router.get("/sessions/{sid}", response_class=HTMLResponse)
def session_page(
    sid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep
) -> HTMLResponse:
    p = training.practice(desk.store, library_of(request), sid, user=user)
    sim = p.simulation
    states = [sim.start_state.to_dict(), *sim.states]
    ctx = {
        "p": p,
        "sc": p.scenario,
        "persona": PERSONAS.get(p.scenario.persona, p.scenario.persona),
        "transcript": sim.transcript,
        "findings": [t.findings() for t in sim.turns],
        "state": states[-1],
        "mood": Markup(mood_svg(states, width=320, height=80)),  # escaped in training.chart
        "turn": len(sim.turns),
        "max_turns": sim.max_turns,
        "own": p.user_id == user.id,
        "result": p.result,
        "reply_max": training.TEXT_MAX,
    }
    return page(request, "training_session.html", ctx, user=user)


@router.post("/sessions/{sid}/reply")
def reply(
    sid: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    text: Annotated[str, Form(min_length=1, max_length=training.TEXT_MAX)],
    turn: Annotated[int | None, Form(ge=0, le=1000)] = None,
) -> RedirectResponse:
    p = training.reply(desk.store, library_of(request), sid, text, user=user, now=at, turn=turn)
    if p.done and p.result is not None:
        verdict = "passed" if p.result.passed else "not passed yet"
        sess.flash(request, "info", f"The session has ended: {p.result.score:.0f}/100, {verdict}.")
    return see_other(f"/console/training/sessions/{sid}")


@router.post("/sessions/{sid}/finish")
def finish(
    sid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> RedirectResponse:
    training.finish(desk.store, library_of(request), sid, user=user, now=at)
    return see_other(f"/console/training/sessions/{sid}")


@router.post("/assign")
def assign(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    agent_id: Annotated[int, Form(ge=1, le=sess.ID_MAX)],
    what: Annotated[str, Form(min_length=1, max_length=100)],
    due: Annotated[str, Form(max_length=40)] = "",
) -> RedirectResponse:
    """``what`` is ``scenario:ID`` or ``set:NAME`` (the form's one select)."""
    kind, _, name = what.partition(":")
    if kind not in ("scenario", "set") or not name:
        raise InvalidRequest("choose a scenario or a set to assign")
    done = training.assign(
        desk.store,
        library_of(request),
        by=user,
        agent_id=agent_id,
        now=at,
        scenario_id=name if kind == "scenario" else None,
        set_name=name if kind == "set" else None,
        due_at=_due(due),
    )
    sess.flash(request, "success", f"Assigned {done['what']} to {done['agent']}.")
    return see_other("/console/training")
