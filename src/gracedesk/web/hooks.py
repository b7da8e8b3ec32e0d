"""``POST /hooks/{name}``: helpdesk webhooks (docs/connectors.md).

Outside ``/api/v1`` on purpose: a helpdesk has no bearer token and no session, so neither the
API's token check (and its throttle, which only watches ``/api/``) nor the console's CSRF check
(only ``ConsoleRoute``s) applies. What authenticates a request is the helpdesk's own signature
over the raw body, verified by the connector before anything is parsed or stored.

Answers: 200 with the stored message (``message_id``, ``conversation_id``, ``analysis``) or
with ``{"ignored": "<why>"}`` (nothing stored); 401 for a bad, missing or stale signature;
404 for an unknown connector; 422 for a body that is not that helpdesk's shape; all as problem
documents (``application/problem+json``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gracedesk.channels.connectors.inbound import receive
from gracedesk.errors import BadSignature
from gracedesk.service.desk import Desk
from gracedesk.web import problems
from gracedesk.web.schemas import HookIgnored, HookReceived

router = APIRouter(include_in_schema=False)


# Outside /openapi.json (tests/channels/test_connectors.py): a helpdesk's endpoint, not the API.
# The models still say what it answers; the handler returns a JSONResponse, sent as it is.
@router.post("/hooks/{name}", response_model=HookReceived | HookIgnored)
async def hook(name: str, request: Request) -> JSONResponse:
    """One webhook delivery from the helpdesk behind connector ``name``."""
    desk: Desk = request.app.state.desk
    body = await request.body()  # the raw bytes: the signature covers exactly these
    headers = {k.lower(): v for k, v in request.headers.items()}
    work = partial(
        receive,
        desk,
        name,
        headers,
        body,
        now=datetime.now(UTC),  # the clock is read here, at the edge
        max_chars=request.app.state.settings.max_text_chars,
    )
    limiter = request.app.state.message_limiter
    try:
        if limiter is None:
            got = work()
        else:
            got = await anyio.to_thread.run_sync(work, limiter=limiter)
    except BadSignature as exc:
        return refused(exc)
    return JSONResponse(got.to_dict())


def refused(exc: BadSignature) -> JSONResponse:
    """401 without ``WWW-Authenticate: Bearer``: a bearer token would not help a helpdesk."""
    response = problems.problem(401, "Bad signature", exc.message, code=exc.code)
    del response.headers["www-authenticate"]
    return response
