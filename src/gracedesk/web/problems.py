"""Errors as RFC 9457 problem details: the one place where the error tree meets HTTP."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gracedesk import errors

log = logging.getLogger("gracedesk.web")

STATUS: tuple[tuple[type[errors.GracedeskError], int], ...] = (
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidInput, 422),
    (errors.ModelError, 503),
    (errors.PolicyError, 503),
)
TYPE_BASE = "https://gracedesk.dev/problems/"


def status_of(exc: errors.GracedeskError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def problem(
    status: int, title: str, detail: str, *, code: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (code or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.GracedeskError)
    async def _desk(request: Request, exc: errors.GracedeskError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("request %s failed: %s", request.url.path, exc)
        return problem(status, type(exc).__name__, exc.message, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems[:5])
        return problem(422, "Invalid request", where, code="GD111", errors=problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, "HTTP error", str(exc.detail))
