"""What every helpdesk connector has in common: the adapter protocol, the registry, the checks.

An adapter is one small module per helpdesk (``chatwoot``, ``zammad``, ...) with four verbs:

- ``verify(headers, body, secret, now=)``: the helpdesk's own signature scheme over the raw body,
  checked before the body is parsed at all; raises ``BadSignature``.
- ``parse(headers, doc, info)``: the helpdesk's documented payload as an :class:`Inbound`
  customer message, or :class:`Ignored` with the reason (an agent's or our own message, a
  private note, an event we do not act on); a body of another shape raises ``InvalidRequest``.
- ``auth(info, http)``: the headers that authenticate a call to the helpdesk's API.
- ``send(api, info, out)``: a queued reply (public) or note (private, with tags and priority)
  written back through the helpdesk's API; returns the remote id. Calls that can be repeated
  safely (tags, priority) come first and the note or reply last, so a retry after a failure
  half-way never posts the text twice.

Payloads are untrusted: every value is read through the small accessors below, which check its
type and size and never evaluate anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from gracedesk.errors import BadSignature, DeliveryError, InvalidRequest

if TYPE_CHECKING:
    import httpx

    from gracedesk.channels.connectors.api import Api
    from gracedesk.channels.delivery import Outgoing

KINDS = ("chatwoot", "zammad", "zendesk", "freshdesk", "helpscout")
MAX_SKEW = timedelta(minutes=5)  # a signed timestamp further off than this is refused
OWN_MARK = "[gracedesk]"  # the first word of every note we write: never analysed if it returns
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
EMAIL = re.compile(r"[^@\s,<>\"]{1,64}@[^@\s,<>\"]{1,189}")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # refused by PostgreSQL / every UTF-8 encoder


@dataclass(frozen=True)
class ConnectorInfo:
    """A ``connectors`` row as the adapters see it (no ORM object leaves its session)."""

    id: int
    name: str
    kind: str
    api_url: str
    options: Mapping[str, str]
    active: bool
    secret: str = field(repr=False)
    api_token: str = field(repr=False)


@dataclass(frozen=True)
class Inbound:
    """A customer's message as the helpdesk sent it, in the desk's terms."""

    ref: str  # the helpdesk's conversation or ticket id
    message_id: str  # the helpdesk's message, article, comment or thread id
    contact_id: str  # the customer's id in the helpdesk
    text: str
    name: str | None = None
    email: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Ignored:
    """An event the desk does not act on, and why (the webhook answers 200 with the reason)."""

    reason: str


class Adapter(Protocol):
    kind: str
    required: tuple[str, ...]  # options ``connectors add`` must be given (``account_id``, ...)

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None: ...

    def parse(
        self, headers: Mapping[str, str], doc: Any, info: ConnectorInfo
    ) -> Inbound | Ignored: ...

    def auth(self, info: ConnectorInfo, http: httpx.Client) -> dict[str, str]:
        """The headers that authenticate a call to the helpdesk's API."""
        ...

    def send(self, api: Api, info: ConnectorInfo, out: Outgoing) -> str | None: ...


def adapter(kind: str) -> Adapter:
    """The adapter of ``kind`` (its module's ``ADAPTER``), imported when first needed."""
    if kind not in KINDS:
        raise InvalidRequest(f"unknown connector kind {kind!r}: one of {list(KINDS)}")
    module = importlib.import_module(f"gracedesk.channels.connectors.{kind}")
    found: Adapter = module.ADAPTER
    return found


# -- signatures ---------------------------------------------------------------------------------


def mac(secret: str, data: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), data, getattr(hashlib, algorithm)).digest()


def hex_mac(secret: str, data: bytes, algorithm: str) -> str:
    return mac(secret, data, algorithm).hex()


def b64_mac(secret: str, data: bytes, algorithm: str) -> str:
    return base64.b64encode(mac(secret, data, algorithm)).decode("ascii")


def same(expected: str, given: str) -> bool:
    """Constant-time comparison (a header may hold any bytes: compare them as bytes)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.strip().encode("utf-8"))


def header(headers: Mapping[str, str], name: str, kind: str) -> str:
    """A header the scheme needs (lower-case names); missing or empty is a bad signature."""
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise BadSignature(f"the {kind} webhook has no {name} header")
    return value


def fresh(stamp: str, *, now: datetime, name: str) -> None:
    """Refuse a signed timestamp more than ``MAX_SKEW`` from ``now`` (a replayed request)."""
    try:
        at = (
            datetime.fromtimestamp(int(stamp), UTC)
            if stamp.isdigit()
            else datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        )
    except (ValueError, OverflowError, OSError):
        raise BadSignature(f"{name} is not a time: {stamp[:40]!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if abs(now - at) > MAX_SKEW:
        raise BadSignature(
            f"{name} is more than 5 minutes off the desk's clock (stale or replayed)"
        )


# -- reading an untrusted payload ---------------------------------------------------------------


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{where} must be a JSON object")
    return value


def ident(value: Any, where: str) -> str:
    """An id: a number or a short plain string (it ends up in API paths)."""
    if isinstance(value, bool):
        raise InvalidRequest(f"{where} must be an id")
    text = str(value).strip() if isinstance(value, int | str) else ""
    if not ID.fullmatch(text):
        raise InvalidRequest(f"{where} must be an id (a number or a short plain string)")
    return text


def plain(value: Any, limit: int = 200) -> str | None:
    """A display string (name, subject): stripped, storable, at most ``limit`` characters."""
    if not isinstance(value, str):
        return None
    clean = " ".join(UNSTORABLE.sub("", value).split())
    return clean[:limit] or None


def email(value: Any) -> str | None:
    """An e-mail address, or None for anything else (an unfilled placeholder, a name)."""
    got = plain(value, 254)
    return got if got is not None and EMAIL.fullmatch(got) else None


def content(value: Any) -> str:
    """A message's text, storable (the desk cuts it to its length limit on the way in)."""
    if not isinstance(value, str):
        return ""
    return UNSTORABLE.sub("", value).strip()


def flag(value: Any) -> bool | None:
    """A boolean that a template may have rendered as a string (``"true"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def full_name(*parts: Any) -> str | None:
    return plain(" ".join(p for p in parts if isinstance(p, str)))


def merged(existing: Any, new: list[str]) -> list[str]:
    """Tags already on the conversation plus ours, in order, once each (APIs that replace the
    whole list must not drop the helpdesk agents' own tags)."""
    have = [str(t) for t in existing] if isinstance(existing, list) else []
    return list(dict.fromkeys([*have, *new]))


def writeback(out: Outgoing) -> tuple[list[str], str | None]:
    """The tags and the priority a note asks the helpdesk to set (``Outgoing.extra``)."""
    tags = out.extra.get("tags")
    priority = out.extra.get("priority")
    return (
        [t for t in tags if isinstance(t, str) and t] if isinstance(tags, list) else [],
        priority if isinstance(priority, str) and priority else None,
    )


def ref_of(out: Outgoing) -> str:
    """The helpdesk conversation or ticket a reply or note goes to."""
    if not out.external_ref:
        raise DeliveryError("the conversation has no helpdesk ticket id", retryable=False)
    return out.external_ref
