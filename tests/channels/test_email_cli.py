"""``gracedesk mailboxes add|list|remove`` and ``gracedesk mail fetch`` against a real Dovecot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gracedesk.cli.main import cli

from .email_servers import PASSWORD, USER, Dovecot, mail, running_dovecot


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    env = {
        "GRACEDESK_HOME": str(tmp_path / "home"),
        "GRACEDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'gd.db'}",
        "GRACEDESK_SECRET_KEY": "test-secret",
        "IMAP_PASSWORD": PASSWORD,
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env)

    return invoke


def add_args(imap: Dovecot, name: str, folder: str, *extra: str) -> list[str]:
    return [
        "mailboxes",
        "add",
        name,
        "--host",
        imap.host,
        "--port",
        str(imap.port),
        "--security",
        "none",
        "--username",
        USER,
        "--password-env",
        "IMAP_PASSWORD",
        "--folder",
        folder,
        "--address",
        "Acme Support <support@acme.test>",
        *extra,
    ]


def test_add_list_remove(run: Run, imap: Dovecot) -> None:
    r = run(*add_args(imap, "support", "INBOX", "--done-folder", "Processed"))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("added mailbox 'support': support@127.0.0.1:")
    listed = run("mailboxes", "list")
    assert listed.exit_code == 0
    assert "support\tactive\t" in listed.output and "INBOX -> Processed" in listed.output
    assert "last read: never" in listed.output
    assert PASSWORD not in listed.output  # never shown
    again = run(*add_args(imap, "support", "INBOX"))
    assert again.exit_code == 1 and "exists" in again.output
    assert run("mailboxes", "remove", "support").output == "removed mailbox 'support'\n"
    assert "no mailboxes" in run("mailboxes", "list").output
    missing = run("mailboxes", "remove", "support")
    assert missing.exit_code == 1 and "does not exist" in missing.output


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        (["--security", "tls"], 2, "Invalid value for '--security'"),  # not a choice
        (["--port", "0"], 2, "Invalid value for '--port'"),  # out of range
        (["--password", "x"], 2, "exactly one of"),  # both password options
        (["--address", "support at acme"], 1, "not an e-mail address"),
        (["--done-folder", "INBOX"], 1, "done folder must differ"),
    ],
)
def test_bad_input_is_refused(
    run: Run, imap: Dovecot, change: list[str], code: int, says: str
) -> None:
    args = add_args(imap, "support", "INBOX")
    for option, value in zip(change[::2], change[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    r = run(*args)
    assert r.exit_code == code, r.output
    assert says in r.output
    assert "no mailboxes" in run("mailboxes", "list").output


def test_a_password_variable_that_is_not_set_is_refused(run: Run, imap: Dovecot) -> None:
    args = add_args(imap, "support", "INBOX")
    args[args.index("IMAP_PASSWORD")] = "NO_SUCH_VARIABLE"
    r = run(*args)
    assert r.exit_code == 2 and "NO_SUCH_VARIABLE is not set" in r.output


def test_fetch_stores_new_mail_once(run: Run, imap: Dovecot) -> None:
    folder = imap.folder()
    assert run(*add_args(imap, "support", folder)).exit_code == 0
    imap.append(folder, mail())
    first = run("mail", "fetch")
    assert first.exit_code == 0, first.output
    assert first.output == "support: 1 stored, 0 already stored, 0 failed\n"
    assert run("mail", "fetch", "--mailbox", "support").output.startswith("support: 0 stored")
    assert "last read: 20" in run("mailboxes", "list").output
    # conversations use it now: removing only deactivates it
    removed = run("mailboxes", "remove", "support")
    assert removed.output.startswith("deactivated mailbox 'support'")
    inactive = run("mail", "fetch", "--mailbox", "support")
    assert inactive.exit_code == 1 and "inactive" in inactive.output
    # the name can be used again: the row is replaced and read again
    assert run(*add_args(imap, "support", folder)).exit_code == 0


def test_fetch_fails_loudly(run: Run, imap: Dovecot) -> None:
    unknown = run("mail", "fetch", "--mailbox", "nope")
    assert unknown.exit_code == 1 and "does not exist" in unknown.output
    args = add_args(imap, "wrong", imap.folder())
    args[args.index("--password-env") : args.index("--password-env") + 2] = ["--password", "bad"]
    assert run(*args).exit_code == 0
    r = run("mail", "fetch")
    assert r.exit_code == 1
    assert "wrong: 0 stored, 0 already stored, 0 failed (LoginError" in r.output
    assert "last error: LoginError" in run("mailboxes", "list").output
    assert run("mail", "fetch", "--idle", "0").exit_code == 2  # at least a second


def test_every_command_in_the_docs_parses() -> None:
    """docs/email.md's commands name real commands and options (parsed, not run)."""
    import re
    import shlex

    import click

    doc = (Path(__file__).resolve().parents[2] / "docs" / "email.md").read_text(encoding="utf-8")
    lines = [
        ln
        for block in re.findall(r"```bash\n(.*?)```", doc, re.S)
        for ln in block.splitlines()
        if ln.startswith("gracedesk ")
    ]
    assert len(lines) >= 5
    for line in lines:
        tokens = shlex.split(line)[1:]
        command: click.Command = cli
        while isinstance(command, click.Group):  # gracedesk GROUP COMMAND ...
            sub = command.get_command(click.Context(command), tokens[0])
            assert sub is not None, line
            command, tokens = sub, tokens[1:]
        command.make_context(command.name or "", tokens)  # bad options raise here
