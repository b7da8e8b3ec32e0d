"""Settings of the desk, read from ``GRACEDESK_*`` environment variables at the entry points.

Nothing reads them at import: ``Settings()`` is built by ``gracedesk serve`` / ``worker`` /
``db`` / ``users`` (or a test) and passed down. docs/desk.md lists every variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def sqlite_url(home: str | Path) -> str:
    """The default database: ``gracedesk.db`` in the data directory."""
    return f"sqlite:///{Path(home).expanduser().resolve() / 'gracedesk.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRACEDESK_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path("~/.gracedesk"),
        description="Data directory: the SQLite database and the session key live here.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///$GRACEDESK_HOME/gracedesk.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs console sessions; default: a random key kept in $GRACEDESK_HOME.",
    )
    tier: str = Field(default="fast", description="Analysis tier: fast or accurate.")
    policy_dir: Path | None = Field(default=None, description="Policy folder; default: shipped.")
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="Public address, for links in e-mails."
    )
    jobs_interval: float = Field(default=30.0, description="Seconds between job sweeps.")
    ingest_poll: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between looks at the queue of messages acknowledged with "
        "Prefer: respond-async (the serving process's own queue wakes the worker at once).",
    )
    follow_up_lead_minutes: int = Field(
        default=60, description="Remind the agent this many minutes before a promise is due."
    )
    message_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Threads per server process that handle incoming messages (0: on the event "
        "loop itself, the fastest measured on both databases).",
    )
    measured_phrases: bool = Field(
        default=True,
        description="Rank suggested phrases by how often they calmed this desk's customers, "
        "once a phrase has enough measured replies (docs/insights-outcomes.md).",
    )
    max_text_chars: int = Field(default=20_000, description="Longest message text accepted.")
    max_body_bytes: int = Field(default=262_144, description="Largest request body accepted.")
    # -- logging (gracedesk/logs.py, docs/desk.md "Logs") --
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as text or as JSON objects (one a line)."
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="warning", description="The least severe level logged (info: one line a request)."
    )

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sender: str = "gracedesk@localhost"
    webhook_urls: str = Field(default="", description="Comma-separated outgoing webhook URLs.")
    webhook_secret: str | None = Field(default=None, description="HMAC key for webhooks.")
    reply_webhook_url: str | None = Field(
        default=None,
        description="Where agents' replies on chat, web and API conversations are POSTed "
        "(signed like every webhook); unset: those replies stay in the desk (docs/channels.md).",
    )
    supervisor_email: str | None = Field(
        default=None, description="Where SLA breaches and escalations are e-mailed."
    )
    erase_by_supervisors: bool = Field(
        default=False,
        description="Whether supervisors may erase a customer (right to be forgotten); "
        "by default only admins may.",
    )
    # -- console sessions and sign-in throttling (web/security.py, docs/desk.md) --
    cookie_secure: bool | None = Field(
        default=None,
        description="The session cookie's Secure flag. Unset: Secure unless the base URL is "
        "plain http on a loopback host and the server listens on loopback only. false: plain "
        "http allowed (local development only).",
    )
    session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="A console session ends this long after sign-in.",
    )
    signin_max_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins per user name before it is locked."
    )
    signin_max_failures_per_client: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins and bad API tokens per client address before it is locked.",
    )
    signin_window_seconds: int = Field(
        default=900, ge=1, description="Failures are forgotten after this long without another."
    )
    signin_lockout_seconds: int = Field(
        default=30, ge=1, description="The first lock; each further failure doubles it."
    )
    signin_lockout_max_seconds: int = Field(default=900, ge=1, description="The longest lock.")

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    def url(self) -> str:
        return self.database_url or sqlite_url(self.home_dir)

    def session_key(self) -> str:
        """The configured key, or one made once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.home_dir / "secret_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # only one process creates it, readable by its owner only
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key)
        return key

    def webhooks(self) -> list[str]:
        return [u.strip() for u in self.webhook_urls.split(",") if u.strip()]
