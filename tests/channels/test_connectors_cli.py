"""``gracedesk connectors add|list|remove`` on a real SQLite home: output, errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gracedesk.channels.connectors import KINDS, manage
from gracedesk.cli import connectors_cmd
from gracedesk.cli.main import cli
from gracedesk.settings import Settings
from gracedesk.store import Store

SECRET, TOKEN = "whsec-do-not-print", "tok-do-not-print"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRACEDESK_HOME", str(tmp_path))
    monkeypatch.delenv("GRACEDESK_DATABASE_URL", raising=False)
    return tmp_path


def add(name: str, kind: str, *extra: str) -> list[str]:
    return [
        "connectors", "add", name, "--kind", kind, "--secret", SECRET,
        "--api-url", "https://support.example.com/", "--api-token", TOKEN, *extra,
    ]  # fmt: skip


def test_add_prints_the_webhook_path_last_and_list_shows_no_secrets(home: Path) -> None:
    r = CliRunner().invoke(cli, add("acme-chat", "chatwoot", "--account-id", "3"))
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1] == "/hooks/acme-chat"
    assert "http://127.0.0.1:8000/hooks/acme-chat" in r.output  # the full URL, on stderr
    r = CliRunner().invoke(
        cli,
        add("acme-zd", "zendesk", "--option", "email=bot@acme.example", "--option", "api_key=k"),
    )
    assert r.exit_code == 0, r.output
    listed = CliRunner().invoke(cli, ["connectors", "list"])
    assert listed.exit_code == 0, listed.output
    assert "acme-chat\tchatwoot\thttps://support.example.com\t/hooks/acme-chat" in listed.output
    assert "account_id=3" in listed.output and "email=bot@acme.example" in listed.output
    assert "api_key=***" in listed.output  # an option that looks secret is masked too
    assert SECRET not in listed.output and TOKEN not in listed.output
    store = Store.open(Settings().url())
    info = manage.find(store, name="acme-chat")
    store.close()
    assert (info.secret, info.api_token, info.options) == (SECRET, TOKEN, {"account_id": "3"})
    assert SECRET not in repr(info) and TOKEN not in repr(info)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (add("x", "freshservice"), 2, "Invalid value for '--kind'"),  # unknown kind
        (add("x", "chatwoot"), 1, "needs --account-id"),  # Chatwoot without its account
        (add("x", "zendesk"), 1, "--option email="),  # Zendesk without the API user
        (add("Bad Name", "zammad"), 1, "lower-case"),  # not fit for a URL
        (add("x", "zammad", "--option", "novalue"), 2, "KEY=VALUE"),  # not KEY=VALUE
        ([*add("x", "zammad")[:-4], "--api-url", "ftp://x", "--api-token", "t"], 1, "http(s)"),
        (["connectors", "remove", "nobody"], 1, "no connector named"),
    ],
)
def test_add_and_remove_refuse_what_cannot_work(
    home: Path, args: list[str], code: int, says: str
) -> None:
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code and says in r.output, r.output


def test_a_duplicate_name_is_refused_and_remove_frees_it(home: Path) -> None:
    assert CliRunner().invoke(cli, add("desk1", "zammad")).exit_code == 0
    again = CliRunner().invoke(cli, add("desk1", "helpscout"))
    assert again.exit_code == 1 and "already exists" in again.output
    gone = CliRunner().invoke(cli, ["connectors", "remove", "desk1"])
    assert gone.exit_code == 0 and "0 conversation(s) unlinked" in gone.output
    assert CliRunner().invoke(cli, add("desk1", "helpscout")).exit_code == 0
    assert "no connectors" not in CliRunner().invoke(cli, ["connectors", "list"]).output


def test_the_cli_knows_every_kind_and_has_help() -> None:
    assert connectors_cmd.KINDS == KINDS
    for args in (["connectors"], ["connectors", "add"], ["connectors", "list"]):
        r = CliRunner().invoke(cli, [*args, "--help"])
        assert r.exit_code == 0 and "Usage:" in r.output
