"""E-mail out against a real SMTP server (aiosmtpd): the exact headers of a reply, errors
told apart (retry or give up), and the full round trip through a real IMAP server."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gracedesk.channels.delivery import Outgoing, Transports, deliver_replies
from gracedesk.channels.email.inbox import fetch_mailbox
from gracedesk.channels.email.mailboxes import add_mailbox
from gracedesk.channels.email.outbox import SmtpTransport, reply_id, reply_message
from gracedesk.channels.email.threads import reply_token
from gracedesk.channels.smtp import SmtpSettings
from gracedesk.errors import DeliveryError
from gracedesk.service import actions
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import Delivery, Message

from .conftest import NOW, make_user
from .email_servers import (
    PASSWORD,
    USER,
    Dovecot,
    SmtpCollector,
    free_port,
    mail,
    running_dovecot,
    running_smtp,
)

SECRET = "test-secret"
FIRST_ID = "<first@mail.example.com>"


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def lone_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A SQLite store for transport tests that never look a mailbox up."""
    st = Store.open(f"sqlite:///{Path(tmp_path_factory.mktemp('smtp')) / 'gd.db'}")
    st.migrate()
    yield st
    st.close()


def outgoing(**overrides: Any) -> Outgoing:
    fields: dict[str, Any] = {
        "delivery_id": 1,
        "message_id": 7,
        "conversation_id": 3,
        "transport": "email",
        "target": "carol@example.com",
        "text": "I am sorry about the kettle. A replacement ships today.\n",
        "subject": "My kettle is broken",
        "agent_name": "Ann Lee",
        "customer_external_id": "email:carol@example.com",
        "customer_name": "Carol Customer",
        "customer_email": "carol@example.com",
        "mailbox_id": None,
        "connector_id": None,
        "external_ref": None,
        "thread": (FIRST_ID,),
        "sent_at": NOW,
    }
    fields.update(overrides)
    return Outgoing(**fields)


def transport(store: Store, port: int, sender: str = "Acme Support <help@acme.test>") -> Any:
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender=sender, timeout=5.0)
    return SmtpTransport(smtp, store, secret=SECRET)


def test_the_reply_carries_exact_headers_and_the_same_id_on_a_retry(lone_store: Store) -> None:
    with running_smtp() as (box, port):
        t = transport(lone_store, port)
        first = t.send(outgoing())
        again = t.send(outgoing())  # a retry after a crash before the outbox was told
    assert first == again == reply_id(outgoing(), "help@acme.test", SECRET)
    assert first.startswith("<gd.reply.7.3.") and first.endswith("@acme.test>")
    assert reply_id(outgoing(), "help@acme.test", "another key") != first  # signed
    got = box.received[0]
    assert (got.mail_from, got.rcpt_tos) == ("help@acme.test", ["carol@example.com"])
    m = got.message
    assert m["From"] == '"Ann Lee (Acme Support)" <help@acme.test>'
    assert m["To"] == "Carol Customer <carol@example.com>"
    assert m["Subject"] == f"Re: My kettle is broken {reply_token(SECRET, 3)}"
    assert m["Message-ID"] == first
    assert m["In-Reply-To"] == FIRST_ID
    assert m["References"] == FIRST_ID
    assert m["Auto-Submitted"] is None  # a person wrote it
    assert parsedate_to_datetime(m["Date"]) == NOW
    assert m.get_content() == "I am sorry about the kettle. A replacement ships today.\n"
    assert box.received[1].message["Message-ID"] == first


def test_a_long_thread_keeps_the_first_and_newest_ids_folded() -> None:
    thread = tuple(f"<id{i:03d}.{'x' * 40}@mail.example.com>" for i in range(60))
    m = reply_message(outgoing(thread=thread), from_address="help@acme.test", secret=SECRET)
    raw = m.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    refs = str(m["References"]).split()
    assert len(refs) == 50 and refs[0] == thread[0] and refs[1:] == list(thread[11:])
    assert m["In-Reply-To"] == thread[-1]


def test_header_injection_in_subject_and_names_stays_one_line() -> None:
    out = outgoing(
        subject="Kettle\r\nBcc: everyone@example.com",
        agent_name="Ann\nBcc: x@example.com",
        customer_name="Carol\r\nX-Evil: 1",
    )
    m = reply_message(out, from_address="help@acme.test", secret=SECRET)
    assert m["Bcc"] is None and m["X-Evil"] is None
    assert m["Subject"].startswith("Re: Kettle Bcc: everyone@example.com [#GD3-")


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [
        ("550 5.1.1 <carol@example.com>: no such user", False),  # will never pass
        ("450 4.2.0 mailbox busy, try later", True),  # may pass later
    ],
)
def test_recipient_refusals_are_told_apart(lone_store: Store, answer: str, retryable: bool) -> None:
    refusing = running_smtp(SmtpCollector(answer=answer))
    with refusing as (box, port), pytest.raises(DeliveryError) as info:
        transport(lone_store, port).send(outgoing())
    assert info.value.retryable is retryable
    assert answer[:3] in info.value.message and box.received == []


@pytest.mark.parametrize(
    ("out", "retryable"),
    [
        (outgoing(target=None), False),  # no address
        (outgoing(target="a@example.com, b@example.com"), False),  # not one address
        (outgoing(kind="note"), False),  # an internal note is never e-mailed
    ],
)
def test_replies_that_can_never_be_sent_fail_at_once(
    lone_store: Store, out: Outgoing, retryable: bool
) -> None:
    with running_smtp() as (box, port), pytest.raises(DeliveryError) as info:
        transport(lone_store, port).send(out)
    assert info.value.retryable is retryable and box.received == []


def test_a_server_away_is_retryable(lone_store: Store) -> None:
    with pytest.raises(DeliveryError, match="ConnectionRefusedError") as info:
        transport(lone_store, free_port()).send(outgoing())
    assert info.value.retryable


def test_from_settings(tmp_path: Path, lone_store: Store) -> None:
    assert SmtpTransport.from_settings(Settings(home=tmp_path, secret_key="k"), lone_store) is None
    settings = Settings(
        home=tmp_path, secret_key="k", smtp_host="mx.acme.test", smtp_port=2525, smtp_sender="a@b"
    )
    t = SmtpTransport.from_settings(settings, lone_store)
    assert t is not None
    assert (t.smtp.host, t.smtp.port, t.smtp.sender, t.secret) == ("mx.acme.test", 2525, "a@b", "k")


def _reply_id(store: Store, conv_id: int) -> int:
    with store.read() as s:
        return max(s.scalars(select(Message.id).where(Message.conversation_id == conv_id)))


def test_round_trip_imap_in_reply_out_answer_threaded(desk: Desk, imap: Dovecot) -> None:
    """Customer e-mail in by IMAP -> agent reply -> SMTP -> the customer answers our reply ->
    the same conversation -> the next reply references the whole thread."""
    folder = imap.folder()
    box = add_mailbox(
        desk.store,
        name="support",
        host=imap.host,
        port=imap.port,
        security="none",
        username=USER,
        password=PASSWORD,
        address="Acme Support <support@acme.test>",
        folder=folder,
        now=NOW,
    )
    imap.append(folder, mail(message_id=FIRST_ID))
    assert fetch_mailbox(desk, box.id, now=NOW, secret=SECRET).stored == 1
    with desk.store.read() as s:
        conv_id = s.scalars(select(Message.conversation_id)).one()
    agent, _ = make_user(desk.store, "ann", "agent", display_name="Ann Lee")

    with running_smtp() as (smtp, port):
        transports = Transports(email=transport(desk.store, port, sender="desk@fallback.test"))
        actions.send_reply(
            desk, conv_id, "So sorry. A new kettle ships today.", user=agent, now=NOW
        )
        assert deliver_replies(desk.store, transports, now=NOW) == 1
        [got] = smtp.received
        m = got.message
        sent = str(m["Message-ID"])
        assert sent.startswith(f"<gd.reply.{_reply_id(desk.store, conv_id)}.{conv_id}.")
        assert (got.mail_from, got.rcpt_tos) == ("support@acme.test", ["carol@example.com"])
        assert m["From"] == '"Ann Lee (Acme Support)" <support@acme.test>'
        assert m["To"] == "Carol Customer <carol@example.com>"
        assert m["Subject"] == f"Re: My kettle is broken {reply_token(SECRET, conv_id)}"
        assert (m["In-Reply-To"], m["References"]) == (FIRST_ID, FIRST_ID)
        with desk.store.read() as s:
            d = s.scalars(select(Delivery)).one()
            assert (d.state, d.remote_id) == ("sent", sent)

        # the customer answers our reply; their client keeps only In-Reply-To
        answer = mail(
            subject=f"Re: {m['Subject']}",
            body="It arrived, thanks.\n\nOn Mon, Ann Lee wrote:\n> So sorry.\n",
            headers={"In-Reply-To": sent},
            message_id="<answer@mail.example.com>",
        )
        imap.append(folder, answer)
        later = NOW.replace(hour=10)
        assert fetch_mailbox(desk, box.id, now=later, secret=SECRET).stored == 1
        with desk.store.read() as s:
            a = s.scalars(
                select(Message).where(Message.channel_message_id == "<answer@mail.example.com>")
            ).one()
            assert a.conversation_id == conv_id and a.text == "It arrived, thanks."
            assert a.meta is not None and a.meta["thread"]["rule"] == "in-reply-to"

        actions.send_reply(desk, conv_id, "Glad to hear it.", user=agent, now=later)
        assert deliver_replies(desk.store, transports, now=later) == 1
        second = smtp.received[1].message
        assert second["In-Reply-To"] == "<answer@mail.example.com>"
        assert str(second["References"]).split() == [
            FIRST_ID,
            sent,
            "<answer@mail.example.com>",
        ]
