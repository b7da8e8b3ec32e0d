"""The worker drives the channels: one round reads every IMAP mailbox and sends every queued
reply through its transport, built from settings alone (real Dovecot and aiosmtpd servers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gracedesk.channels.email.mailboxes import add_mailbox
from gracedesk.channels.transports import transports_for
from gracedesk.jobs.worker import notifier_for, run_once
from gracedesk.service import actions
from gracedesk.service.build import build_desk
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import Delivery, Message

from .conftest import NOW, make_user
from .email_servers import PASSWORD, USER, Dovecot, mail, running_dovecot, running_smtp


def _settings(tmp_path: Path, db_url: str, port: int) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=db_url,
        secret_key="worker-secret",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_sender="desk@acme.test",
    )


def desk_for(tmp_path: Path, db_url: str, port: int) -> Desk:
    return build_desk(_settings(tmp_path, db_url, port))


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def test_one_round_reads_the_mailbox_and_delivers_the_reply(
    tmp_path: Path, db_url: str, store: Store, imap: Dovecot
) -> None:
    store.close()  # the fixture emptied (PostgreSQL) or created (SQLite) the database
    with running_smtp() as (smtp, port), ExitStack() as stack:
        desk = desk_for(tmp_path, db_url, port)
        stack.callback(desk.store.close)  # closed even when the test fails
        settings = _settings(tmp_path, db_url, port)
        folder = imap.folder()
        add_mailbox(
            desk.store,
            name="support",
            host=imap.host,
            port=imap.port,
            security="none",
            username=USER,
            password=PASSWORD,
            address="support@acme.test",
            folder=folder,
            now=NOW,
        )
        imap.append(folder, mail(message_id="<w1@mail.example.com>"))
        transports = transports_for(settings, desk.store)

        def round_() -> dict[str, Any]:
            with notifier_for(settings) as notifier:
                return run_once(
                    desk,
                    notifier,
                    now=NOW,
                    transports=transports,
                    mail_secret=settings.session_key(),
                )

        done = round_()
        assert done["mail"] == 1 and done["deliveries"] == 0
        with desk.store.read() as s:
            m = s.scalars(select(Message)).one()
            assert (m.analysis_state, m.channel) == ("done", "email")
        agent, _ = make_user(desk.store, "ann", "agent")
        actions.send_reply(
            desk, m.conversation_id, "A new kettle ships today.", user=agent, now=NOW
        )

        done = round_()
        assert done["mail"] == 0 and done["deliveries"] == 1
        [got] = smtp.received
        assert got.rcpt_tos == ["carol@example.com"]
        assert got.message["In-Reply-To"] == "<w1@mail.example.com>"
        with desk.store.read() as s:
            assert s.scalars(select(Delivery.state)).one() == "sent"
        assert round_()["deliveries"] == 0  # sent once
