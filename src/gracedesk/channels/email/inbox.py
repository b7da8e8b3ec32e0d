"""E-mail in: read IMAP mailboxes into the desk, stored before acknowledged.

For every message of the folder still to read (unseen; every message when a done folder is
set, since everything left in the folder is then unprocessed), one pass (:func:`fetch_mailbox`):

1. fetches it with ``BODY.PEEK[]`` (reading never marks it ``\\Seen``);
2. parses and threads it (:mod:`.parse`, :mod:`.threads`) and stores it with
   ``Desk.post_message``, which commits before it returns;
3. only then acknowledges it: ``\\Seen``, and moved to the done folder when one is set.

A crash between 2 and 3 leaves the message unread on the server; the next pass reads it again
and finds its Message-ID already stored (``channel_message_id``), so it only acknowledges it.
A message that cannot be stored (the desk refuses it, the database is away, a parser bug) is
logged, named in the mailbox's ``last_error``, and left unread where it is, so the next pass
tries it again; the other messages go on. The pass records ``last_checked_at``,
``last_error``, ``uidvalidity`` and ``last_uid`` (the highest UID handled) on the mailbox.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from gracedesk.channels.email.mailboxes import MailboxConfig, get_mailbox, list_mailboxes
from gracedesk.channels.email.parse import ParsedMail, parse_mail
from gracedesk.channels.email.threads import ThreadMatch, find_thread, normalise_subject
from gracedesk.errors import ChannelError, Conflict, NotFound
from gracedesk.service.desk import CustomerRef, Incoming, Link, Posted
from gracedesk.store import mailboxes as stored_mailboxes
from gracedesk.store import threads as stored_threads

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from gracedesk.service.desk import Desk

log = logging.getLogger("gracedesk.email")

IMAP_ERRORS = (imaplib.IMAP4.error, OSError)  # imapclient's errors derive from IMAP4.error
IMAP_TIMEOUT = 30.0
IDLE_RENEW = 29 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
SEEN, DELETED = b"\\Seen", b"\\Deleted"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one pass over a mailbox did."""

    mailbox: str
    stored: int = 0  # new messages stored
    duplicates: int = 0  # already stored (a re-read after a crash): only acknowledged
    failed: int = 0  # left unread on the server, tried again next pass
    error: str | None = None  # the mailbox could not be read at all
    problems: tuple[str, ...] = ()  # one line per failed message

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    def summary(self) -> str:
        line = f"{self.mailbox}: {self.stored} stored, {self.duplicates} already stored"
        line += f", {self.failed} failed"
        return line + (f" ({self.error})" if self.error else "")


# -- one e-mail into the desk ---------------------------------------------------------------------


def accept_mail(
    desk: Desk, raw: bytes, *, mailbox_id: int | None, now: datetime, secret: str
) -> Posted | None:
    """Store one raw e-mail in its conversation; None when it is already stored.

    The Message-ID is looked up before threading: read again, the same e-mail could now thread
    into the conversation its first reading opened, and the desk would refuse that different
    request under the same channel message id (409) instead of treating it as a replay."""
    mail = parse_mail(raw)
    if not mail.from_address:
        raise ChannelError("the e-mail names no sender address (From)")
    with desk.store.read_core() as conn:
        if stored_threads.stored_email(conn, mail.channel_message_id):
            return None
        customer_id = stored_threads.customer_id(conn, customer_key(mail.from_address))
        match = find_thread(conn, mail, customer_id, now=now, secret=secret)
    try:
        return desk.post_message(incoming(mail, match, mailbox_id), actor=None, now=now)
    except Conflict:  # another reader stored the same Message-ID a moment ago
        log.info("e-mail %s was stored by another reader", mail.channel_message_id)
        return None


def customer_key(address: str) -> str:
    return f"email:{address.lower()}"


def incoming(mail: ParsedMail, match: ThreadMatch, mailbox_id: int | None) -> Incoming:
    """The desk's view of an e-mail: customer, text, thread, metadata; auto mail not analysed."""
    if match.customer_external_id is not None:  # a bounce in another customer's conversation
        customer = CustomerRef(match.customer_external_id)
    else:
        addr = mail.from_address
        customer = CustomerRef(customer_key(addr), name=mail.from_name, email=addr)
    contact = None if mail.auto == "bounce" else mail.from_address
    return Incoming(
        customer=customer,
        text=mail.text,
        channel="email",
        conversation_id=match.conversation_id,
        channel_message_id=mail.channel_message_id,
        subject=normalise_subject(mail.subject)[:300] or None,
        link=Link(mailbox_id=mailbox_id, contact=contact),
        meta={**mail.meta(), "thread": match.to_dict()},
        analyse=mail.auto is None,
    )


# -- IMAP -----------------------------------------------------------------------------------------


def connect(box: MailboxConfig, *, timeout: float = IMAP_TIMEOUT) -> IMAPClient:
    """A logged-in IMAP connection (TLS from the start, STARTTLS, or plain as configured)."""
    # lazy: imapclient only where a mailbox is read
    from imapclient import IMAPClient

    context = ssl.create_default_context()
    client = IMAPClient(
        box.host,
        port=box.port,
        ssl=box.security == "ssl",
        ssl_context=context if box.security == "ssl" else None,
        timeout=timeout,
    )
    try:
        if box.security == "starttls":
            client.starttls(context)
        client.login(box.username, box.password)
    except BaseException:
        client.shutdown()
        raise
    return client


@contextmanager
def _session(box: MailboxConfig) -> Iterator[IMAPClient]:
    client = connect(box)
    try:
        yield client
    finally:
        try:
            client.logout()
        except IMAP_ERRORS:  # the server went away first: nothing left to close
            client.shutdown()


def _int32(value: int | None) -> int | None:
    """A 32-bit unsigned IMAP number as the INTEGER column holds it (two's complement)."""
    return None if value is None else (value - 2**32 if value >= 2**31 else value)


def _acknowledge(client: IMAPClient, box: MailboxConfig, uid: int) -> None:
    """``\\Seen``; then moved to the done folder (MOVE, else COPY + ``\\Deleted`` + EXPUNGE)."""
    client.add_flags([uid], [SEEN])
    if not box.done_folder:
        return
    if client.has_capability("MOVE"):
        client.move([uid], box.done_folder)
        return
    client.copy([uid], box.done_folder)
    client.add_flags([uid], [DELETED])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


def _take_one(
    desk: Desk, box: MailboxConfig, client: IMAPClient, uid: int, *, now: datetime, secret: str
) -> str:
    """``stored`` | ``duplicate`` | ``gone``; raises when the message could not be stored."""
    raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
    if raw is None:  # expunged by someone else since the search
        return "gone"
    posted = accept_mail(desk, bytes(raw), mailbox_id=box.id, now=now, secret=secret)
    _acknowledge(client, box, uid)  # only after the commit in accept_mail
    return "duplicate" if posted is None or not posted.created else "stored"


def _pass(
    desk: Desk, box: MailboxConfig, client: IMAPClient, *, now: datetime, secret: str
) -> FetchResult:
    """One pass over the selected folder. IMAP errors propagate (the connection is gone)."""
    status = client.select_folder(box.folder)
    uidvalidity = int(status[b"UIDVALIDITY"])
    if box.done_folder and not client.folder_exists(box.done_folder):
        client.create_folder(box.done_folder)
    criteria = ["NOT", "DELETED"] if box.done_folder else ["UNSEEN"]
    counts = {"stored": 0, "duplicate": 0, "gone": 0}
    problems: list[str] = []
    last_uid = None
    for uid in sorted(client.search(criteria)):
        try:
            outcome = _take_one(desk, box, client, uid, now=now, secret=secret)
        except IMAP_ERRORS:
            raise
        except Exception as exc:  # one broken e-mail must not block the others: logged, kept
            log.exception("mailbox %s: message UID %s not stored", box.name, uid)
            problems.append(f"UID {uid}: {type(exc).__name__}: {exc}"[:300])
            continue
        counts[outcome] += 1
        last_uid = max(uid, last_uid or 0)
    result = FetchResult(
        box.name,
        stored=counts["stored"],
        duplicates=counts["duplicate"],
        failed=len(problems),
        problems=tuple(problems),
    )
    _record(desk, box, now=now, result=result, uidvalidity=uidvalidity, last_uid=last_uid)
    return result


def _record(
    desk: Desk,
    box: MailboxConfig,
    *,
    now: datetime,
    result: FetchResult,
    uidvalidity: int | None = None,
    last_uid: int | None = None,
) -> None:
    """The pass's outcome on the mailbox row (``last_error`` None when it went well)."""
    error = result.error or ("; ".join(result.problems) if result.problems else None)
    try:
        with desk.store.write_core() as conn:
            row = stored_mailboxes.get(conn, box.id)
            if row is None:  # removed while being read
                return
            validity, last = row.uidvalidity, row.last_uid
            if uidvalidity is not None:
                if validity is not None and validity != _int32(uidvalidity):
                    log.info("mailbox %s: UIDVALIDITY changed; UIDs start over", box.name)
                    last = None
                validity = _int32(uidvalidity)
            if last_uid is not None:
                last = max(_int32(last_uid) or 0, last or 0)
            stored_mailboxes.record_pass(
                conn,
                box.id,
                now=now,
                error=error[:2000] if error else None,
                uidvalidity=validity,
                last_uid=last,
            )
    except SQLAlchemyError:  # the status is informative; the messages themselves are stored
        log.exception("mailbox %s: status not recorded", box.name)


def fetch_mailbox(desk: Desk, mailbox_id: int, *, now: datetime, secret: str) -> FetchResult:
    """One pass over a mailbox: new e-mails stored, then acknowledged on the server."""
    box = get_mailbox(desk.store, mailbox_id)
    if not box.active:
        return FetchResult(box.name, error="the mailbox is deactivated (removed)")
    try:
        with _session(box) as client:
            return _pass(desk, box, client, now=now, secret=secret)
    except IMAP_ERRORS as exc:
        return _failed(desk, box, exc, now=now)


def _failed(desk: Desk, box: MailboxConfig, exc: BaseException, *, now: datetime) -> FetchResult:
    log.warning("mailbox %s (%s:%s) not read: %s", box.name, box.host, box.port, exc)
    result = FetchResult(box.name, error=f"{type(exc).__name__}: {exc}"[:500])
    _record(desk, box, now=now, result=result)
    return result


def fetch_all(desk: Desk, *, now: datetime, secret: str) -> int:
    """One pass over every active mailbox; returns how many new e-mails were stored."""
    stored = 0
    for box in list_mailboxes(desk.store, active_only=True):
        try:
            stored += fetch_mailbox(desk, box.id, now=now, secret=secret).stored
        except NotFound:  # removed since the list was read
            continue
    return stored


# -- IDLE -----------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_mail(responses: list[Any]) -> bool:
    return any(
        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses
    )


def wait_for_mail(client: IMAPClient, stop: threading.Event, timeout: float) -> bool:
    """Wait up to ``timeout`` s in IMAP IDLE for new mail (True when some came); without IDLE,
    just wait (polling). Returns early when ``stop`` is set (checked every second)."""
    if not client.has_capability("IDLE"):
        stop.wait(timeout)
        return False
    client.idle()
    try:
        deadline = time.monotonic() + min(timeout, IDLE_RENEW)
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if _new_mail(client.idle_check(timeout=min(1.0, left))):
                return True
        return False
    finally:
        client.idle_done()


def idle(
    desk: Desk,
    mailbox_id: int,
    *,
    secret: str,
    stop: threading.Event,
    timeout: float,
    clock: Callable[[], datetime] = _utc_now,
) -> None:
    """Read the mailbox, then wait for new mail (IDLE where offered, else a poll every
    ``timeout`` s) and read again, until ``stop`` is set. A lost connection is logged and
    recorded on the mailbox, then opened again after ``timeout`` s."""
    while not stop.is_set():
        try:
            box = get_mailbox(desk.store, mailbox_id)
        except NotFound:
            log.warning("mailbox %s was removed: no longer read", mailbox_id)
            return
        except SQLAlchemyError:  # the database is away: try again later
            log.exception("mailbox %s: not read", mailbox_id)
            stop.wait(timeout)
            continue
        if not box.active:
            log.warning("mailbox %s is deactivated: not read", box.name)
            return
        try:
            with _session(box) as client:
                while not stop.is_set():
                    _pass(desk, box, client, now=clock(), secret=secret)
                    wait_for_mail(client, stop, timeout)
        except IMAP_ERRORS as exc:
            _failed(desk, box, exc, now=clock())
            stop.wait(timeout)
