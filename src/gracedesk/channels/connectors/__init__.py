"""Helpdesk connectors: Chatwoot, Zammad, Zendesk, Freshdesk and Help Scout (docs/connectors.md).

For teams that stay in their helpdesk. Its webhook brings each customer message to the desk;
the desk analyses it and writes back a private note (signals, decisions with rule ids, the next
step, the hand-over when it escalated) with tags and priority, and the agents' replies written
in gracedesk's console go out as public replies, all through the helpdesk's own API.

- ``base``: the adapter protocol, the registry (``adapter(kind)``), signature and payload checks
- ``chatwoot``, ``zammad``, ``zendesk``, ``freshdesk``, ``helpscout``: one adapter each
- ``manage``: the ``connectors`` table (``gracedesk connectors add|list|remove``)
- ``inbound``: ``receive``: a webhook delivery, verified, parsed, stored, analysed
- ``notes``: the note composed and queued in the outbox
- ``transport``: ``transport(store)``, the worker's ``connector id -> Transport``
- ``api``, ``markup``: HTTP calls with the outbox's error rules; HTML in and out

The web route is ``POST /hooks/{name}`` (``gracedesk.web.hooks``).
"""

from __future__ import annotations

from gracedesk.channels.connectors.base import KINDS, adapter
from gracedesk.channels.connectors.transport import transport

__all__ = ["KINDS", "adapter", "transport"]
