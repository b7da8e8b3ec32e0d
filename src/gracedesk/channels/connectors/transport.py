"""The outbox's connector transport: a conversation's connector id -> something that sends.

The worker wires it once: ``Transports(connector=transport(store))``. Each delivery reads the
connector afresh (a new token or URL applies at once; a removed or inactive connector fails the
delivery for good) and hands the ``Outgoing`` to that helpdesk's adapter: ``kind == "reply"``
posts a public reply, ``kind == "note"`` a private note with tags and priority.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from gracedesk.channels.connectors import manage
from gracedesk.channels.connectors.api import TIMEOUT, Api
from gracedesk.channels.connectors.base import ConnectorInfo, adapter
from gracedesk.channels.delivery import Outgoing, Transport
from gracedesk.errors import DeliveryError, NotFound
from gracedesk.store import Store


class ConnectorTransport:
    """Sends through one connector's helpdesk API."""

    def __init__(self, info: ConnectorInfo, http: httpx.Client) -> None:
        self.info = info
        self.http = http

    def send(self, out: Outgoing) -> str | None:
        kind = adapter(self.info.kind)
        api = Api(self.http, self.info.api_url, kind.auth(self.info, self.http))
        return kind.send(api, self.info, out)


class _Missing:
    """A connector that was removed or switched off: its deliveries cannot succeed."""

    def __init__(self, why: str) -> None:
        self.why = why

    def send(self, out: Outgoing) -> str | None:
        raise DeliveryError(self.why, retryable=False)


def transport(store: Store, *, http: httpx.Client | None = None) -> Callable[[int], Transport]:
    """``connector id -> Transport`` for ``channels.delivery.Transports(connector=...)``.

    One HTTP client (connection pool) serves every connector; pass ``http`` to supply your own.
    """
    client = http if http is not None else httpx.Client(timeout=TIMEOUT)

    def for_connector(connector_id: int) -> Transport:
        try:
            info = manage.find(store, connector_id=connector_id)
        except NotFound as exc:
            return _Missing(exc.message)
        return ConnectorTransport(info, client)

    return for_connector
