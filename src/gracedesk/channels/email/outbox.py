"""E-mail out: an agent's reply sent by SMTP, threaded so the customer's client shows one thread.

Headers of every reply (:func:`reply_message`):

- ``From``: the conversation's mailbox address (``GRACEDESK_SMTP_SENDER`` when it has none),
  display name "<agent> (<the address's display name>)";
- ``To``: the conversation's contact; ``Subject``: ``Re: <subject> [#GD<id>-<hmac>]``;
- ``Message-ID``: ``<gd.reply.<message id>.<conversation id>.<HMAC>@<domain of From>>``, the same on
  every attempt, so a reply sent again after a crash is shown once;
- ``In-Reply-To``: the thread's last Message-ID; ``References``: the thread's Message-IDs;
- no ``Auto-Submitted``: a human wrote it, and the customer's auto-responders may answer it.

The envelope sender is the mailbox address, so bounces come back to the mailbox and are stored
in the conversation (:mod:`.inbox`). Errors become ``DeliveryError``: a server away, a timeout
or a 4xx answer may pass later (``retryable``); a 5xx refusal will not.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from typing import TYPE_CHECKING

from gracedesk.channels.delivery import Outgoing
from gracedesk.channels.email.mailboxes import support_address
from gracedesk.channels.email.parse import message_ids
from gracedesk.channels.email.threads import normalise_subject, reply_token
from gracedesk.channels.smtp import SmtpSettings
from gracedesk.errors import DeliveryError, InvalidInput
from gracedesk.store import mailboxes as stored_mailboxes

if TYPE_CHECKING:
    from gracedesk.settings import Settings
    from gracedesk.store import Store

MAX_REFERENCES = 50  # the first id and the newest ones (RFC 5322 allows trimming the middle)
DEFAULT_SUBJECT = "Your message"


def _clean(value: str | None) -> str:
    """One line of header text (CR/LF could inject headers)."""
    return " ".join((value or "").split())


def _domain(address: str) -> str:
    domain = address.rpartition("@")[2].strip().lower()
    ok = domain and all(c.isalnum() or c in ".-" for c in domain)
    return domain if ok else "gracedesk.invalid"


def reply_id(out: Outgoing, from_address: str, secret: str) -> str:
    """The reply's Message-ID: deterministic, so a retry carries the same one, and signed
    (an HMAC of the ids), so nobody can forge the id of one of our replies: a bounce that
    returns it may join another sender's conversation (threads.find_thread)."""
    ids = f"{out.message_id}.{out.conversation_id}"
    sig = hmac.new(secret.encode("utf-8"), f"reply:{ids}".encode(), hashlib.sha256).hexdigest()
    return f"<gd.reply.{ids}.{sig[:16]}@{_domain(from_address)}>"


def reply_subject(subject: str | None, token: str) -> str:
    return f"Re: {normalise_subject(_clean(subject)) or DEFAULT_SUBJECT} {token}"


def references(thread: tuple[str, ...]) -> list[str]:
    """The thread's well-formed Message-IDs, the first and the newest when there are many."""
    ids = [i for i in thread if message_ids(i) == (i,)]
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return ids


def reply_message(out: Outgoing, *, from_address: str, secret: str) -> EmailMessage:
    """The e-mail for one reply (``from_address`` as the mailbox stores it)."""
    company, addr = support_address(from_address)
    names = [n for n in (_clean(out.agent_name), _clean(company)) if n]
    display = f"{names[0]} ({names[1]})" if len(names) == 2 else (names[0] if names else "")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display, addr_spec=addr)
    msg["To"] = Address(_clean(out.customer_name), addr_spec=_recipient(out.target))
    msg["Subject"] = reply_subject(out.subject, reply_token(secret, out.conversation_id))
    when = out.sent_at
    msg["Date"] = format_datetime(when) if when is not None else formatdate(usegmt=True)
    msg["Message-ID"] = reply_id(out, addr, secret)
    thread = references(out.thread)
    if thread:
        msg["In-Reply-To"] = thread[-1]
        msg["References"] = " ".join(thread)
    msg.set_content(out.text)
    return msg


def _recipient(target: str | None) -> str:
    if not target:
        raise DeliveryError("the reply has no e-mail address to go to", retryable=False)
    addr = target.strip()
    if addr.count("@") != 1 or any(c.isspace() or c in "<>,;" for c in addr):
        raise DeliveryError(f"not one e-mail address: {target!r}", retryable=False)
    return addr


def _refused(exc: smtplib.SMTPRecipientsRefused) -> DeliveryError:
    codes = [code for code, _ in exc.recipients.values()]
    detail = ", ".join(
        f"{a} ({c} {r.decode('utf-8', 'replace')})" for a, (c, r) in exc.recipients.items()
    )
    return DeliveryError(f"recipient refused: {detail}", retryable=min(codes, default=500) < 500)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class SmtpTransport:
    """``Transport`` for e-mail conversations: one SMTP session per reply."""

    def __init__(self, smtp: SmtpSettings, store: Store, *, secret: str) -> None:
        self.smtp = smtp
        self.store = store
        self.secret = secret

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> SmtpTransport | None:
        """The transport for ``GRACEDESK_SMTP_*``; None when no SMTP host is set."""
        smtp = SmtpSettings.of(settings)
        return None if smtp is None else cls(smtp, store, secret=settings.session_key())

    def from_address(self, mailbox_id: int | None) -> str:
        """The conversation's mailbox address, else the configured sender."""
        if mailbox_id is not None:
            with self.store.read_core() as conn:
                box = stored_mailboxes.get(conn, mailbox_id)
                if box is not None:
                    return str(box.address)
        return self.smtp.sender

    def send(self, out: Outgoing) -> str:
        """Send the reply; returns its Message-ID (kept as the delivery's remote id)."""
        if out.kind != "reply":
            raise DeliveryError(f"e-mail sends replies, not {out.kind}s", retryable=False)
        address = self.from_address(out.mailbox_id)
        try:
            msg = reply_message(out, from_address=address, secret=self.secret)
            envelope_from = support_address(address)[1]
        except InvalidInput as exc:  # the mailbox's address is not one
            raise DeliveryError(exc.message, retryable=False) from exc
        except (ValueError, IndexError, HeaderParseError) as exc:  # headers cannot carry it
            raise DeliveryError(f"cannot address the reply: {exc}", retryable=False) from exc
        self._submit(msg, envelope_from, _recipient(out.target))
        return str(msg["Message-ID"])

    def _submit(self, msg: EmailMessage, sender: str, to: str) -> None:
        s = self.smtp
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as conn:
                if s.starttls:
                    conn.starttls(context=ssl.create_default_context())
                if s.username is not None:
                    conn.login(s.username, s.password or "")
                conn.send_message(msg, from_addr=sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc) from exc
        except smtplib.SMTPAuthenticationError as exc:  # the settings can be fixed: try again
            raise DeliveryError(f"SMTP login refused: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            text = _text(exc.smtp_error)
            raise DeliveryError(
                f"SMTP {exc.smtp_code} {text}"[:500], retryable=exc.smtp_code < 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, disconnected
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
