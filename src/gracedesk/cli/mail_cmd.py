"""``gracedesk mailboxes add|list|remove`` and ``gracedesk mail fetch``: e-mail in (docs/email.md).

Thin: the mailboxes are validated and stored by ``gracedesk.channels.email.mailboxes``; a fetch
is ``gracedesk.channels.email.inbox``. Settings come from ``GRACEDESK_*`` as for every command.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from gracedesk.cli.desk_cmd import _logging, _settings, _store, home_option
from gracedesk.errors import GracedeskError

if TYPE_CHECKING:
    from gracedesk.channels.email.mailboxes import MailboxConfig
    from gracedesk.service.desk import Desk

DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}


@click.group()
def mailboxes() -> None:
    """IMAP mailboxes the desk reads customers' e-mail from."""


def _password(password: str | None, password_env: str | None) -> str:
    """The password from exactly one of ``--password`` and ``--password-env``."""
    if (password is None) == (password_env is None):
        raise click.UsageError(
            "give the password with exactly one of --password-env VAR or --password"
        )
    if password_env is not None:
        value = os.environ.get(password_env)
        if not value:
            raise click.UsageError(f"--password-env: the variable {password_env} is not set")
        return value
    assert password is not None
    return password


@mailboxes.command("add")
@home_option
@click.argument("name")
@click.option("--host", required=True, help="IMAP server.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Default: 993 with ssl, else 143."
)
@click.option(
    "--security", type=click.Choice(["ssl", "starttls", "none"]), default="ssl", show_default=True
)
@click.option("--username", required=True)
@click.option(
    "--password-env",
    metavar="VAR",
    default=None,
    help="Read the password from this environment variable (kept out of shell history).",
)
@click.option("--password", default=None, help="The password itself.")
@click.option("--folder", default="INBOX", show_default=True, help="The folder read.")
@click.option(
    "--address",
    required=True,
    help='The support address customers write to; replies come from it ("Acme <help@acme.com>" '
    "adds the company to the From name).",
)
@click.option(
    "--done-folder",
    default=None,
    help="Move processed e-mails here (created when missing); default: flag them \\Seen.",
)
def mailboxes_add(
    name: str,
    host: str,
    port: int | None,
    security: str,
    username: str,
    password_env: str | None,
    password: str | None,
    folder: str,
    address: str,
    done_folder: str | None,
) -> None:
    """Add mailbox NAME; `gracedesk mail fetch` reads it from now on."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.email.mailboxes import add_mailbox

    secret = _password(password, password_env)
    store = _store(_settings())
    try:
        box = add_mailbox(
            store,
            name=name,
            host=host,
            port=port or DEFAULT_PORTS[security],
            security=security,
            username=username,
            password=secret,
            address=address,
            folder=folder,
            done_folder=done_folder,
            now=datetime.now(UTC),
        )
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    click.echo(f"added mailbox {box.name!r}: {_where(box)}")


def _where(box: MailboxConfig) -> str:
    done = f" -> {box.done_folder}" if box.done_folder else " (flag \\Seen)"
    return (
        f"{box.username}@{box.host}:{box.port} ({box.security}), {box.folder}{done}, "
        f"replies from {box.address}"
    )


@mailboxes.command("list")
@home_option
def mailboxes_list() -> None:
    """List the mailboxes, with when each was last read and its last error."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.email.mailboxes import list_mailboxes

    store = _store(_settings())
    try:
        boxes = list_mailboxes(store)
    finally:
        store.close()
    if not boxes:
        click.echo("no mailboxes (add one with: gracedesk mailboxes add)")
    for box in boxes:
        state = "active" if box.active else "inactive"
        checked = box.last_checked_at.isoformat() if box.last_checked_at else "never"
        click.echo(f"{box.name}\t{state}\t{_where(box)}\tlast read: {checked}")
        if box.last_error:
            click.echo(f"\tlast error: {box.last_error}")


@mailboxes.command("remove")
@home_option
@click.argument("name")
def mailboxes_remove(name: str) -> None:
    """Stop reading mailbox NAME (kept, inactive, while conversations still use its address)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.email.mailboxes import remove_mailbox

    store = _store(_settings())
    try:
        done = remove_mailbox(store, name)
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    if done == "deleted":
        click.echo(f"removed mailbox {name!r}")
    else:
        click.echo(
            f"deactivated mailbox {name!r}: it is no longer read; its conversations' replies "
            "still come from its address"
        )


@click.group()
def mail() -> None:
    """E-mail: read the mailboxes into the desk."""


def _chosen(desk: Desk, name: str | None) -> list[MailboxConfig]:
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.email.mailboxes import list_mailboxes, mailbox_named

    if name is None:
        return list_mailboxes(desk.store, active_only=True)
    try:
        box = mailbox_named(desk.store, name)
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    if not box.active:
        raise click.ClickException(f"mailbox {name!r} is inactive (removed)")
    return [box]


@mail.command("fetch")
@home_option
@click.option(
    "--mailbox", "name", default=None, help="Only this mailbox (default: every active one)."
)
@click.option(
    "--idle",
    "idle_s",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Then keep waiting for new mail until Ctrl-C: IMAP IDLE where the server offers it, "
    "renewed every SECONDS; a poll every SECONDS otherwise.",
)
def mail_fetch(name: str | None, idle_s: float | None) -> None:
    """Store new e-mail of the mailboxes in the desk, then mark it read (or move it)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.email.inbox import fetch_mailbox
    from gracedesk.service.build import build_desk

    settings = _settings()
    _logging(settings)
    desk = build_desk(settings)
    try:
        boxes = _chosen(desk, name)
        if not boxes:
            click.echo("no active mailboxes (add one with: gracedesk mailboxes add)", err=True)
            return
        if idle_s is not None:
            _idle(desk, boxes, settings.session_key(), idle_s)
            return
        results = [
            fetch_mailbox(desk, b.id, now=datetime.now(UTC), secret=settings.session_key())
            for b in boxes
        ]
    finally:
        desk.store.close()
    for r in results:
        click.echo(r.summary())
        for problem in r.problems:
            click.echo(f"  {problem}", err=True)
    if not all(r.ok for r in results):
        raise SystemExit(1)


def _idle(desk: Desk, boxes: list[MailboxConfig], secret: str, timeout: float) -> None:
    """One thread per mailbox in ``inbox.idle`` until Ctrl-C (or SIGTERM as KeyboardInterrupt)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.email.inbox import idle

    stop = threading.Event()
    threads = [
        threading.Thread(
            target=idle,
            args=(desk, b.id),
            kwargs={"secret": secret, "stop": stop, "timeout": timeout},
            name=f"mail-{b.name}",
            daemon=True,
        )
        for b in boxes
    ]
    for t in threads:
        t.start()
    click.echo(f"waiting for new mail in {len(threads)} mailbox(es); Ctrl-C stops", err=True)
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.5)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join(timeout=10)
