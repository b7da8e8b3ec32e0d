"""The ``connectors`` table: add, list, find and remove the helpdesks the desk plugs into.

What leaves this module never carries the secret or the API token except :func:`find`'s
``ConnectorInfo`` (the webhook and the transports need them; its ``repr`` hides them).
``summary`` is what the CLI lists: option values whose key looks secret are masked too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gracedesk.channels.connectors.base import KINDS, ConnectorInfo, adapter
from gracedesk.errors import Conflict, InvalidRequest, NotFound
from gracedesk.store import Store
from gracedesk.store.tables import Connector, Conversation

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
SECRET_WORDS = ("secret", "token", "password", "key")
HOOKS = "/hooks/"
HINTS = {"account_id": "--account-id ID", "email": "--option email=<the API user's e-mail>"}


def hook_path(name: str) -> str:
    return HOOKS + name


def check(
    name: str, kind: str, *, secret: str, api_url: str, api_token: str, options: Mapping[str, str]
) -> None:
    """Refuse what could never work: a name unfit for a URL, an unknown kind, an empty secret,
    a URL that is not http(s), a kind's option left out (Chatwoot's account id, ...)."""
    if not NAME.fullmatch(name):
        raise InvalidRequest(
            "the name must be 1-80 lower-case letters, digits, '-' or '_' (it is in the URL)"
        )
    if kind not in KINDS:
        raise InvalidRequest(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    if not secret.strip() or not api_token.strip():
        raise InvalidRequest("the secret and the API token must not be empty")
    url = urlsplit(api_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise InvalidRequest(f"--api-url must be an http(s) URL, not {api_url!r}")
    missing = [o for o in adapter(kind).required if not options.get(o)]
    if missing:
        flags = ", ".join(HINTS.get(o, f"--option {o}=...") for o in missing)
        raise InvalidRequest(f"a {kind} connector needs {flags}")


def add(
    store: Store,
    name: str,
    kind: str,
    *,
    secret: str,
    api_url: str,
    api_token: str,
    options: Mapping[str, str],
    now: datetime,
) -> ConnectorInfo:
    """Store a new connector; a name already taken is a ``Conflict``."""
    check(name, kind, secret=secret, api_url=api_url, api_token=api_token, options=options)
    taken = Conflict(f"a connector named {name!r} already exists")
    try:
        with store.write() as s:
            if s.scalar(select(Connector.id).where(Connector.name == name)) is not None:
                raise taken
            return _insert(s, name, kind, secret, api_url, api_token, options, now)
    except IntegrityError:  # a concurrent add of the same name won
        raise taken from None


def _insert(
    s: Session,
    name: str,
    kind: str,
    secret: str,
    api_url: str,
    api_token: str,
    options: Mapping[str, str],
    now: datetime,
) -> ConnectorInfo:
    row = Connector(
        name=name,
        kind=kind,
        secret=secret,
        api_url=api_url.rstrip("/"),
        api_token=api_token,
        options=dict(options),
        active=True,
        created_at=now,
    )
    s.add(row)
    s.flush()
    return info_of(row)


def find(
    store: Store, *, name: str | None = None, connector_id: int | None = None
) -> ConnectorInfo:
    """An active connector by name or id; ``NotFound`` when there is none."""
    with store.read() as s:
        q = select(Connector).where(Connector.active.is_(True))
        if name is not None:
            q = q.where(Connector.name == name)
        else:
            q = q.where(Connector.id == connector_id)
        row = s.scalar(q)
        if row is None:
            which = repr(name) if name is not None else f"#{connector_id}"
            raise NotFound(f"no active connector {which}")
        return info_of(row)


def summary(store: Store) -> list[dict[str, Any]]:
    """Every connector without its secret or token (for ``gracedesk connectors list``)."""
    with store.read() as s:
        linked = dict(
            s.execute(
                select(Conversation.connector_id, func.count())
                .where(Conversation.connector_id.is_not(None))
                .group_by(Conversation.connector_id)
            ).all()
        )
        return [
            {
                "name": r.name,
                "kind": r.kind,
                "api_url": r.api_url,
                "active": r.active,
                "options": {k: mask(k, v) for k, v in sorted((r.options or {}).items())},
                "conversations": linked.get(r.id, 0),
                "last_error": r.last_error,
                "webhook": hook_path(r.name),
            }
            for r in s.scalars(select(Connector).order_by(Connector.name))
        ]


def remove(store: Store, name: str) -> int:
    """Delete a connector; its conversations stay, unlinked (replies no longer reach that
    helpdesk). Returns how many conversations were unlinked."""
    with store.write() as s:
        row = s.scalar(select(Connector).where(Connector.name == name))
        if row is None:
            raise NotFound(f"no connector named {name!r}")
        unlinked = s.execute(
            update(Conversation)
            .where(Conversation.connector_id == row.id)
            .values(connector_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        s.delete(row)
        return int(unlinked or 0)


def mask(key: str, value: Any) -> Any:
    return "***" if any(w in key.lower() for w in SECRET_WORDS) else value


def info_of(row: Connector) -> ConnectorInfo:
    return ConnectorInfo(
        id=row.id,
        name=row.name,
        kind=row.kind,
        api_url=row.api_url,
        options={str(k): str(v) for k, v in (row.options or {}).items()},
        active=row.active,
        secret=row.secret,
        api_token=row.api_token,
    )
