"""No customer data in any log line (issue 11, item 3), and the structured log's shape.

The main test runs a realistic session against a real uvicorn server (access log on) with every
logger captured at DEBUG (SQLAlchemy's statement and row echo, uvicorn, httpx, gracedesk) as JSON
lines: messages with a card number, an e-mail address and a phone number, a replay and a 409, a
422 whose body carries the text, a 404 with a token in the path and the query string, a failing
statement (a unique violation whose PostgreSQL DETAIL quotes the e-mail) answered 500, and a
store error answered 503 (SQLite) or 500 (PostgreSQL). Then it scans the captured log for those
strings: none may appear. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import insert, select, text

from gracedesk import logs
from gracedesk.service import views
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import Customer
from gracedesk.web.app import create_app

from .conftest import make_user

CARD = "4556 7375 8689 9855"
EMAIL = "zelda.quist@example.org"
PHONE = "+44 20 7946 0958"
NAME = "Zelda Quist"
MARKER = "MARMALADE-PLATYPUS"
TEXT = (
    f"Hi, this is {NAME}. My card {CARD} was charged twice, call {PHONE} or write to {EMAIL}. "
    f"Codeword {MARKER}. I want my money back today or I go to the press."
)
TEXT2 = f"Again: card {CARD.replace(' ', '')}, phone {PHONE.replace(' ', '')}. {MARKER} twice."
CSAT_TOKEN = "Qz7xK2mP9vL4nR8tW1yB3cD6fH0jAsEe"  # shaped like a real survey token
QUERY_SECRET = "s3cr3tQueryValue42"


@contextmanager
def capture(fmt: str = "json") -> Iterator[io.StringIO]:
    """Every logger at DEBUG into a buffer, through gracedesk's handler; restored after."""
    names = ["", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "uvicorn", "httpx"]
    names += ["uvicorn.error", "uvicorn.access", "gracedesk", "httpcore"]
    levels = {n: logging.getLogger(n).level for n in names}
    uv = {n: (logging.getLogger(n).handlers, logging.getLogger(n).propagate) for n in names[4:8]}
    buf = io.StringIO()
    handler = logs.configure(fmt, "debug", stream=buf)
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)
    logging.getLogger("uvicorn.access").propagate = True  # the server below turns it on
    try:
        yield buf
    finally:
        logging.getLogger().removeHandler(handler)
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
        for n, (handlers, propagate) in uv.items():
            logging.getLogger(n).handlers, logging.getLogger(n).propagate = handlers, propagate


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` under a real uvicorn server with its access log on, in a thread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="debug", log_config=None, access_log=True
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_a_realistic_session_logs_no_customer_data(
    settings: Settings, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, agent_token = make_user(desk.store, "ann", "agent")
    _, lead_token = make_user(desk.store, "sue", "supervisor")
    agent = {"Authorization": f"Bearer {agent_token}"}
    lead = {"Authorization": f"Bearer {lead_token}"}

    def duplicate_customer(*a: Any, **k: Any) -> Any:
        """A failing statement whose values are all personal data (a unique violation)."""
        table = Customer.__table__
        with desk.store.write_core() as conn:
            row = conn.execute(select(table)).mappings().first()
            assert row is not None
            conn.execute(insert(table).values({k: v for k, v in row.items() if k != "id"}))

    def bad_statement(*a: Any, **k: Any) -> Any:
        """A statement the store refuses, with message text as its parameter."""
        with desk.store.read_core() as conn:
            conn.execute(text("SELECT * FROM no_such_table WHERE note = :n"), {"n": TEXT})

    monkeypatch.setattr(views, "team", duplicate_customer)
    monkeypatch.setattr(views, "me", bad_statement)
    body = {
        "customer": {"external_id": EMAIL, "name": NAME, "email": EMAIL, "phone": PHONE},
        "text": TEXT,
        "subject": f"Card {CARD}",
        "request": {"kind": "refund", "amount": 120},
    }
    with capture("json") as buf, served(create_app(settings, desk=desk)) as base:
        with httpx.Client(base_url=base, timeout=60) as http:
            key = {"Idempotency-Key": "zq-1"}
            first = http.post("/api/v1/messages", json=body, headers={**agent, **key})
            assert first.status_code == 201, first.text
            conv = first.json()["conversation_id"]
            assert http.post("/api/v1/messages", json=body, headers={**agent, **key}).is_success
            other = {**body, "request": {"kind": "refund", "amount": 9000}}
            conflict = http.post("/api/v1/messages", json=other, headers={**agent, **key})
            assert conflict.status_code == 409
            second = {**body, "text": TEXT2, "conversation_id": conv}
            assert http.post("/api/v1/messages", json=second, headers=agent).status_code == 201
            invalid = {**body, "customer": {"external_id": EMAIL, "email": f"{PHONE} {EMAIL}"}}
            assert http.post("/api/v1/messages", json=invalid, headers=agent).status_code == 422
            assert http.get(f"/api/v1/conversations/{conv}", headers=agent).status_code == 200
            customer = http.get(f"/api/v1/conversations/{conv}", headers=agent).json()
            cid = customer.get("customer", {}).get("id") or 1
            assert http.get(f"/api/v1/customers/{cid}/export", headers=lead).status_code == 200
            reply = {"text": f"Dear {NAME}, we refund the charge on card {CARD} today."}
            replied = http.post(f"/api/v1/conversations/{conv}/replies", json=reply, headers=agent)
            assert replied.status_code == 201
            survey = http.post(
                f"/api/v1/csat/{CSAT_TOKEN}?token={QUERY_SECRET}",
                json={"score": 1, "comment": TEXT},
            )
            assert survey.status_code == 404  # a 4xx with a token in the path and the query
            assert http.get(f"/csat/{CSAT_TOKEN}?t={QUERY_SECRET}").status_code == 404
            failed = http.get("/api/v1/team", headers=lead)
            assert failed.status_code == 500, failed.text  # the failing statement
            assert failed.headers["content-type"].startswith("application/problem+json")
            assert failed.json()["request_id"] == failed.headers["x-request-id"]
            refused = http.get("/api/v1/me", headers=agent)
            assert refused.status_code == (503 if desk.store.dialect == "sqlite" else 500)
        log = buf.getvalue()

    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    by = {name: [x for x in lines if x["logger"] == name] for name in {x["logger"] for x in lines}}
    # the capture saw everything: SQL, uvicorn's access log, ours, the tracebacks
    assert any("INSERT INTO messages" in x["message"] for x in by["sqlalchemy.engine.Engine"])
    assert any(x["level"] == "debug" for x in by["sqlalchemy.engine.Engine"])
    assert by["uvicorn.access"] and by["httpx"]
    assert any("SQL parameters hidden" in x.get("exception", "") for x in lines), log[-3000:]
    access = by["gracedesk.access"]
    statuses = {x["status"] for x in access}
    assert {200, 201, 404, 409, 422, 500} <= statuses, statuses
    for x in access:
        assert {"time", "level", "message", "request_id", "route", "status", "duration_ms"} <= set(
            x
        )
        assert "?" not in x["message"] and f"-> {x['status']} in" in x["message"]
    assert {"/api/v1/messages", "/api/v1/csat/{token}", "/api/v1/conversations/{conv_id}"} <= {
        x["route"] for x in access
    }
    boom = [x for x in lines if x["logger"] == "gracedesk.web" and "exception" in x]
    assert boom and all(x["request_id"] and x["route"] for x in boom)

    secrets = [CARD, CARD.replace(" ", ""), EMAIL, PHONE, PHONE.replace(" ", ""), NAME, MARKER]
    secrets += ["charged twice", "money back", agent_token, lead_token, CSAT_TOKEN, QUERY_SECRET]
    secrets += [PHONE.replace(" ", "")[1:], "7946 0958", "8689 9855"]
    found = {s: log.count(s) for s in secrets if s in log}
    assert not found, (found, [ln for ln in log.splitlines() if any(s in ln for s in found)][:5])


def test_text_lines_carry_the_request_id(settings: Settings, desk: Desk) -> None:
    from fastapi.testclient import TestClient

    with capture("text") as buf:
        logging.getLogger("gracedesk.access").setLevel(logging.INFO)
        with TestClient(create_app(settings, desk=desk)) as client:
            r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        log = buf.getvalue()
    line = next(ln for ln in log.splitlines() if "gracedesk.access" in ln)
    assert "[abc-123] GET /healthz -> 200 in" in line


def test_engines_hide_parameters(store: Store) -> None:
    """Both databases: a failing statement's error shows no bound value."""
    assert store.engines.read.hide_parameters and store.engines.write.hide_parameters
    with pytest.raises(Exception) as info, store.read_core() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE n = :n"), {"n": CARD})
    assert CARD not in str(info.value) and "parameters hidden" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (f"card {CARD} ok", "card <number> ok"),
        ("card 4556737586899855", "card <number>"),
        (f"call {PHONE}", "call <number>"),
        ("call +1 (415) 555-0199", "call <number>"),
        (f"mail {EMAIL}!", "mail <email>!"),
        ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer <hidden>"),
        ('{"password": "hunter2"}', '{"password": "<hidden>"}'),
        (f"GET /csat/{CSAT_TOKEN}?token=x HTTP/1.1", "GET /csat/<token>?<query> HTTP/1.1"),
        ("DETAIL:  Key (external_id)=(z@x.org) already exists.", "DETAIL:  <hidden>"),
    ],
)
def test_redact_masks_personal_data(raw: str, masked: str) -> None:
    assert logs.redact(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "2026-11-23 09:00:00,123 analysis of message 12345678 failed",
        "connection to server at 127.0.0.1, port 5432 failed",
        "INSERT INTO messages (a, b) VALUES (?, ?) [generated in 0.00012s]",
        "WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8)",
        "sqlalchemy.exc.OperationalError: no such table: no_such_table",
        "request_hash 3f2a9c0e1b7d4a5f6e8c9b0a1d2e3f4a",
        "session ended",
    ],
)
def test_redact_keeps_what_operators_need(kept: str) -> None:
    assert logs.redact(kept) == kept


def test_configure_refuses_unknown_formats_and_levels() -> None:
    with pytest.raises(ValueError, match="format"):
        logs.configure("xml")
    with pytest.raises(ValueError, match="level"):
        logs.configure("json", "loud")
