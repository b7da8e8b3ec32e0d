"""Notifications from background jobs: one e-mail and a signed JSON POST per webhook.

``Notifier.send`` tries every configured channel once and returns a ``Delivery`` saying what each
one did. One failing target is recorded, not raised; ``NotificationError`` (GD600) is raised only
when every channel that was tried failed, so the job can retry later. There are no retries here,
so delivery is at-least-once across job runs: receivers de-duplicate on ``X-Gracedesk-Key``.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Self

import httpx

from gracedesk.channels.signature import sign
from gracedesk.channels.smtp import SmtpSettings
from gracedesk.errors import NotificationError
from gracedesk.model.notification import Notification

HTTP_TIMEOUT = 5.0

# (url, HTTP status or None, error or None)
WebhookResult = tuple[str, int | None, str | None]


@dataclass(frozen=True)
class Delivery:
    """What each channel did. ``emailed`` is True when the server accepted at least one recipient;
    ``email_error`` says why not, or which recipients it refused."""

    emailed: bool
    webhooks: tuple[WebhookResult, ...]
    email_error: str | None = None

    @property
    def failures(self) -> tuple[str, ...]:
        """One line per failed target: ``email: ...`` or ``<url>: ...``."""
        lines = [f"email: {self.email_error}"] if self.email_error and not self.emailed else []
        lines += [f"{url}: {error}" for url, _, error in self.webhooks if error is not None]
        return tuple(lines)


def webhook_body(n: Notification) -> bytes:
    """The exact bytes POSTed (and signed): ``{"event", "key", "payload"}`` as compact JSON."""
    doc = {"event": n.event, "key": n.key, "payload": n.payload}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def email_message(n: Notification, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(n.to)
    msg["Subject"] = n.subject
    msg["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["X-Gracedesk-Event"] = n.event
    msg["X-Gracedesk-Key"] = n.key
    msg.set_content(n.body)
    return msg


class Notifier:
    """Sends notifications by e-mail (when ``smtp`` is set) and to every webhook URL.

    A client passed as ``http`` is the caller's to close; the default one is closed by ``close()``
    or by leaving a ``with`` block.
    """

    def __init__(
        self,
        smtp: SmtpSettings | None,
        webhooks: Sequence[str],
        secret: str | None,
        http: httpx.Client | None = None,
    ) -> None:
        self.smtp = smtp
        self.webhooks = tuple(webhooks)
        self.secret = secret
        self._owns_http = http is None
        self.http = http if http is not None else httpx.Client(timeout=HTTP_TIMEOUT)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, n: Notification) -> Delivery:
        """Try each channel once; raise ``NotificationError`` only if every one tried failed."""
        tried = 0
        emailed, email_error = False, None
        if self.smtp is not None and n.to:
            tried += 1
            emailed, email_error = self._email(self.smtp, n)
        results = tuple(self._post(url, n) for url in self.webhooks)
        tried += len(results)
        delivery = Delivery(emailed=emailed, webhooks=results, email_error=email_error)
        succeeded = emailed or any(error is None for _, _, error in results)
        if tried and not succeeded:
            raise NotificationError(
                f"{n.event} {n.key!r} reached no channel: " + "; ".join(delivery.failures)
            )
        return delivery

    def _email(self, smtp: SmtpSettings, n: Notification) -> tuple[bool, str | None]:
        msg = email_message(n, smtp.sender)
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as conn:
                if smtp.starttls:
                    conn.starttls(context=ssl.create_default_context())
                if smtp.username is not None:
                    conn.login(smtp.username, smtp.password or "")
                refused = conn.send_message(msg, from_addr=smtp.sender, to_addrs=list(n.to))
        except smtplib.SMTPRecipientsRefused as exc:
            return False, "all recipients refused: " + _refusals(exc.recipients)
        except (smtplib.SMTPException, OSError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, ("recipients refused: " + _refusals(refused)) if refused else None

    def _post(self, url: str, n: Notification) -> WebhookResult:
        body = webhook_body(n)
        headers = {
            "Content-Type": "application/json",
            "X-Gracedesk-Event": n.event,
            "X-Gracedesk-Key": n.key,
        }
        if self.secret is not None:
            headers["X-Gracedesk-Signature"] = sign(self.secret, body)
        try:
            response = self.http.post(url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return url, None, f"{type(exc).__name__}: {exc}"
        if not response.is_success:
            return (
                url,
                response.status_code,
                f"HTTP {response.status_code} {response.reason_phrase}",
            )
        return url, response.status_code, None


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{addr} ({code} {reply.decode('utf-8', 'replace')})"
        for addr, (code, reply) in sorted(refused.items())
    )
