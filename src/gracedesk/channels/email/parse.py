"""An e-mail as the desk reads it: the customer's new words, who wrote, its thread, its files.

``parse_mail(raw)`` is a pure function of the raw bytes (stdlib ``email``, ``policy.default``):

- the body is the ``text/plain`` part, else the ``text/html`` part turned into text by
  ``inscriptis`` (scripts and styles dropped; the HTML is never rendered or executed);
- quoted history ("On ... wrote:", Outlook's "From: ... Sent: ..." block, ``>`` lines) and
  signatures ("-- ", "Regards, ...", "Sent from my iPhone") are cut with ``mail-parser-reply``,
  so the analysis sees what the customer wrote this time, not our own earlier reply;
- attachments are kept as metadata only (file name, content type, size); their bytes are
  dropped here and never stored;
- auto-replies and bounces are recognised from their headers (:func:`auto_kind`), so that an
  out-of-office notice is stored but never analysed as anger.

Everything in an e-mail is untrusted data: header values are decoded and bounded, nothing is
evaluated, and a header the parser cannot read counts as absent.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

log = logging.getLogger("gracedesk.email")

MAX_TEXT = 20_000  # the desk's longest message text (Settings.max_text_chars' default)
MAX_HTML = 2_000_000  # characters of HTML converted; the rest is dropped
MAX_IDS = 100  # Message-IDs kept from References
MAX_ATTACHMENTS = 100
CHANNEL_ID_CHARS = 200  # messages.channel_message_id
# the languages whose reply headers and signatures mail-parser-reply knows
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "da", "sv", "pl", "cs", "ja", "ko", "zh")

_ID = re.compile(r"<[^<>\s]{1,250}>")
_HEADER_ERRORS = (ValueError, IndexError, AttributeError, TypeError, LookupError)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with the e-mail: what it was, never its bytes."""

    filename: str | None
    content_type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str | None  # "<id@host>", None when the e-mail has none
    in_reply_to: str | None
    references: tuple[str, ...]  # oldest first, as in the header
    from_address: str  # "" when the e-mail names no sender
    from_name: str | None
    to: tuple[str, ...]
    subject: str
    date: str | None  # the Date header in ISO 8601, None when missing or unreadable
    text: str  # the customer's new words (quotes and signature cut), never empty
    stripped: bool  # quoted history or a signature was cut
    html_only: bool  # the text comes from an HTML body
    truncated: bool  # the text was longer than MAX_TEXT
    attachments: tuple[Attachment, ...]
    auto: str | None  # "auto-reply" | "bounce" | None
    auto_reason: str | None  # the header that said so
    returned_ids: tuple[str, ...]  # a bounce: the Message-ID and References of the returned mail
    sha256: str  # of the raw bytes

    @property
    def channel_message_id(self) -> str:
        """The idempotency key: the Message-ID (hashed when over the column), else the bytes'
        SHA-256, so that reading the same e-mail again stores nothing new."""
        if self.message_id is None:
            return f"sha256:{self.sha256}"
        return channel_id(self.message_id)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The Message-IDs this e-mail answers, the most recent first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += reversed(self.references)
        ids += self.returned_ids
        return tuple(dict.fromkeys(i for i in ids if i))

    def meta(self) -> dict[str, Any]:
        """What is kept with the stored message (the delivery reads ``message_id``)."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "from": self.from_address,
            "from_name": self.from_name,
            "to": list(self.to),
            "subject": self.subject,
            "date": self.date,
            "attachments": [a.to_dict() for a in self.attachments],
        }
        if self.message_id is None:
            out["sha256"] = self.sha256
        if self.auto is not None:
            out["auto"] = self.auto
            out["auto_reason"] = self.auto_reason
        if self.stripped:
            out["stripped"] = True
        if self.html_only:
            out["html_only"] = True
        if self.truncated:
            out["truncated"] = True
        return out


def channel_id(message_id: str) -> str:
    """A Message-ID as ``messages.channel_message_id`` holds it (200 characters at most)."""
    if len(message_id) <= CHANNEL_ID_CHARS:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def parse_mail(raw: bytes) -> ParsedMail:
    """Read one e-mail (its raw RFC 5322 bytes, as IMAP returns them)."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)  # policy.default builds EmailMessage objects
    from_name, from_address = _sender(msg)
    subject = _one_line(header(msg, "Subject"))[:998]
    body, html_only = _body(msg)
    text, stripped = strip_reply(body)
    auto, reason = auto_kind(msg, from_address)
    text = text or subject or "(an e-mail without text)"
    ids = message_ids(header(msg, "Message-ID"))
    replied = message_ids(header(msg, "In-Reply-To"))
    return ParsedMail(
        message_id=ids[0] if ids else None,
        in_reply_to=replied[-1] if replied else None,
        references=message_ids(header(msg, "References"))[-MAX_IDS:],
        from_address=from_address,
        from_name=from_name,
        to=tuple(a for _, a in _addresses(header(msg, "To")))[:MAX_IDS],
        subject=subject,
        date=_date(header(msg, "Date")),
        text=text[:MAX_TEXT],
        stripped=stripped,
        html_only=html_only,
        truncated=len(text) > MAX_TEXT,
        attachments=tuple(_attachments(msg))[:MAX_ATTACHMENTS],
        auto=auto,
        auto_reason=reason,
        returned_ids=_returned_ids(msg) if auto == "bounce" else (),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


# -- headers --------------------------------------------------------------------------------------


def header(msg: Message, name: str) -> str:
    """A header's decoded value, ``""`` when it is missing or cannot be read."""
    try:
        value = msg.get(name)
    except _HEADER_ERRORS as exc:  # a malformed header is treated as absent, and said so
        log.info("unreadable %s header: %s", name, exc)
        return ""
    return "" if value is None else str(value)


def message_ids(value: str) -> tuple[str, ...]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References header, in order.

    A bare ``id@host`` without angle brackets (some clients write that) counts as one id."""
    found = tuple(_ID.findall(value))
    bare = value.strip()
    if not found and bare and "@" in bare and not any(c in bare for c in " \t<>,;"):
        return (f"<{bare[:248]}>",)
    return found


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _addresses(value: str) -> list[tuple[str, str]]:
    """``(display name, address)`` pairs that look like an address (one ``@``, no spaces)."""
    out = []
    for name, addr in getaddresses([value]):
        addr = addr.strip()
        if addr.count("@") == 1 and len(addr) <= 254 and not any(c.isspace() for c in addr):
            out.append((_one_line(name)[:200], addr))
    return out


def _sender(msg: Message) -> tuple[str | None, str]:
    found = _addresses(header(msg, "From"))
    if not found:
        return None, ""
    name, addr = found[0]
    return name or None, addr


def _date(value: str) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# -- body -----------------------------------------------------------------------------------------


def _content(part: Message) -> str:
    """A text part decoded by its charset; an unknown charset is read as UTF-8 (replaced)."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, KeyError) as exc:
        log.info("text part decoded as UTF-8: %s", exc)
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (``inscriptis``: layout kept, scripts/styles dropped)."""
    # lazy: a heavy parser, needed only for some e-mails
    from inscriptis import get_text

    html = html[:MAX_HTML]
    if not html.strip():
        return ""
    try:
        return str(get_text(html))
    except (ValueError, TypeError) as exc:  # lxml refused the markup: tags dropped crudely
        log.info("HTML body not parsed (%s); tags removed instead", exc)
        return re.sub(r"<[^>]*>", " ", html)


def _body(msg: EmailMessage) -> tuple[str, bool]:
    """``(text, html_only)``: the plain-text body, else the HTML body as text."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", False
    content = _content(part)
    if part.get_content_type() == "text/html":
        return html_to_text(content), True
    return content, False


def strip_reply(text: str) -> tuple[str, bool]:
    """The newest reply of a mail body without quoted history or signature, and whether
    anything was cut. When cutting would leave nothing, the whole body is kept."""
    # lazy: a heavy parser, needed only for some e-mails
    from mailparser_reply.parser import EmailMessage as ReplyParser

    body = text.replace("\r\n", "\n").strip()
    if not body:
        return "", False
    # keep_hyphen_lists: a customer's "- item" list is their complaint, not a signature
    parsed = ReplyParser(text=body, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    newest = str(parsed.replies[0].body).strip() if parsed.replies else ""
    unquoted = "\n".join(ln for ln in newest.splitlines() if not ln.lstrip().startswith(">"))
    newest = unquoted.strip() or newest
    if not newest:
        return body, False
    normal = "\n".join(ln.strip() for ln in body.splitlines()).strip()
    return newest, newest != normal


# -- attachments ----------------------------------------------------------------------------------


def _is_body_text(part: Message) -> bool:
    """A text part without a file name that is not marked as an attachment: a body."""
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_filename() is None
        and part.get_content_disposition() != "attachment"
    )


def _size(part: Message) -> int:
    if part.get_content_maintype() == "message":
        try:
            return len(part.as_bytes())
        except (ValueError, LookupError, UnicodeError, TypeError):
            return 0
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else 0


def _attachments(msg: Message) -> list[Attachment]:
    """Every non-body part: files, inline images, returned messages (not descended into)."""
    out: list[Attachment] = []

    def visit(part: Message) -> None:
        if part.get_content_maintype() == "multipart":
            for sub in part.iter_parts():  # type: ignore[attr-defined]
                visit(sub)
        elif not _is_body_text(part):
            name = part.get_filename()
            out.append(
                Attachment(
                    filename=_one_line(name)[:255] if name else None,
                    content_type=part.get_content_type(),
                    size=_size(part),
                )
            )

    if msg.get_content_maintype() == "multipart":
        visit(msg)
    return out


# -- auto-replies and bounces ---------------------------------------------------------------------


def auto_kind(msg: Message, from_address: str) -> tuple[str | None, str | None]:
    """``("bounce" | "auto-reply" | None, the header that said so)``.

    Bounces first: a delivery report often also says ``Auto-Submitted: auto-replied``."""
    report = str(msg.get_param("report-type", "") or "").lower()
    if msg.get_content_type() == "multipart/report" and report == "delivery-status":
        return "bounce", "Content-Type: multipart/report; report-type=delivery-status"
    if from_address.partition("@")[0].lower() == "mailer-daemon":
        return "bounce", "From: MAILER-DAEMON"
    submitted = header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return "auto-reply", f"Auto-Submitted: {submitted[:40]}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if msg.get(name) is not None:
            return "auto-reply", name
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return "auto-reply", f"Precedence: {precedence}"
    return None, None


def _returned_ids(msg: EmailMessage) -> tuple[str, ...]:
    """A bounce's copy of the mail it returns (``message/rfc822`` or ``text/rfc822-headers``):
    that mail's Message-ID and References, which thread the bounce to its conversation."""
    for part in msg.walk():
        ctype = part.get_content_type()
        headers: Message | None = None
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            headers = first if isinstance(first, Message) else None
        elif ctype == "text/rfc822-headers":
            headers = HeaderParser(policy=policy.default).parsestr(_content(part))
        if headers is not None:
            own = message_ids(header(headers, "Message-ID"))
            refs = message_ids(header(headers, "References"))
            return tuple(dict.fromkeys([*own, *reversed(refs)]))[:MAX_IDS]
    return ()
