"""``gracedesk import``: its output, its exit codes, and a crash (the process killed between
batches) followed by a run that resumes, in a real subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gracedesk.cli.import_cmd import CRASH_AFTER_ENV, CRASH_EXIT
from gracedesk.cli.main import cli
from gracedesk.store import Store
from gracedesk.store.tables import ImportRun, Message

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRACEDESK_HOME", str(tmp_path))
    monkeypatch.delenv("GRACEDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv(CRASH_AFTER_ENV, raising=False)
    return tmp_path


def test_the_summary_lists_what_came_in_and_each_rejected_line(home: Path) -> None:
    r = CliRunner().invoke(cli, ["import", str(DATA / "support.csv"), "--format", "csv"])
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    assert out[0].startswith("import #1: ") and out[0].endswith("support.csv (csv)")
    assert out[1:5] == [
        "imported: 7 messages (4 new conversations, 3 new customers)",
        "skipped: 0 (already in the desk)",
        "rejected: 5",
        "  line 8: empty text",
    ]
    assert "  line 9: bad date 'yesterday' (ISO 8601 expected" in r.stdout
    again = CliRunner().invoke(cli, ["import", str(DATA / "support.csv"), "--format", "csv"])
    assert again.exit_code == 0, again.output  # everything skipped is still a success
    assert "imported: 0 messages" in again.stdout and "skipped: 7 (already" in again.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["missing.csv", "--format", "csv"], 2, "does not exist"),  # no such file
        (["twcs.csv", "--format", "jsonl"], 1, "has no JSON object on any line"),  # not jsonl
        (["support.csv", "--format", "twcs"], 1, "is not a twcs file"),  # another layout
        (["support.mbox", "--format", "mbox"], 2, "needs --support-address"),
        (["support.csv", "--format", "xml"], 2, "Invalid value for '--format'"),
        (["all_rejected.jsonl", "--format", "jsonl"], 1, "every record was rejected"),
    ],
)
def test_errors_and_exit_codes(home: Path, args: list[str], code: int, says: str) -> None:
    (home / "all_rejected.jsonl").write_text('{"conversation": "x"}\n', encoding="utf-8")
    where = home if args[0] in ("missing.csv", "all_rejected.jsonl") else DATA
    r = CliRunner().invoke(cli, ["import", str(where / args[0]), *args[1:]])
    assert r.exit_code == code and says in r.output, r.output


def _import(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "gracedesk.cli.main", "import", str(DATA / "twcs.csv")]
    return subprocess.run(
        [*cmd, "--format", "twcs", "--batch", "2", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_killed_import_resumes_where_it_stopped(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRACEDESK_")}
    env |= {"GRACEDESK_HOME": str(tmp_path), "GRACEDESK_DATABASE_URL": db_url}
    killed = _import({**env, CRASH_AFTER_ENV: "2"})  # os._exit after two committed batches
    assert killed.returncode == CRASH_EXIT, killed.stderr
    assert "imported:" not in killed.stdout
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 4
        run = s.scalars(select(ImportRun)).one()
        assert (run.state, run.position) == ("running", 4)
    done = _import(env)
    assert done.returncode == 0, done.stderr
    assert "resumed at message 4 of 9" in done.stdout
    assert "imported: 9 messages" in done.stdout and "rejected: 5" in done.stdout
    with store.read() as s:
        ids = list(s.scalars(select(Message.channel_message_id)))
        run = s.scalars(select(ImportRun)).one()
    assert sorted(ids, key=int) == ["1", "2", "3", "4", "5", "10", "11", "20", "21"]
    assert (run.state, run.position, run.imported) == ("done", 9, 9)
