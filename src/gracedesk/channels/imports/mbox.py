"""mbox archives (the stdlib ``mailbox`` module): e-mail threads become conversations.

A message answers the one its ``In-Reply-To`` names, else the last of its ``References`` found
in the file; the root of that chain is the thread. Roots left apart (a client that dropped the
headers) join the thread of the same customer with the same normalised subject ("Re: [#12]
Refund" is "refund"). The customer is the sender, unless the sender is one of the support
addresses: then the message is the agent's, written to the first other address in To/Cc.
Quoted text ("> ..." and the "On ... wrote:" line) and the signature after "-- " are cut,
so a reply is analysed for what it adds.
"""

from __future__ import annotations

import email
import email.errors
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

from gracedesk.channels.imports.arrange import chain_roots
from gracedesk.channels.imports.records import (
    Parsed,
    Party,
    Record,
    Rejected,
    bounded,
    stable_id,
)
from gracedesk.channels.imports.tabular import Limits
from gracedesk.errors import ImportFailed

CHANNEL = "email"
_ID = re.compile(r"<[^<>\s]+>")
_PREFIX = re.compile(r"^(?:\s*(?:(?:re|fwd?|aw|sv|wg|tr)\s*(?:\[\d+\])?\s*:|\[[^\]]*\]))+", re.I)
_WROTE = re.compile(
    r"^\s*(?:on\b.{0,300}\bwrote:|le\b.{0,300}\ba écrit\s?:|am\b.{0,300}\bschrieb\b.{0,120}:)\s*$",
    re.I,
)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:original message|forwarded message)\s*-{2,}", re.I)
_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_BREAK = re.compile(r"<(?:br|/?p|/div|/li|/tr|/h\d)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def normalised_subject(subject: str | None) -> str:
    """The subject without reply/forward prefixes and ticket tags, lower-cased, one-spaced."""
    return " ".join(_PREFIX.sub("", subject or "").split()).lower()


def strip_quotes(text: str) -> str:
    """The new text of a reply: quoted lines, the line introducing them, a forwarded or
    original message and the signature (after ``-- ``) are cut."""
    out: list[str] = []
    for ln in text.splitlines():
        if ln.rstrip() == "--" or ln == "-- " or _ORIGINAL.match(ln):
            break
        if ln.lstrip().startswith(">"):
            continue
        out.append(ln)
    while out and (not out[-1].strip() or _WROTE.match(out[-1])):
        out.pop()
    return "\n".join(out).strip()


@dataclass(frozen=True, slots=True)
class _Mail:
    line: int
    mid: str
    sender: str
    name: str | None
    recipients: tuple[str, ...]
    at: datetime
    subject: str | None
    text: str
    replies_to: tuple[str, ...]  # In-Reply-To, then References newest first


def customer_party(address: str, name: str | None) -> Party:
    """An e-mail customer as the live e-mail channel keys them (``email:<address>``), so
    imported mail and mail read from a mailbox later are one customer's."""
    return Party(f"email:{address.lower()}", name, address)


def from_lines(path: Path) -> list[int]:
    """The line number where each message starts: every line beginning ``From `` (as the
    ``mailbox`` module splits the file)."""
    starts: list[int] = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if raw.startswith(b"From "):
                starts.append(n)
    return starts


def read_mbox(path: Path, limits: Limits, support: Sequence[str]) -> Parsed:
    """Read and thread an mbox file (see the module's docstring)."""
    # lazy: only mbox imports need the mailbox module
    import mailbox

    ours = frozenset(a.strip().lower() for a in support)
    starts = from_lines(path)
    if not starts or not _first_line(path).startswith(b"From "):
        raise ImportFailed(f"{path} is not an mbox file: it does not start with a 'From ' line")
    box = mailbox.mbox(path, factory=_factory, create=False)  # type: ignore[arg-type]
    out = Parsed()
    mails: list[_Mail] = []
    try:
        for n, key in enumerate(box.iterkeys()):
            line = starts[n] if n < len(starts) else n + 1
            try:
                mails.append(_mail(_as_email(box[key]), line, limits, ours))
            except Rejected as exc:
                out.reject(line, str(exc))
    finally:
        box.close()
    _thread(mails, ours, out)
    return out


def _factory(fh: Any) -> EmailMessage:
    msg = email.message_from_binary_file(fh, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _as_email(msg: object) -> EmailMessage:
    """The message as the factory parsed it (typeshed types ``mbox`` items as compat32)."""
    assert isinstance(msg, EmailMessage)
    return msg


def _first_line(path: Path) -> bytes:
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                return raw
    return b""


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, LookupError, TypeError, email.errors.MessageError):
        return ""
    return str(value) if value is not None else ""


def _mail(msg: EmailMessage, line: int, limits: Limits, ours: frozenset[str]) -> _Mail:
    name, sender = parseaddr(_header(msg, "From"))
    sender = sender.strip().lower()
    if "@" not in sender:
        raise Rejected("no sender address in From")
    raw_date = _header(msg, "Date")
    try:
        at = parsedate_to_datetime(raw_date)
    except (TypeError, ValueError, IndexError):
        raise Rejected(f"bad date {raw_date[:60]!r} in the Date header") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    text = strip_quotes(_body(msg))
    if not text:
        raise Rejected("empty text (nothing left once quotes and the signature are cut)")
    if len(text) > limits.max_text_chars:
        raise Rejected(f"text of {len(text)} characters (at most {limits.max_text_chars})")
    subject = " ".join(_header(msg, "Subject").split()) or None
    given = _ID.findall(_header(msg, "Message-ID"))
    mid = given[0] if given else stable_id(sender, at.isoformat(), subject or "", text)
    refs = _ID.findall(_header(msg, "References"))
    replies_to = tuple(dict.fromkeys([*_ID.findall(_header(msg, "In-Reply-To")), *refs[::-1]]))
    recipients = tuple(
        a.strip().lower()
        for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")])
        if "@" in a and a.strip().lower() not in ours
    )
    return _Mail(
        line,
        bounded(mid),
        sender,
        name.strip() or None,
        recipients,
        at,
        subject,
        text,
        tuple(bounded(r) for r in replies_to),
    )


def _body(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
    except (LookupError, ValueError, TypeError, AttributeError, email.errors.MessageError):
        return ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html_text(content)
    return content


def html_text(markup: str) -> str:
    """The text of an HTML body: blocks on their own lines, tags and scripts gone."""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", _DROP.sub("", markup))))
    return "\n".join(_SPACES.sub(" ", ln).strip() for ln in text.splitlines()).strip()


def _thread(mails: list[_Mail], ours: frozenset[str], out: Parsed) -> None:
    by_id: dict[str, _Mail] = {}
    for m in mails:
        first = by_id.get(m.mid)
        if first is not None:
            out.reject(m.line, f"duplicate Message-ID {m.mid} (first at line {first.line})")
            continue
        by_id[m.mid] = m
    parent = {mid: next((r for r in m.replies_to if r in by_id), None) for mid, m in by_id.items()}
    root, depth = chain_roots(parent)

    def customer(m: _Mail) -> str | None:
        if m.sender not in ours:
            return m.sender
        return m.recipients[0] if m.recipients else None

    # roots of one customer with one subject are one thread (headers lost on the way)
    joined: dict[tuple[str | None, str], str] = {}
    canonical: dict[str, str] = {}
    for mid in sorted(
        (r for r in by_id if root[r] == r), key=lambda r: (by_id[r].at, by_id[r].line)
    ):
        m = by_id[mid]
        subject = normalised_subject(m.subject)
        if not subject:
            canonical[mid] = mid
            continue
        canonical[mid] = joined.setdefault((customer(m), subject), mid)
    for mid, m in by_id.items():
        is_root = root[mid] == mid
        address = customer(m)
        out.records.append(
            Record(
                line=m.line,
                conversation=bounded(f"{CHANNEL}:{canonical[root[mid]]}"),
                author="customer" if m.sender not in ours else "agent",
                text=m.text,
                at=m.at,
                channel=CHANNEL,
                message_id=mid,
                party=customer_party(address, m.name if m.sender not in ours else None)
                if address
                else None,
                subject=" ".join(_PREFIX.sub("", m.subject).split())[:300] or None
                if m.subject
                else None,
                meta={"from": m.sender, **({"subject": m.subject} if m.subject else {})},
                parent=m.replies_to[0] if is_root and m.replies_to else None,
                depth=depth[mid],
            )
        )
