"""Response models of the REST API: what ``/openapi.json`` declares for each success body.

The service returns plain JSON-ready values (``service/views.py`` and friends); these models
describe them, key for key, and FastAPI checks each body against its route's model. Every model
forbids unknown keys, so a key the service adds without a model fails the API tests rather than
being dropped. Times are ISO 8601 strings, as the service writes them. The nouns live in
``schemas_*.py``; this module holds the base and the answers of ``/healthz`` and ``/hooks``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

# a free-form JSON object: stored details whose keys depend on the event, rule or connector
JsonObject = dict[str, JsonValue]


class Out(BaseModel):
    """A response body: exactly the keys the service returns (a missing optional key stays
    missing: the routes serialise with ``response_model_exclude_unset``)."""

    model_config = ConfigDict(extra="forbid")


class Health(Out):
    """``GET /healthz``: ``starting`` until the desk is built, then ``ok`` with its database."""

    status: Literal["ok", "starting"]
    version: str
    database: Literal["sqlite", "postgresql"] | None = None


class HookReceived(Out):
    """A webhook delivery that was stored (or seen before: ``replayed``)."""

    message_id: int | None
    conversation_id: int | None
    analysis: str | None
    replayed: bool
    note_queued: bool


class HookIgnored(Out):
    """A webhook delivery with nothing to store (an agent's own reply, an event not read)."""

    ignored: str
