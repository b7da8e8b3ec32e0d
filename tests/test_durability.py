"""A kill -9 of the server during a load run loses no acknowledged message.

The real `gracedesk serve` runs in a child process on a fresh store (SQLite in a temp
GRACEDESK_HOME, or a fresh PostgreSQL database). Eight client threads post messages, each with
a unique Idempotency-Key, and keep every (key, message_id) answered 201. Mid-load the server's
process group gets SIGKILL. Then the store itself is read: every acknowledged message is there
under its key, and no key was stored twice. A restarted server comes up healthy and answers
an acknowledged key with the same message_id, without storing a new row.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "gracedesk.cli.main"]
THREADS = 8
LOAD_S = 1.5  # posting time before the kill
HEALTH_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 10.0
PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEXTS = [
    json.loads(line)["text"]
    for line in (ROOT / "examples/messages.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]

Rows = dict[int, str | None]


@dataclass
class Store:
    env: dict[str, str]
    rows: Callable[[], Rows]  # message id -> idempotency_key, read from the store directly
    duplicate_keys: Callable[[], list[tuple[str, int]]]


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    env = dict(os.environ, GRACEDESK_HOME=str(tmp_path / "home"))
    env.pop("GRACEDESK_DATABASE_URL", None)
    dup_sql = (
        "SELECT idempotency_key, COUNT(*) FROM messages WHERE idempotency_key IS NOT NULL "
        "GROUP BY idempotency_key HAVING COUNT(*) > 1"
    )
    if request.param == "sqlite":
        db = tmp_path / "home" / "gracedesk.db"

        def sqlite_query(sql: str) -> list[Any]:
            with contextlib.closing(sqlite3.connect(db)) as conn:
                return conn.execute(sql).fetchall()

        yield Store(
            env,
            lambda: dict(sqlite_query("SELECT id, idempotency_key FROM messages")),
            lambda: sqlite_query(dup_sql),
        )
        return

    psycopg = pytest.importorskip("psycopg")
    from psycopg import sql

    admin = _plain(os.environ.get("GRACEDESK_TEST_POSTGRES_URL", PG_ADMIN_DEFAULT))
    name = f"gd_dur_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required on CI ({admin}): {exc}")
        pytest.skip(f"PostgreSQL not reachable at {admin}: {exc}")
    base, _, _ = admin.rpartition("/")
    url = f"{base}/{name}"
    env["GRACEDESK_DATABASE_URL"] = url.replace("postgresql://", "postgresql+psycopg://", 1)

    def pg_query(query: str) -> list[Any]:
        with psycopg.connect(url) as conn:
            return conn.execute(query).fetchall()

    try:
        yield Store(
            env,
            lambda: dict(pg_query("SELECT id, idempotency_key FROM messages")),
            lambda: pg_query(dup_sql),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _cli(env: dict[str, str], *args: str) -> str:
    res = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"gracedesk {' '.join(args)}: {res.stderr}"
    return res.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _post(
    conn: http.client.HTTPConnection, token: str, key: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    conn.request("POST", "/api/v1/messages", body=json.dumps(body), headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, json.loads(data) if data else {}


class Server:
    """`gracedesk serve --no-jobs` in its own process group, log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-jobs"]
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [*CLI, *args], env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.log = log

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited: {self.log.read_text()[-3000:]}"
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, body = _get(self.port, "/healthz")
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            time.sleep(0.2)
        pytest.fail(f"server not healthy in {HEALTH_TIMEOUT_S} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything the server left in its group


@dataclass
class Acked:
    key: str
    message_id: int
    body: dict[str, Any]


def _poster(
    port: int,
    token: str,
    n: int,
    deadline: float,
    acked: list[Acked],
    failures: list[tuple[float, str]],
) -> None:
    """Post until the server dies (the first failure) or the deadline; never raises."""
    prefix = f"dur-{n}-{secrets.token_hex(3)}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        for i in range(100_000):
            if time.monotonic() > deadline:
                return
            body = {
                "customer": {"external_id": f"c-{(n * 13 + i) % 50}"},
                "channel": "api",
                "text": TEXTS[i % len(TEXTS)],
            }
            key = f"{prefix}-{i}"
            try:
                status, data = _post(conn, token, key, body)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures.append((time.monotonic(), f"{key}: {exc!r}"))
                return
            if status != 201:
                failures.append((time.monotonic(), f"{key}: HTTP {status} {data}"))
                return
            acked.append(Acked(key, data["message_id"], body))
    finally:
        conn.close()


def test_kill_9_during_load_loses_no_acknowledged_message(store: Store, tmp_path: Path) -> None:
    _cli(store.env, "db", "upgrade")
    token = _cli(store.env, "users", "create", "durability", "--role", "agent").splitlines()[-1]
    token = token.strip()
    log = tmp_path / "server.log"

    server = Server(store.env, log)
    try:
        server.wait_healthy()
        acked: list[Acked] = []
        failures: list[tuple[float, str]] = []
        deadline = time.monotonic() + LOAD_S + 10
        threads = [
            threading.Thread(
                target=_poster, args=(server.port, token, n, deadline, acked, failures)
            )
            for n in range(THREADS)
        ]
        for t in threads:
            t.start()
        time.sleep(LOAD_S)
        assert all(t.is_alive() for t in threads), failures  # still loading when killed
        killed_at = time.monotonic()
        server.kill()
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 5)
        assert not any(t.is_alive() for t in threads)
    finally:
        server.kill()

    assert not [f for at, f in failures if at < killed_at], failures
    assert len(acked) >= THREADS, f"only {len(acked)} messages acknowledged before the kill"

    rows = store.rows()
    # a client's Idempotency-Key is stored in its own namespace (service/desk.py)
    lost = [(a.key, a.message_id) for a in acked if rows.get(a.message_id) != f"key:{a.key}"]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged messages lost: {lost[:5]}"
    assert store.duplicate_keys() == []

    server = Server(store.env, log)
    try:
        server.wait_healthy()
        before = len(store.rows())
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
        try:
            for again in (acked[0], acked[-1]):
                status, data = _post(conn, token, again.key, again.body)
                assert (status, data["message_id"]) == (200, again.message_id), data
        finally:
            conn.close()
        assert len(store.rows()) == before
    finally:
        server.kill()
