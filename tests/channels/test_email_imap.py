"""E-mail in against a real IMAP server (Dovecot), on SQLite and PostgreSQL: threading, auto
mail, stored before acknowledged, one broken e-mail among good ones, IDLE, a server away."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select, update

from gracedesk.channels.email.inbox import accept_mail, fetch_all, fetch_mailbox, idle
from gracedesk.channels.email.mailboxes import MailboxConfig, add_mailbox, get_mailbox
from gracedesk.channels.email.threads import reply_token
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.store import Store
from gracedesk.store.tables import Conversation, Customer, Message

from .conftest import NOW, make_user
from .email_servers import PASSWORD, USER, Dovecot, free_port, mail, running_dovecot

SECRET = "test-secret"
FIRST_ID = "<first@mail.example.com>"


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def new_box(store: Store, imap: Dovecot, *, done: bool = False, **kw: Any) -> MailboxConfig:
    """A mailbox row reading a fresh folder of the test server."""
    folder = imap.folder()
    fields: dict[str, Any] = {
        "name": folder,
        "host": imap.host,
        "port": imap.port,
        "security": "none",
        "username": USER,
        "password": PASSWORD,
        "address": "Acme Support <support@acme.test>",
        "folder": folder,
        "done_folder": f"{folder}-done" if done else None,
        "now": NOW,
    }
    fields.update(kw)
    return add_mailbox(store, **fields)


def deliver(desk: Desk, imap: Dovecot, box: MailboxConfig, raw: bytes, at: Any = NOW) -> Any:
    """The e-mail arrives in the folder; one fetch pass reads it."""
    imap.append(box.folder, raw)
    return fetch_mailbox(desk, box.id, now=at, secret=SECRET)


def message(store: Store, channel_message_id: str) -> Message:
    with store.read() as s:
        m = s.scalar(select(Message).where(Message.channel_message_id == channel_message_id))
        assert m is not None, channel_message_id
        s.expunge(m)
        return m


def count(store: Store) -> int:
    with store.read() as s:
        return len(s.scalars(select(Message.id)).all())


def test_a_new_email_is_stored_then_marked_seen(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    got = deliver(desk, imap, box, mail(message_id=FIRST_ID))
    assert (got.stored, got.duplicates, got.failed, got.error) == (1, 0, 0, None)

    m = message(desk.store, FIRST_ID)
    assert m.text == "The kettle you sold me leaks everywhere. Fix it."
    assert (m.channel, m.author, m.analysis_state) == ("email", "customer", "done")
    assert m.meta is not None and m.meta["message_id"] == FIRST_ID
    assert m.meta["thread"]["rule"] == "new"
    with desk.store.read() as s:
        conv = s.get_one(Conversation, m.conversation_id)
        customer = s.get_one(Customer, conv.customer_id)
        assert (conv.channel, conv.mailbox_id, conv.contact) == (
            "email",
            box.id,
            "carol@example.com",
        )
        assert conv.subject == "My kettle is broken"
        assert (customer.external_id, customer.name, customer.email) == (
            "email:carol@example.com",
            "Carol Customer",
            "carol@example.com",
        )
    assert imap.flags(box.folder) == [(b"\\Seen",)]
    row = get_mailbox(desk.store, box.id)
    assert row.last_checked_at == NOW and row.last_error is None
    assert row.uidvalidity is not None and row.last_uid == 1
    # nothing new: a second pass stores nothing
    assert fetch_mailbox(desk, box.id, now=NOW, secret=SECRET).stored == 0


def _first(desk: Desk, imap: Dovecot, box: MailboxConfig) -> int:
    deliver(desk, imap, box, mail(message_id=FIRST_ID))
    return message(desk.store, FIRST_ID).conversation_id


# (headers and subject of the customer's second e-mail, joins the first conversation?)
THREADING = [
    # In-Reply-To names the first e-mail
    pytest.param({"In-Reply-To": FIRST_ID}, "Re: whatever", True, "in-reply-to", id="in-reply-to"),
    # only References (a client that drops In-Reply-To)
    pytest.param(
        {"References": f"<older@x> {FIRST_ID}"}, "other words", True, "references", id="references"
    ),
    # no headers: our reply token in the subject
    pytest.param({}, "Re: new words {token}", True, "token", id="token"),
    # no headers, no token: the same subject from the same customer
    pytest.param({}, "RE: Fwd: My kettle is broken", True, "subject", id="subject"),
    # a token whose HMAC does not verify is refused, even with the same subject
    pytest.param({}, "Re: My kettle is broken {forged}", False, "new", id="forged-token"),
    # another subject, no headers: a new conversation
    pytest.param({}, "My toaster is broken too", False, "new", id="unrelated"),
]


@pytest.mark.parametrize(("headers", "subject", "joins", "rule"), THREADING)
def test_threading(
    desk: Desk, imap: Dovecot, headers: dict[str, str], subject: str, joins: bool, rule: str
) -> None:
    box = new_box(desk.store, imap)
    conv_id = _first(desk, imap, box)
    token = reply_token(SECRET, conv_id)
    forged = token[:-9] + "00000000]"
    subject = subject.format(token=token, forged=forged)
    deliver(desk, imap, box, mail(subject=subject, headers=headers, message_id="<second@x>"))

    second = message(desk.store, "<second@x>")
    assert (second.conversation_id == conv_id) is joins
    assert second.meta is not None and second.meta["thread"]["rule"] == rule
    if subject.endswith(forged):
        assert "refused: bad HMAC" in second.meta["thread"]["reason"]


def test_a_reply_to_an_imported_message_joins_its_conversation(desk: Desk, imap: Dovecot) -> None:
    """Rule 1 also finds messages of other channels by ``meta.message_id`` (an archive)."""
    ref = CustomerRef("email:carol@example.com", name="Carol")
    old = Incoming(ref, "Old complaint.", channel="import", meta={"message_id": "<imported@x>"})
    conv_id = desk.post_message(old, actor=None, now=NOW).conversation_id
    box = new_box(desk.store, imap)
    raw = mail(headers={"In-Reply-To": "<imported@x>"}, message_id="<r@x>", subject="Hello")
    deliver(desk, imap, box, raw)
    assert message(desk.store, "<r@x>").conversation_id == conv_id
    # an id nobody stored: a new conversation
    deliver(desk, imap, box, mail(headers={"In-Reply-To": "<nobody@x>"}, message_id="<n@x>"))
    assert message(desk.store, "<n@x>").conversation_id != conv_id


def test_subject_fallback_ends_a_week_after_resolution(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    conv_id = _first(desk, imap, box)
    with desk.store.write() as s:
        s.execute(
            update(Conversation)
            .where(Conversation.id == conv_id)
            .values(status="resolved", resolved_at=NOW - timedelta(days=8))
        )
    deliver(desk, imap, box, mail(subject="Re: My kettle is broken", message_id="<late@x>"))
    assert message(desk.store, "<late@x>").conversation_id != conv_id


def test_another_customers_thread_is_not_joined(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    conv_id = _first(desk, imap, box)
    raw = mail(sender="mallory@example.org", headers={"In-Reply-To": FIRST_ID}, message_id="<m@x>")
    deliver(desk, imap, box, raw)
    m = message(desk.store, "<m@x>")
    assert m.conversation_id != conv_id
    assert m.meta is not None and "another customer" in m.meta["thread"]["reason"]


def _sent_reply(desk: Desk, conv_id: int) -> str:
    """An agent's reply in the conversation, recorded as sent with its signed Message-ID."""
    from gracedesk.channels.delivery import _outgoing
    from gracedesk.channels.email.outbox import reply_id
    from gracedesk.service import actions
    from gracedesk.store.tables import Delivery

    agent, _ = make_user(desk.store, "ann", "agent")
    mid = actions.send_reply(desk, conv_id, "A new kettle ships today.", user=agent, now=NOW)[
        "message_id"
    ]
    with desk.store.write() as s:
        d = s.scalars(select(Delivery).where(Delivery.message_id == mid)).one()
        d.state, d.remote_id = (
            "sent",
            reply_id(_outgoing(s.connection(), d), "support@acme.test", SECRET),
        )
        return str(d.remote_id)


def test_a_forged_bounce_cannot_enter_another_customers_conversation(
    desk: Desk, imap: Dovecot
) -> None:
    box = new_box(desk.store, imap)
    conv_id = _first(desk, imap, box)
    forged = EmailMessage()
    forged["From"] = "mailer-daemon@attacker.example"
    forged["Subject"] = "Undelivered Mail Returned to Sender"
    forged["Message-ID"] = "<forged@x>"
    forged["References"] = FIRST_ID  # the victim's own message id, and a guessed reply id:
    forged["In-Reply-To"] = f"<gd.reply.1.{conv_id}@acme.test>"
    forged.set_content("Your account will be closed, call +1 555 0100.")
    deliver(desk, imap, box, forged.as_bytes())
    m = message(desk.store, "<forged@x>")
    assert m.conversation_id != conv_id and m.analysis_state == "none"


def test_auto_reply_and_bounce_are_stored_not_analysed(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    conv_id = _first(desk, imap, box)
    ooo = mail(
        subject="Out of office: My kettle is broken",
        body="I am away until Monday. I hate waiting.",
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": FIRST_ID},
        message_id="<ooo@x>",
    )
    deliver(desk, imap, box, ooo)
    ours = _sent_reply(desk, conv_id)
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.example.com"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = "<bounce@x>"
    bounce.set_content("This is the mail system. Your message could not be delivered.")
    returned = EmailMessage()
    returned["Message-ID"] = ours  # the signed id of our reply, which the bounce returns
    returned["References"] = FIRST_ID
    returned.set_content("our reply")
    bounce.add_attachment(returned)
    bounce.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"')
    deliver(desk, imap, box, bounce.as_bytes())

    for mid, kind in (("<ooo@x>", "auto-reply"), ("<bounce@x>", "bounce")):
        m = message(desk.store, mid)
        assert m.analysis_state == "none" and m.signals is None
        assert m.meta is not None and m.meta["auto"] == kind
        assert m.conversation_id == conv_id  # the bounce joins the thread of the mail it returns
    assert imap.flags(box.folder) == [(b"\\Seen",)] * 3


def test_a_crash_between_store_and_acknowledge_stores_once(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    raw = mail(message_id=FIRST_ID)
    imap.append(box.folder, raw)
    # what a pass does up to the crash: the e-mail is committed, the server never told
    assert accept_mail(desk, raw, mailbox_id=box.id, now=NOW, secret=SECRET) is not None
    assert imap.flags(box.folder) == [()]

    again = fetch_mailbox(desk, box.id, now=NOW + timedelta(minutes=1), secret=SECRET)
    assert (again.stored, again.duplicates) == (0, 1)
    assert count(desk.store) == 1
    assert imap.flags(box.folder) == [(b"\\Seen",)]


def test_processed_mail_moves_to_the_done_folder(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap, done=True)
    # read by a person in their mail client before the desk saw it: still unprocessed
    imap.append(box.folder, mail(message_id="<read@x>"))
    with imap.session() as c:
        c.select_folder(box.folder)
        c.add_flags(c.search(["ALL"]), [b"\\Seen"])
    got = deliver(desk, imap, box, mail(message_id="<new@x>", subject="Another one"))
    assert got.stored == 2
    assert imap.flags(box.folder) == []
    assert imap.flags(str(box.done_folder)) == [(b"\\Seen",), (b"\\Seen",)]


def test_one_broken_email_does_not_block_the_others(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    imap.append(box.folder, b"Subject: no sender\r\nMessage-ID: <broken@x>\r\n\r\nhello\r\n")
    got = deliver(desk, imap, box, mail(message_id="<good@x>"))
    assert (got.stored, got.failed) == (1, 1)
    assert "UID 1" in got.problems[0] and "names no sender" in got.problems[0]
    assert imap.flags(box.folder) == [(), (b"\\Seen",)]  # the broken one waits, unread
    row = get_mailbox(desk.store, box.id)
    assert row.last_error is not None and "UID 1" in row.last_error


def test_idle_picks_up_mail_appended_while_waiting(desk: Desk, imap: Dovecot) -> None:
    box = new_box(desk.store, imap)
    stop = threading.Event()
    worker = threading.Thread(
        target=idle,
        args=(desk, box.id),
        kwargs={"secret": SECRET, "stop": stop, "timeout": 60, "clock": lambda: NOW},
        daemon=True,
    )
    worker.start()
    try:
        _until(lambda: get_mailbox(desk.store, box.id).last_checked_at is not None)
        time.sleep(0.3)  # in IDLE by now
        t0 = time.monotonic()
        imap.append(box.folder, mail(message_id=FIRST_ID))
        _until(lambda: count(desk.store) == 1)
        assert time.monotonic() - t0 < 10  # IDLE woke it; a poll would wait 60 s
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert imap.flags(box.folder) == [(b"\\Seen",)]


def _until(check: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"port": None}, "ConnectionRefusedError"),  # nothing listens
        ({"password": "wrong"}, "LoginError"),  # the server refuses the login
    ],
)
def test_a_mailbox_that_cannot_be_read_says_why(
    desk: Desk, imap: Dovecot, change: dict[str, Any], error: str
) -> None:
    if change.get("port", 1) is None:
        change = {"port": free_port()}
    box = new_box(desk.store, imap, **change)
    good = new_box(desk.store, imap)
    imap.append(good.folder, mail(message_id=FIRST_ID))
    assert fetch_all(desk, now=NOW, secret=SECRET) == 1  # the other mailbox is still read
    row = get_mailbox(desk.store, box.id)
    assert row.last_checked_at == NOW
    assert row.last_error is not None and error in row.last_error
