"""The job loop: ``gracedesk worker`` (and a thread inside ``gracedesk serve``).

Each round runs every sweep once with the current time: re-analysis, follow-ups, SLA, the
notification outbox, and the channels (every active IMAP mailbox read once, the queued replies
sent through their transports: docs/channels.md); a failing sweep is logged and the others
still run. Several workers may run at once (see ``sweeps``). Between rounds the loop drains the
queue of messages acknowledged with ``Prefer: respond-async`` (``service.ingest``): it looks every
``ingest_poll`` seconds, and at once when the serving process queues a message (``desk.queued``).
``gracedesk worker --drain --processes N`` drains a backlog with N processes and exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from queue import Empty

from gracedesk import logs
from gracedesk.channels.delivery import Transports, deliver_replies
from gracedesk.channels.email import fetch_all
from gracedesk.channels.smtp import SmtpSettings
from gracedesk.channels.transports import transports_for
from gracedesk.jobs.notify import Notifier
from gracedesk.service import ingest, sweeps
from gracedesk.service.build import build_desk, settle
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


def drain_queue(desk: Desk, *, patience: float = 0.0) -> int:
    """Analyse queued messages, batch after batch, until none is left; returns how many.

    ``patience``: how long to wait, in seconds, for queued messages that are not claimable yet
    (each waits for an older message of its conversation that another worker is analysing)
    before giving up; 0 returns at once."""
    total, idle_since = 0, None
    while True:
        try:
            n = ingest.analyse_queued(desk, now=datetime.now(UTC))
            more = n > 0 or ingest.waiting(desk)
        except Exception:  # e.g. the database is away: the messages stay queued
            log.exception("job ingest failed")
            return total
        total += n
        if n:
            idle_since = None
            continue
        if not more:
            return total
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= patience:
            return total
        time.sleep(0.05)  # another worker's batch holds them up: look again shortly


def _drain_child(ready: Queue[int], go: Event, counts: Queue[int]) -> None:
    """One process of :func:`drain_in_processes`: its own Desk (models, connections)."""
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    desk = build_desk(settings, migrate=False)  # the parent migrated
    settle(desk)  # load the models before the clock starts
    ready.put(1)
    go.wait()
    counts.put(drain_queue(desk, patience=PATIENCE_S))


PATIENCE_S = 30.0  # a drain process waits this long for messages another one holds up


def drain_in_processes(processes: int) -> tuple[int, float]:
    """Drain the queue with ``processes`` worker processes (settings from the environment);
    returns (messages analysed, seconds from when every process had loaded its models).

    Claiming is safe across processes (``store.messages.claim_queued``): each message is taken
    once, and a conversation's messages one after the other. A process that dies stops the
    others (the messages it held stay ``running`` until the re-analysis sweep takes them)."""
    ctx = multiprocessing.get_context("spawn")
    ready: Queue[int] = ctx.Queue()
    counts: Queue[int] = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=_drain_child, args=(ready, go, counts)) for _ in range(processes)]
    for p in procs:
        p.start()
    try:
        _collect(ready, procs, "failed to start")
        go.set()
        t0 = time.perf_counter()
        total = sum(_collect(counts, procs, "failed"))
        took = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.exitcode is None and not go.is_set():
                p.kill()
            p.join()
    return total, took


def _collect(q: Queue[int], procs: Sequence[BaseProcess], what: str) -> list[int]:
    """One value from each process, polling so that a process that died is noticed at once."""
    got: list[int] = []
    while len(got) < len(procs):
        try:
            got.append(q.get(timeout=1.0))
        except Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or all(p.exitcode is not None for p in procs):
                for p in procs:
                    if p.exitcode is None:
                        p.kill()
                codes = ", ".join(str(p.exitcode) for p in procs)
                raise RuntimeError(f"a drain process {what} (exit codes: {codes})") from None
    return got


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
