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

from sqlalchemy.exc import IntegrityError

from gracedesk.channels.connectors.base import KINDS, ConnectorInfo, adapter
from gracedesk.errors import Conflict, InvalidRequest, NotFound
from gracedesk.store import Store
from gracedesk.store import connectors as stored

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
        with store.write_core() as conn:
            if stored.id_named(conn, name) is not None:
                raise taken
            cid = stored.add(
                conn,
                name=name,
                kind=kind,
                secret=secret,
                api_url=api_url.rstrip("/"),
                api_token=api_token,
                options=options,
                now=now,
            )
            row = stored.active(conn, connector_id=cid)
            assert row is not None
            return info_of(row)
    except IntegrityError:  # a concurrent add of the same name won
        raise taken from None


def find(
    store: Store, *, name: str | None = None, connector_id: int | None = None
) -> ConnectorInfo:
    """An active connector by name or id; ``NotFound`` when there is none."""
    with store.read_core() as conn:
        row = stored.active(conn, name=name, connector_id=connector_id)
        if row is None:
            which = repr(name) if name is not None else f"#{connector_id}"
            raise NotFound(f"no active connector {which}")
        return info_of(row)


def summary(store: Store) -> list[dict[str, Any]]:
    """Every connector without its secret or token (for ``gracedesk connectors list``)."""
    with store.read_core() as conn:
        linked = stored.linked_counts(conn)
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
            for r in stored.listing(conn)
        ]


def remove(store: Store, name: str) -> int:
    """Delete a connector; its conversations stay, unlinked (replies no longer reach that
    helpdesk). Returns how many conversations were unlinked."""
    with store.write_core() as conn:
        row = stored.named(conn, name)
        if row is None:
            raise NotFound(f"no connector named {name!r}")
        return stored.remove(conn, row.id)


def mask(key: str, value: Any) -> Any:
    return "***" if any(w in key.lower() for w in SECRET_WORDS) else value


def info_of(row: Any) -> ConnectorInfo:
    """The connector of a ``connectors`` row."""
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
