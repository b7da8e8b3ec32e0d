"""The customer's satisfaction survey, linked from the resolution e-mail: ``/csat/{token}``.

Public: no sign-in and no session. The token in the address is the credential (it is random and
single-use), so a forged POST would have to know it: no CSRF token is needed, and the page leaves
an agent's session cookie alone if one is open in the same browser. A browser signed in to the
console is staff, not the customer: the survey is refused there (403), and the attempt audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from gracedesk.errors import PermissionDenied
from gracedesk.service import actions, views
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import PublicRoute, page

router = APIRouter(prefix="/csat", route_class=PublicRoute, include_in_schema=False)

Token = Annotated[str, Path(min_length=8, max_length=100)]


@router.get("/{token}", response_class=HTMLResponse)
def survey(request: Request, desk: sess.DeskDep, token: Token) -> HTMLResponse:
    views.csat_survey(desk, token)  # an unknown or answered survey gets its error page
    if sess.session_user(request) is not None:
        raise PermissionDenied(actions.STAFF_SURVEY)
    return page(request, "csat.html", {"token": token}, user=None, public=True)


@router.post("/{token}", response_class=HTMLResponse)
def answer(
    request: Request,
    desk: sess.DeskDep,
    at: sess.Now,
    token: Token,
    score: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str | None, Form(max_length=2000)] = None,
) -> HTMLResponse:
    staff = sess.session_user(request)
    done = actions.submit_csat(desk, token, score, comment, now=at, staff=staff)
    return page(request, "csat_thanks.html", {"score": done["score"]}, user=None, public=True)
