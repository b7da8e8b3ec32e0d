"""``gracedesk kb import|list|search`` on a real SQLite home: output, errors, exit codes, and
the JSONL mode of ``kb search -`` (one line out per line in, in order, bad lines as errors)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gracedesk.cli.main import cli

from .conftest import ARTICLES


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRACEDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GRACEDESK_DATABASE_URL", raising=False)
    return tmp_path


def test_import_says_what_changed_and_is_idempotent(home: Path) -> None:
    d = home / "articles"
    shutil.copytree(ARTICLES, d)
    r = CliRunner().invoke(cli, ["kb", "import", str(d)])
    assert r.exit_code == 0, r.output
    assert "added: 4 (account-security, delivery-delays, internal-approvals, refunds)" in r.stdout
    again = CliRunner().invoke(cli, ["kb", "import", str(d), "--format", "json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout) == {
        "added": [],
        "updated": [],
        "unchanged": ["account-security", "delivery-delays", "internal-approvals", "refunds"],
        "invalid": [],
    }


def test_import_of_an_invalid_file_exits_1_naming_file_and_field(home: Path) -> None:
    d = home / "articles"
    shutil.copytree(ARTICLES, d)
    (d / "bad.md").write_text("---\nid: bad\ntitle: Bad\naudience: customer\n---\nText\n")
    r = CliRunner().invoke(cli, ["kb", "import", str(d)])
    assert r.exit_code == 1
    assert "invalid: bad.md: bad.md: updated: missing (required)" in r.stderr
    assert "added: 4" in r.stdout  # the good files are imported all the same


def test_list_and_search(home: Path) -> None:
    assert CliRunner().invoke(cli, ["kb", "import", str(ARTICLES)]).exit_code == 0
    listed = CliRunner().invoke(cli, ["kb", "list", "--format", "json"])
    assert [a["id"] for a in json.loads(listed.stdout)] == [
        "account-security", "delivery-delays", "internal-approvals", "refunds",
    ]  # fmt: skip
    text = CliRunner().invoke(cli, ["kb", "list", "--audience", "internal"])
    assert text.stdout.startswith("internal-approvals\tv1\tinternal\t")
    args = ["kb", "search", "reset link for my password", "--k", "2", "--format", "json"]
    found = CliRunner().invoke(cli, args)
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 2 and hits[0]["id"] == "account-security"
    assert set(hits[0]) >= {"id", "title", "score", "passage"}
    plain = CliRunner().invoke(cli, ["kb", "search", "tracking number", "--k", "1"])
    assert plain.stdout.split("\t")[1] == "delivery-delays"


def test_search_reads_jsonl_queries_from_stdin_in_order(home: Path) -> None:
    assert CliRunner().invoke(cli, ["kb", "import", str(ARTICLES)]).exit_code == 0
    lines = [
        b'{"id": "q1", "text": "reset link for my password"}',
        b'{"id": "q2", "text": "where is the tracking number of my parcel"}',
        b'{"id": "q3"}',  # no text: an error record in its place
        b'{"id": "q4", "text": "unterminated',  # bad JSON
        b'{"id": 5, "text": "how many working days until the money reaches my bank"}',
    ]
    r = CliRunner().invoke(cli, ["kb", "search", "-", "--k", "1"], input=b"\n".join(lines))
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["q1", "q2", "q3", None, 5]
    assert [o["hits"][0]["id"] for o in out if "hits" in o] == [
        "account-security", "delivery-delays", "refunds",
    ]  # fmt: skip
    assert out[2]["error"]["code"] == "GD102" and out[3]["line"] == 4
    assert "2 line(s) with errors" in r.stderr


def test_questions_adds_answered_questions_and_reports_bad_lines(home: Path) -> None:
    d = home / "articles"
    shutil.copytree(ARTICLES, d)
    assert CliRunner().invoke(cli, ["kb", "import", str(d)]).exit_code == 0
    lines = [
        json.dumps({"article": "delivery-delays", "text": "parcel stuck in the depot for a week"}),
        json.dumps({"article": "refunds", "text": "how long until my money is back"}),
        "not json",
        json.dumps({"article": "nope", "text": "anything"}),
        json.dumps({"text": "no article"}),
    ]
    r = CliRunner().invoke(cli, ["kb", "questions", "-"], input="\n".join(lines) + "\n")
    assert r.exit_code == 1, r.output
    assert "added: 2\nunchanged: 0" in r.stdout
    assert "line 3: not valid JSON" in r.stderr
    assert 'line 5: needs "article" and "text" strings' in r.stderr
    assert "no article 'nope'" in r.stderr
    again = CliRunner().invoke(cli, ["kb", "questions", "-"], input="\n".join(lines[:2]))
    assert again.exit_code == 0 and "added: 0\nunchanged: 2" in again.stdout
