"""Which conversation an e-mail belongs to, as the big desks decide it.

Rules, first match wins (:func:`find_thread`); each answer names its rule and why:

1. ``in-reply-to`` / ``references``: a Message-ID the e-mail answers is one we stored (a
   customer's e-mail, ``meta.message_id``) or sent (a reply's ``deliveries.remote_id``);
2. ``token``: the subject carries our reply token ``[#GD<id>-<hmac>]`` and its HMAC verifies
   (a token that does not verify is refused, and the e-mail starts a new conversation);
3. ``subject``: the same customer has an e-mail conversation with the same normalised subject
   (``Re:``, ``Fwd:``, ``AW:``, ... and tokens removed) that is open, or resolved at most
   ``SUBJECT_WINDOW`` ago.

A match in another customer's conversation is never taken (a colleague in Cc, a forwarded
thread, a forged reference): the e-mail then starts its own conversation. The one exception is
a bounce, which joins the conversation of the mail it returns, whoever the customer is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gracedesk.channels.email.parse import ParsedMail, channel_id
from gracedesk.store import threads as stored

if TYPE_CHECKING:
    from sqlalchemy import Connection

SUBJECT_WINDOW = timedelta(days=7)
SUBJECT_CANDIDATES = 50
KEY_CHARS = 280  # conversations.subject holds 300 characters: compare what both sides keep
TOKEN = re.compile(r"\[#GD(\d{1,18})-([0-9a-fA-F]{8})\]")
# reply and forward prefixes of common mail clients, in their languages
_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|tr|rv|enc|odp|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)


def token_hmac(secret: str, conversation_id: int) -> str:
    """The first 8 hex digits of HMAC-SHA256(secret, "<conversation id>")."""
    digest = hmac.new(secret.encode("utf-8"), str(conversation_id).encode("ascii"), hashlib.sha256)
    return digest.hexdigest()[:8]


def reply_token(secret: str, conversation_id: int) -> str:
    """``[#GD<id>-<hmac>]``: put in the subject of every reply, so an answer finds its way back
    even when the customer's client drops In-Reply-To and References."""
    return f"[#GD{conversation_id}-{token_hmac(secret, conversation_id)}]"


def read_token(subject: str, secret: str) -> tuple[int, bool] | None:
    """``(conversation id, verified)`` of the subject's reply token, None when there is none."""
    found = TOKEN.search(subject)
    if found is None:
        return None
    conv_id = int(found.group(1))
    given = found.group(2).lower().encode("ascii")
    return conv_id, hmac.compare_digest(given, token_hmac(secret, conv_id).encode("ascii"))


def normalise_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and reply tokens (case kept, one line)."""
    text = TOKEN.sub(" ", " ".join(subject.split()))
    while True:
        shorter = _PREFIX.sub("", text, count=1)
        if shorter == text:
            return " ".join(text.split())
        text = shorter


def subject_key(subject: str) -> str:
    return normalise_subject(subject).casefold()


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """The conversation an e-mail joins (None: a new one), the rule that decided and why."""

    conversation_id: int | None
    rule: str  # in-reply-to | references | token | subject | new
    reason: str
    # the conversation's customer, when it is not the sender's (a bounce only)
    customer_external_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "rule": self.rule, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class _Conv:
    id: int
    customer_id: int
    customer_external_id: str


def find_thread(
    conn: Connection, mail: ParsedMail, customer_id: int | None, *, now: datetime, secret: str
) -> ThreadMatch:
    """The conversation ``mail`` belongs to; ``customer_id``: the sender's (None: new)."""
    bounce = mail.auto == "bounce"
    by_header, refused = _by_headers(conn, mail, customer_id, any_customer=bounce)
    if by_header is not None:
        return by_header
    token = read_token(mail.subject, secret)
    if token is not None:
        conv_id, verified = token
        if not verified:
            return ThreadMatch(
                None, "new", f"reply token for conversation {conv_id} refused: bad HMAC"
            )
        conv = _conversations(conn, [conv_id]).get(conv_id)
        if conv is not None and (bounce or conv.customer_id == customer_id):
            return _match(conv, "token", f"reply token of conversation {conv_id}", customer_id)
        refused.append(f"reply token of conversation {conv_id}: " + _why_not(conv))
    if customer_id is not None and not bounce:
        found = _by_subject(conn, mail.subject, customer_id, now=now)
        if found is not None:
            return found
    return ThreadMatch(
        None, "new", "; ".join(refused) or "no thread header, token or subject matched"
    )


def _match(conv: _Conv, rule: str, reason: str, customer_id: int | None) -> ThreadMatch:
    other = conv.customer_external_id if conv.customer_id != customer_id else None
    return ThreadMatch(conv.id, rule, reason, other)


def _why_not(conv: _Conv | None) -> str:
    return "no such conversation" if conv is None else "another customer's conversation"


def _by_headers(
    conn: Connection, mail: ParsedMail, customer_id: int | None, *, any_customer: bool
) -> tuple[ThreadMatch | None, list[str]]:
    """Rule 1, the most recent id first; also what was found but not taken."""
    ids = mail.thread_ids
    if not ids:
        return None, []
    found, ours = _conversations_of_ids(conn, ids)
    convs = _conversations(conn, sorted(set(found.values())))
    refused: list[str] = []
    for mid in ids:
        conv = convs.get(found[mid]) if mid in found else None
        if conv is None:
            continue
        rule = "in-reply-to" if mid == mail.in_reply_to else "references"
        # a bounce comes from a mail server, not the customer: it may join another sender's
        # conversation only by the signed Message-ID of one of our own replies
        if (any_customer and mid in ours) or conv.customer_id == customer_id:
            return _match(conv, rule, f"{rule} {mid} is in conversation {conv.id}", customer_id), []
        refused.append(f"{rule} {mid}: another customer's conversation")
    return None, refused[:3]


def _conversations_of_ids(
    conn: Connection, ids: tuple[str, ...]
) -> tuple[dict[str, int], set[str]]:
    """Message-ID -> conversation: our stored e-mails (by the indexed channel message id), our
    sent replies (deliveries' remote ids), and else any message's ``meta.message_id``; and the
    ids that are our own sent replies."""
    keys = {channel_id(i): i for i in ids}
    found: dict[str, int] = {}
    for key, conv in stored.by_channel_ids(conn, list(keys)):
        found.setdefault(keys[str(key)], conv)
    ours: set[str] = set()
    for remote, conv in stored.by_remote_ids(conn, list(ids)):
        found.setdefault(str(remote), conv)
        ours.add(str(remote))
    if not found:  # messages of other channels (imports) that kept a Message-ID: a full scan
        for mid, conv in stored.by_meta_ids(conn, list(ids)):
            found.setdefault(str(mid), conv)
    return found, ours


def _conversations(conn: Connection, conv_ids: list[int]) -> dict[int, _Conv]:
    if not conv_ids:
        return {}
    rows = stored.conversations(conn, conv_ids)
    return {r.id: _Conv(r.id, r.customer_id, r.external_id) for r in rows}


def _by_subject(
    conn: Connection, subject: str, customer_id: int, *, now: datetime
) -> ThreadMatch | None:
    """Rule 3: the customer's newest e-mail conversation with the same normalised subject."""
    key = subject_key(subject)[:KEY_CHARS]
    if not key:
        return None
    rows = stored.subject_candidates(
        conn, customer_id, resolved_since=now - SUBJECT_WINDOW, limit=SUBJECT_CANDIDATES
    )
    for conv_id, conv_subject in rows:
        if subject_key(conv_subject or "")[:KEY_CHARS] == key:
            return ThreadMatch(
                conv_id, "subject", f"same customer and subject {normalise_subject(subject)!r}"
            )
    return None
