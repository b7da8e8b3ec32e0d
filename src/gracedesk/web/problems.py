"""Errors as RFC 9457 problem details: the one place where the error tree meets HTTP."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, NotRequired

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from sqlalchemy import exc
from starlette.exceptions import HTTPException
from typing_extensions import TypedDict  # pydantic reads typing's only from 3.12

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
PROBLEM_JSON = "application/problem+json"

# what each error status means, as the OpenAPI document says it
WHEN: dict[int, str] = {
    401: "No token or a wrong token (GD704), with `WWW-Authenticate: Bearer`.",
    403: "The role may not do this (GD702).",
    404: "No such object (GD701).",
    409: "Not in a state that allows it (GD703).",
    413: "The body is over the size limit (GD112).",
    422: "The request does not match the schema (GD111; `errors` lists each field) or has "
    "a value the desk cannot use (GD110).",
    429: "Too many attempts: wait for `Retry-After` seconds.",
    503: "The store, the models or the policy are not available: retry later.",
}


class FieldError(TypedDict):
    """One field a request got wrong: where it is (``["body", "customer", "name"]``) and why."""

    loc: list[str]
    msg: str


class Problem(TypedDict):
    """An RFC 9457 problem document: the body of every error answer."""

    type: str
    title: str
    status: int
    detail: str
    code: NotRequired[str]
    errors: NotRequired[list[FieldError]]


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
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: each of these statuses answers a problem document."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {"description": WHEN[status], "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in statuses
    }


@cache
def schemas() -> dict[str, Any]:
    """The OpenAPI components that :func:`responses` refers to."""
    ref = "#/components/schemas/{model}"
    schema = TypeAdapter(Problem).json_schema(ref_template=ref)
    return {**schema.pop("$defs", {}), "Problem": schema}


def document(app: FastAPI) -> None:
    """Add the problem schemas to the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        doc = build()
        found = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in schemas().items():
            found.setdefault(name, schema)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    document(app)

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
        if isinstance(exc.__cause__, UNREADABLE):
            return unreadable(exc.__cause__)
        return problem(exc.status_code, "HTTP error", str(exc.detail))


# What FastAPI answers with a bare 400 "error parsing the body" when ``json.loads`` fails with
# something else than a JSONDecodeError: a body that is not UTF-8, or nested too deep.
UNREADABLE = (UnicodeDecodeError, RecursionError)


def unreadable(cause: BaseException) -> JSONResponse:
    """A JSON body that cannot be read is bad input like malformed JSON: 422, not 400."""
    why = "not UTF-8" if isinstance(cause, UnicodeDecodeError) else "nested too deep"
    return problem(
        422,
        "Invalid request",
        f"body: the JSON body cannot be read ({why})",
        code="GD111",
        errors=[{"loc": ["body"], "msg": f"the JSON body cannot be read ({why})"}],
    )


# -- the store is unavailable: 503 with Retry-After (issue 11, item 9) --------------------------
# Installed by ``create_app`` (web/app.py) next to ``install``. Any of these from SQLAlchemy means
# the database cannot be used right now (down, refusing connections, connections cut, locked
# beyond the busy timeout, its file unreadable); what was committed before is kept.

RETRY_AFTER_S = 5
UNAVAILABLE_DETAIL = "the database cannot be reached right now; nothing already stored is lost"
UNAVAILABLE_PAGE = (
    "The desk cannot reach its database right now. Nothing already saved is lost: "
    f"please try again in a few seconds ({RETRY_AFTER_S} s)."
)


def unavailable_errors() -> tuple[type[Exception], ...]:
    return (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


def is_console(request: Request) -> bool:
    """Whether ``request`` is for a console page (HTML errors), not the API (problems)."""
    # cycle: console_render imports problems
    from gracedesk.web.console_render import ConsoleRoute

    route = request.scope.get("route")
    return isinstance(route, ConsoleRoute) or request.url.path.startswith("/console")


def unavailable(request: Request, exc: Exception) -> Response:
    """503 with ``Retry-After``: a problem document on the API, a friendly page on the console."""
    orig = getattr(exc, "orig", None) or exc
    why = str(orig).strip().splitlines()[0][:200] if str(orig).strip() else ""
    log.warning("database unavailable on %s: %s: %s", request.method, type(orig).__name__, why)
    response: Response
    if is_console(request):
        # cycle: console_render imports problems
        from gracedesk.web.console_render import error_response

        response = error_response(request, 503, UNAVAILABLE_PAGE, public=True)
    else:
        response = problem(
            503, "Service unavailable", UNAVAILABLE_DETAIL, code=errors.StoreUnavailable.code
        )
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def install_unavailable(app: FastAPI) -> None:
    async def _unavailable(request: Request, exc: Exception) -> Response:
        return unavailable(request, exc)

    for cls in unavailable_errors():
        app.add_exception_handler(cls, _unavailable)
