"""``gracedesk db``, ``users`` and ``worker`` on a real SQLite home: output, errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gracedesk.cli.main import cli
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.migrate import head
from gracedesk.web.auth import by_token


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRACEDESK_HOME", str(tmp_path))
    monkeypatch.delenv("GRACEDESK_DATABASE_URL", raising=False)
    return tmp_path


def test_db_upgrade_creates_the_sqlite_file(home: Path) -> None:
    r = CliRunner().invoke(cli, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    assert f"revision {head()}" in r.output and (home / "gracedesk.db").exists()


def test_users_create_prints_a_working_token(home: Path) -> None:
    r = CliRunner().invoke(
        cli, ["users", "create", "sam", "--role", "agent", "--password", "long enough pw"]
    )
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    store = Store.open(Settings().url())
    assert by_token(store, token).name == "sam"
    again = CliRunner().invoke(cli, ["users", "create", "sam", "--role", "agent"])
    assert again.exit_code == 1 and "already exists" in again.output
    new = CliRunner().invoke(cli, ["users", "token", "sam"])
    assert new.exit_code == 0 and by_token(store, new.stdout.strip()).name == "sam"
    store.close()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["users", "create", "x", "--role", "king"],
            2,
            "Invalid value for '--role'",
        ),  # unknown role
        (["users", "create", "bad name!", "--role", "agent"], 1, "name must be"),
        (["users", "create", "pw", "--role", "agent", "--password", "short"], 1, "at least 8"),
        (["users", "token", "nobody"], 1, "no user"),
    ],
)
def test_users_errors(home: Path, args: list[str], code: int, says: str) -> None:
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code and says in r.output, r.output


def test_bad_database_url_is_a_clear_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRACEDESK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    r = CliRunner().invoke(cli, ["db", "upgrade"])
    assert r.exit_code == 1 and "cannot open the database" in r.output, r.output


def test_worker_once_runs_every_job(home: Path) -> None:
    r = CliRunner().invoke(cli, ["worker", "--once"])
    assert r.exit_code == 0, r.output
    assert "reanalyse=0 follow_ups=0 sla=0 notifications=0" in r.output


def test_worker_drain_with_two_processes(home: Path) -> None:
    """``worker --drain --processes 2``: two real processes share the queue; every message is
    analysed once and the rate is printed (the order within a conversation, across workers:
    tests/desk/test_ingest.py)."""
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from gracedesk.service.build import build_desk
    from gracedesk.service.desk import CustomerRef, Incoming
    from gracedesk.store.tables import Message

    desk = build_desk(Settings())
    now = datetime.now(UTC)
    ids = [
        desk.post_message(
            Incoming(CustomerRef(f"c-{i % 7}"), f"Where is my parcel {i}? You idiots lost it."),
            actor=None,
            now=now + timedelta(seconds=i),
            respond_async=True,
        ).message_id
        for i in range(40)
    ]
    r = subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", "worker", "--drain", "--processes", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("drained 40 messages in "), r.stdout
    with desk.store.read() as s:
        rows = s.query(Message).filter(Message.id.in_(ids)).order_by(Message.id).all()
        assert {m.analysis_state for m in rows} == {"done"}
        assert all(m.analysis_attempts == 1 for m in rows)  # each message analysed once
    desk.store.close()


def test_worker_processes_go_with_drain(home: Path) -> None:
    r = CliRunner().invoke(cli, ["worker", "--processes", "2"])
    assert r.exit_code == 2 and "--processes goes with --drain" in r.output, r.output
