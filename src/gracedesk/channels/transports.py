"""How replies reach customers with these settings (docs/channels.md): SMTP for e-mail
conversations, each helpdesk's API for connector conversations, the reply webhook."""

from __future__ import annotations

from gracedesk.channels.connectors import transport
from gracedesk.channels.delivery import Transports, WebhookTransport
from gracedesk.channels.email import SmtpTransport
from gracedesk.settings import Settings
from gracedesk.store import Store


def transports_for(settings: Settings, store: Store) -> Transports:
    """The transports of ``settings``: e-mail, the reply webhook, the helpdesk connectors."""
    webhook = None
    if settings.reply_webhook_url:
        webhook = WebhookTransport(settings.reply_webhook_url, settings.webhook_secret)
    return Transports(
        email=SmtpTransport.from_settings(settings, store),
        webhook=webhook,
        connector=transport(store),
    )
