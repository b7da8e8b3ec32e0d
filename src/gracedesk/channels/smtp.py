"""The SMTP server of ``GRACEDESK_SMTP_*``: replies to customers and notifications go through it."""

from __future__ import annotations

from dataclasses import dataclass

from gracedesk.settings import Settings


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = "gracedesk@localhost"
    timeout: float = 10.0

    @classmethod
    def of(cls, settings: Settings) -> SmtpSettings | None:
        """The server of ``GRACEDESK_SMTP_*`` (notifications and replies), or None if unset."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            sender=settings.smtp_sender,
        )
