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
