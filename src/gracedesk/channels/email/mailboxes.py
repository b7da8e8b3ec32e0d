"""The IMAP mailboxes the desk reads (the ``mailboxes`` table), validated once here.

A mailbox is removed by ``remove_mailbox``; one that conversations still point to is only
deactivated (no longer read), so that replies in those conversations keep their From address.
Adding a mailbox under the name of a deactivated one replaces and reactivates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from gracedesk.errors import Conflict, InvalidInput, NotFound
from gracedesk.store import Store
from gracedesk.store import mailboxes as stored

SECURITY = ("ssl", "starttls", "none")


@dataclass(frozen=True, slots=True)
class MailboxConfig:
    """One mailbox as stored; the password never appears in ``repr`` or listings."""

    id: int
    name: str
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str = field(repr=False)
    folder: str
    address: str  # "support@x" or "Acme Support <support@x>": replies come from it
    done_folder: str | None
    active: bool
    uidvalidity: int | None = None
    last_uid: int | None = None
    last_checked_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def of(cls, row: Any) -> MailboxConfig:
        """The mailbox of a ``mailboxes`` row."""
        return cls(
            id=row.id,
            name=row.name,
            host=row.host,
            port=row.port,
            security=row.security,
            username=row.username,
            password=row.password,
            folder=row.folder,
            address=row.address,
            done_folder=row.done_folder,
            active=row.active,
            uidvalidity=row.uidvalidity,
            last_uid=row.last_uid,
            last_checked_at=row.last_checked_at,
            last_error=row.last_error,
        )


def support_address(address: str) -> tuple[str, str]:
    """``(display name, addr)`` of a mailbox's address; ``InvalidInput`` when it is not one."""
    if any(c in address for c in "\r\n"):
        raise InvalidInput(f"address must be one line: {address!r}")
    name, addr = parseaddr(address)
    if addr.count("@") != 1 or any(c.isspace() for c in addr) or not addr.partition("@")[2]:
        raise InvalidInput(f"not an e-mail address: {address!r}")
    return name, addr


def _check(
    name: str, host: str, port: int, security: str, username: str, password: str, folder: str
) -> None:
    problems = []
    if not name.strip() or len(name) > 80:
        problems.append("name must be 1 to 80 characters")
    if not host.strip() or len(host) > 253 or any(c.isspace() for c in host):
        problems.append(f"host {host!r} is not a host name")
    if not 1 <= port <= 65535:
        problems.append(f"port {port} is not between 1 and 65535")
    if security not in SECURITY:
        problems.append(f"security must be one of {', '.join(SECURITY)}")
    if not username:
        problems.append("username is empty")
    if not password:
        problems.append("password is empty")
    if not folder.strip():
        problems.append("folder is empty")
    if problems:
        raise InvalidInput("; ".join(problems))


def add_mailbox(
    store: Store,
    *,
    name: str,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    address: str,
    folder: str = "INBOX",
    done_folder: str | None = None,
    now: datetime,
) -> MailboxConfig:
    """Store a mailbox to read (``Conflict`` when an active one has the name)."""
    _check(name, host, port, security, username, password, folder)
    support_address(address)
    if done_folder is not None and done_folder.strip() in ("", folder):
        raise InvalidInput("done folder must differ from the folder read")
    settings = stored.Settings(
        host=host.strip(),
        port=port,
        security=security,
        username=username,
        password=password,
        folder=folder,
        done_folder=done_folder,
        address=address.strip(),
    )
    with store.write_core() as conn:
        row = stored.named(conn, name)
        if row is not None and row.active:
            raise Conflict(f"mailbox {name!r} exists; remove it first")
        saved = stored.save(conn, name, settings, replace=None if row is None else row.id, now=now)
        return MailboxConfig.of(saved)


def list_mailboxes(store: Store, *, active_only: bool = False) -> list[MailboxConfig]:
    with store.read_core() as conn:
        return [MailboxConfig.of(r) for r in stored.listing(conn, active_only=active_only)]


def get_mailbox(store: Store, mailbox_id: int) -> MailboxConfig:
    with store.read_core() as conn:
        row = stored.get(conn, mailbox_id)
        if row is None:
            raise NotFound(f"mailbox {mailbox_id} does not exist")
        return MailboxConfig.of(row)


def mailbox_named(store: Store, name: str) -> MailboxConfig:
    with store.read_core() as conn:
        row = stored.named(conn, name)
        if row is None:
            raise NotFound(f"mailbox {name!r} does not exist")
        return MailboxConfig.of(row)


def remove_mailbox(store: Store, name: str) -> str:
    """``"deleted"``, or ``"deactivated"`` when conversations still point to it."""
    with store.write_core() as conn:
        row = stored.named(conn, name)
        if row is None:
            raise NotFound(f"mailbox {name!r} does not exist")
        if stored.in_use(conn, row.id):
            stored.deactivate(conn, row.id)
            return "deactivated"
        stored.delete_mailbox(conn, row.id)
        return "deleted"
