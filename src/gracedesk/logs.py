"""Logging for the desk: text or JSON lines, a request id on every line, no customer data.

``configure(fmt, level)`` is called by ``gracedesk serve`` (in every server process) and
``gracedesk worker``; nothing is configured at import. It puts one handler on the root logger
(uvicorn's loggers propagate to it) with:

- a formatter: ``text`` (``time level logger [request id] message``) or ``json`` (one object a
  line: ``time``, ``level``, ``logger``, ``message``, ``request_id``, ``route``, and on the access
  line ``method``, ``status``, ``duration_ms``; ``exception`` when there is a traceback);
- :class:`Redact`, a filter that masks what must never be written: e-mail addresses,
  card-number-like and phone-like digit runs, bearer and other long random tokens, query
  strings, and the ``DETAIL`` line of database errors (it quotes column values). It also drops
  SQLAlchemy's ``Row ...`` debug lines (they are the rows read: message text, contact data).

Message text cannot be recognised by a pattern, so it is kept out by construction: the engines
are built with ``hide_parameters=True`` (``store/engine.py``), request and response bodies and
query strings are never logged, the access line names the route template
(``/api/v1/csat/{token}``), never the path, and the desk logs ids, never text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")

#: the request being handled (set by the web app's middleware for the length of a request)
REQUEST_ID: ContextVar[str | None] = ContextVar("gracedesk_request_id", default=None)
#: the ASGI scope of that request: the route is read from it once routing has matched
SCOPE: ContextVar[MutableMapping[str, Any] | None] = ContextVar("gracedesk_scope", default=None)

ACCESS = logging.getLogger("gracedesk.access")

# -- what is masked ---------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SECRET = re.compile(
    r"(?i)\b(bearer\s+|(?:token|password|secret|cookie|session|csrf)\w*[\"']?\s*[:=]\s*[\"']?)"
    r"([^\s,;'\"]+)"
)
# a digit run of 7 or more digits, with spaces, dashes, dots or brackets between (card numbers,
# phone numbers, IBAN-like ids); dates, times, IP addresses and decimals are kept
_NUMBER = re.compile(r"(?<![\w.])\+?\(?\d[\d \-().]{5,40}\d(?!\w)")
_KEEP_NUMBER = re.compile(
    r"\d{4}-\d{2}-\d{2}(?: \d{2})?|\d{1,3}(?:\.\d{1,3}){3}|\d+\.\d+|\(\d+(?:, \d+)*\)"
)
_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{20,}(?![\w-])")
_QUERY = re.compile(r"(/[^\s?#\"']*)\?[^\s\"']*")
_DETAIL = re.compile(r"(?m)^(\s*DETAIL:\s*).+$")


def _number(m: re.Match[str]) -> str:
    s = m.group()
    digits = sum(c.isdigit() for c in s)
    plain = s.isdigit()  # an unbroken run: ids up to 8 digits are kept, longer ones masked
    if digits < (9 if plain else 7) or _KEEP_NUMBER.fullmatch(s.strip()):
        return s
    return "<number>"


def _token(m: re.Match[str]) -> str:
    s = m.group()
    has_upper = any(c.isupper() for c in s)
    has_lower = any(c.islower() for c in s)
    mixed = any(c.isdigit() or c in "-_" for c in s) or len(s) >= 32
    return "<token>" if has_upper and has_lower and mixed else s


def redact(text: str) -> str:
    """``text`` with e-mail addresses, numbers, tokens, query strings and DETAILs masked."""
    text = _DETAIL.sub(r"\1<hidden>", text)
    text = _QUERY.sub(r"\1?<query>", text)
    text = _EMAIL.sub("<email>", text)
    text = _SECRET.sub(r"\1<hidden>", text)
    text = _NUMBER.sub(_number, text)
    return _TOKEN.sub(_token, text)


def route_of(scope: MutableMapping[str, Any] | None) -> str | None:
    """The matched route's template (``/api/v1/conversations/{conv_id}``), or None."""
    if scope is None:
        return None
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path:
        return str(path)
    # a mounted app (the static files): its prefix
    root, app_root = str(scope.get("root_path", "")), str(scope.get("app_root_path", ""))
    prefix = root[len(app_root) :] if root.startswith(app_root) else ""
    return f"{prefix}/{{path}}" if prefix else None


class Redact(logging.Filter):
    """Masks personal data in every record that reaches the handler; adds the request context.

    The message is formatted here (``msg % args``) and replaced by its masked form, and a
    traceback is formatted and masked too, so every formatter (and every later handler) sees the
    masked record only.
    """

    _exc = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("sqlalchemy") and str(record.msg).startswith("Row "):
            return False
        if not getattr(record, "_gracedesk_redacted", False):
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: keep the template only
                message = str(record.msg)
            record.msg, record.args = redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = self._exc.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
            record._gracedesk_redacted = True
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if getattr(record, "route", None) is None:
            record.route = route_of(SCOPE.get())
        return True


class NoRows(logging.Filter):
    """Drops SQLAlchemy's ``Row (...)`` debug lines at the logger itself (whatever handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Row ")


def protect_sqlalchemy() -> None:
    """Install :class:`NoRows` on the engine logger (once); called when engines are built."""
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(f, NoRows) for f in logger.filters):
        logger.addFilter(NoRows())


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    FIELDS = ("request_id", "route", "method", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def configure(
    fmt: str = "text", level: str | int = "warning", *, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records through one masked handler, as ``fmt`` lines, to ``stream``
    (standard error). Calling it again replaces the handler it installed before.

    SQLAlchemy's statement echo stays off unless ``level`` is ``debug`` (at ``info`` it would
    log every statement).
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"log level must be one of {LEVELS}, not {level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_gracedesk", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._gracedesk = True  # type: ignore[attr-defined]
    handler.addFilter(Redact())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        # uvicorn's access log (paths, query strings) stays off where uvicorn turned it off
        logger.propagate = logger.propagate or name != "uvicorn.access"
    sql = numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    logging.getLogger("sqlalchemy").setLevel(sql)
    protect_sqlalchemy()
    return handler


def access(method: str, route: str | None, status: int, duration_ms: float) -> None:
    """The access line of one request: method, route template, status and time; no path, no
    query string, no body. 5xx answers are logged as warnings so that they show by default."""
    level = logging.WARNING if status >= 500 else logging.INFO
    if ACCESS.isEnabledFor(level):
        ACCESS.log(
            level,
            "%s %s -> %s in %.1f ms",
            method,
            route or "(no route)",
            status,
            duration_ms,
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration_ms, 1),
            },
        )
