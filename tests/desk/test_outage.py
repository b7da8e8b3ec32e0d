"""A database outage is a 503 problem with ``Retry-After``, and loses nothing (issue 11, item 9).

PostgreSQL: the desk reaches the database through a TCP relay that the test cuts (every open
connection dropped, new ones refused) and restores. SQLite: the database file is made unreadable
(``chmod 000``; as root, which reads any file, its folder is moved away instead). Meanwhile the
API answers 503 ``application/problem+json`` (GD710) with ``Retry-After``, the console a friendly
page; afterwards every message accepted before is there, once, and its key still replays.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store import messages as store_messages
from gracedesk.store.tables import Message
from gracedesk.web.app import create_app

from .conftest import _empty, make_user

TEXTS = [
    "My order never arrived and nobody answers. Refund me.",
    "Second time I write: where is my refund?",
    "Thanks for nothing. I am cancelling.",
]


class Relay:
    """A TCP relay on a loopback port to ``target``; ``cut()`` is the outage, ``restore()``
    the recovery (on the same port)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.restore()

    def restore(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept loop
        self.server.close()
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.open.clear()


def _client(settings: Settings, desk: Desk) -> tuple[TestClient, dict[str, str]]:
    _, tok = make_user(desk.store, "ann", "agent")
    return TestClient(create_app(settings, desk=desk)), {"Authorization": f"Bearer {tok}"}


def _post(client: TestClient, auth: dict[str, str], i: int) -> Any:
    body = {"customer": {"external_id": f"c-{i % 2}"}, "text": TEXTS[i % len(TEXTS)]}
    return client.post("/api/v1/messages", json=body, headers={**auth, "Idempotency-Key": f"k{i}"})


def _accept_some(client: TestClient, auth: dict[str, str], n: int = 3) -> dict[str, int]:
    acked = {}
    for i in range(n):
        r = _post(client, auth, i)
        assert r.status_code == 201, r.text
        acked[f"k{i}"] = r.json()["message_id"]
    return acked


def _assert_unavailable(client: TestClient, auth: dict[str, str]) -> None:
    answers = [
        _post(client, auth, 99),  # a write
        client.get("/api/v1/conversations", headers=auth),  # a read
        client.get("/healthz"),
    ]
    for r in answers:
        assert r.status_code == 503, (r.request.url, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) > 0
        problem = r.json()
        assert problem["code"] == "GD710" and problem["status"] == 503
        assert (
            problem["type"].endswith("GD710")
            and "nothing already stored is lost" in (problem["detail"])
        )
    page = client.get("/csat/abcdefgh12345678")  # a console page that reads the store
    assert page.status_code == 503, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["Retry-After"] and "cannot reach its database" in page.text


def _assert_nothing_lost(client: TestClient, auth: dict[str, str], acked: dict[str, int]) -> None:
    assert client.get("/healthz").status_code == 200
    for i, key in enumerate(acked):
        again = _post(client, auth, i)
        assert (again.status_code, again.json()["message_id"]) == (200, acked[key])
    retried = _post(client, auth, 99)  # the request refused during the outage, sent again
    assert retried.status_code == 201, retried.text


def _stored(store: Store) -> dict[str, int]:
    with store.read() as s:
        rows = s.execute(select(Message.idempotency_key, Message.id)).all()
        assert s.scalar(select(func.count()).select_from(Message)) == len(rows)
    return {str(k).removeprefix("key:"): int(i) for k, i in rows}


def test_postgres_outage_is_a_503_and_loses_nothing(
    postgres_url: str, tmp_path: Path, policy: Any, analyzer: Any
) -> None:
    direct = Store.open(postgres_url)
    _empty(direct)
    url = make_url(postgres_url)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    store = Store.open(relayed)
    desk = Desk(store, policy=policy, analyzer=analyzer)
    settings = Settings(home=tmp_path, database_url=relayed, secret_key="test-secret")
    client, auth = _client(settings, desk)
    try:
        with client:
            acked = _accept_some(client, auth)
            relay.cut()
            _assert_unavailable(client, auth)
            relay.restore()
            _assert_nothing_lost(client, auth, acked)
        assert _stored(direct) == {**acked, "k99": _stored(direct)["k99"]}
    finally:
        relay.cut()
        store.close()
        direct.close()


@contextlib.contextmanager
def unreadable(db: Path) -> Iterator[None]:
    """The SQLite file cannot be opened: ``chmod 000``, or for root its folder moved away."""
    if os.geteuid() != 0:
        db.chmod(0)
        try:
            yield
        finally:
            db.chmod(0o644)
        return
    away = db.parent.with_name(db.parent.name + ".away")
    db.parent.rename(away)
    try:
        yield
    finally:
        away.rename(db.parent)


def test_sqlite_unreadable_is_a_503_and_loses_nothing(
    tmp_path: Path, policy: Any, analyzer: Any
) -> None:
    db = tmp_path / "data" / "gracedesk.db"
    url = f"sqlite:///{db}"
    store = Store.open(url)
    store.migrate()
    desk = Desk(store, policy=policy, analyzer=analyzer)
    settings = Settings(home=tmp_path / "home", database_url=url, secret_key="test-secret")
    client, auth = _client(settings, desk)
    try:
        with client:
            acked = _accept_some(client, auth)
            with unreadable(db):
                store.engines.read.dispose()  # open connections would keep reading the file
                store.engines.write.dispose()
                with pytest.raises(sqlite3.OperationalError):
                    sqlite3.connect(f"file:{db}?mode=rw", uri=True).execute("SELECT 1")
                _assert_unavailable(client, auth)
            _assert_nothing_lost(client, auth, acked)
        assert _stored(store) == {**acked, "k99": _stored(store)["k99"]}
    finally:
        store.close()


def test_a_database_locked_beyond_the_timeout_is_a_503(
    settings: Settings, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gracedesk.service import views

    def locked(*a: Any, **k: Any) -> Any:
        raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(views, "list_conversations", locked)
    client, auth = _client(settings, desk)
    with client:
        r = client.get("/api/v1/conversations", headers=auth)
    assert r.status_code == 503 and r.json()["code"] == "GD710"
    assert r.headers["Retry-After"] == "5"


def test_an_outage_after_the_message_is_stored_still_acknowledges_it(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored, then the store went away before the analysis was recorded: the answer is the
    stored message (``analysis: pending``, the reanalyse job takes it), not an error."""
    from .conftest import post

    def gone(*a: Any, **k: Any) -> Any:
        raise OperationalError("UPDATE ...", {}, sqlite3.OperationalError("disk I/O error"))

    class Broken:
        analyze = analyze_many = staticmethod(gone)

    monkeypatch.setattr(desk, "analyzer", Broken())
    with monkeypatch.context() as m:  # the store is away when the failure is to be recorded
        m.setattr(store_messages, "mark_failed", gone)
        posted = post(desk, "Stored before the outage.", key="k-out")
    assert posted.created and posted.analysis == "pending"
    with desk.store.read() as s:
        m = s.get_one(Message, posted.message_id)
        assert (m.text, m.analysis_state) == ("Stored before the outage.", "pending")
