"""The job loop: ``gracedesk worker`` (and a thread inside ``gracedesk serve``).

Each round runs every sweep once with the current time: re-analysis, follow-ups, SLA, the
notification outbox, and the channels (every active IMAP mailbox read once, the queued replies
sent through their transports: docs/channels.md); a failing sweep is logged and the others
still run. Several workers may run at once (see ``sweeps``). Between rounds the loop drains the
queue of messages acknowledged with ``Prefer: respond-async`` (``service.ingest``): it looks every
``ingest_poll`` seconds, and at once when the serving process queues a message (``desk.queued``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gracedesk.channels.delivery import Transports, deliver_replies
from gracedesk.channels.email import fetch_all
from gracedesk.channels.smtp import SmtpSettings
from gracedesk.channels.transports import transports_for
from gracedesk.jobs.notify import Notifier
from gracedesk.service import ingest, sweeps
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings

log = logging.getLogger("gracedesk.jobs")


def notifier_for(settings: Settings) -> Notifier:
    return Notifier(SmtpSettings.of(settings), settings.webhooks(), settings.webhook_secret)


def run_once(
    desk: Desk,
    notifier: Notifier,
    *,
    now: datetime,
    transports: Transports | None = None,
    mail_secret: str | None = None,
) -> dict[str, int]:
    """One round of every job; returns how many items each handled (-1: it failed).

    ``transports``: send the queued replies; ``mail_secret`` (the reply-token key): read every
    active IMAP mailbox once (``gracedesk mail fetch --idle`` stays connected instead)."""
    jobs: dict[str, Callable[[], int]] = {
        "reanalyse": lambda: sweeps.reanalyse_pending(desk, now=now),
        "follow_ups": lambda: sweeps.sweep_follow_ups(desk, now=now),
        "sla": lambda: sweeps.sweep_sla(desk, now=now),
        "notifications": lambda: sweeps.deliver_notifications(desk.store, notifier, now=now),
    }
    if mail_secret is not None:
        jobs["mail"] = lambda: fetch_all(desk, now=now, secret=mail_secret)
    if transports is not None:
        jobs["deliveries"] = lambda: deliver_replies(
            desk.store, transports, now=now, clock=lambda: datetime.now(UTC)
        )
    out = {}
    for name, job in jobs.items():
        try:
            out[name] = job()
        except Exception:  # one broken job must not stop the others; it is logged with its trace
            log.exception("job %s failed", name)
            out[name] = -1
    return out


def drain_queue(desk: Desk) -> int:
    """Analyse queued messages, batch after batch, until the queue is empty."""
    total = 0
    while True:
        try:
            n = ingest.analyse_queued(desk, now=datetime.now(UTC))
        except Exception:  # e.g. the database is away: the messages stay queued
            log.exception("job ingest failed")
            return total
        if n == 0:
            return total
        total += n


def run_forever(desk: Desk, settings: Settings, *, stop: threading.Event) -> None:
    transports = transports_for(settings, desk.store)
    secret = settings.session_key()
    with notifier_for(settings) as notifier:
        while not stop.is_set():
            done = run_once(
                desk, notifier, now=datetime.now(UTC), transports=transports, mail_secret=secret
            )
            if any(v for v in done.values()):
                log.info("jobs: %s", done)
            next_round = time.monotonic() + settings.jobs_interval
            while not stop.is_set() and time.monotonic() < next_round:
                drain_queue(desk)
                wait = min(settings.ingest_poll, max(0.0, next_round - time.monotonic()))
                if desk.queued.wait(wait):
                    desk.queued.clear()
