"""Asynchronous ingest: a message is acknowledged once it is stored, and analysed by the worker
in micro-batches.

A client that sends ``Prefer: respond-async`` (RFC 7240) gets ``202 Accepted`` as soon as the
message is committed (``analysis_state = 'queued'``), with a ``Location`` to poll. The worker
(:func:`analyse_queued`, called by ``gracedesk worker`` and the job thread of ``serve``) claims
queued messages, oldest first, only once the conversation's earlier messages are done (so the
second message of a conversation is decided with the first one's sanctions and escalations on
record, whichever worker takes it), reads each
one's context, runs the analyzer on the whole batch at once (several times faster per message
than one at a time), then decides, advises and records each message as the synchronous path
does. A message whose analysis fails is marked ``failed`` and retried by the re-analysis sweep;
nothing acknowledged is lost.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from gracedesk.service import effects, knowledge_index
from gracedesk.service.desk import retrying
from gracedesk.service.effects import Judged
from gracedesk.service.flow import analyse_situations
from gracedesk.store import situations
from gracedesk.store.protocol import store
from gracedesk.store.situations import Snapshot

if TYPE_CHECKING:
    from gracedesk.service.desk import Desk

log = logging.getLogger("gracedesk.ingest")

QUEUED = "queued"  # the analysis state of an acknowledged message (store.messages.QUEUED)
BATCH = 64  # messages per micro-batch


def claim(desk: Desk, *, now: datetime, limit: int = BATCH) -> list[tuple[int, int]]:
    """Claim up to ``limit`` queued messages (``store.messages.claim_queued``): at most one per
    conversation, the oldest first; ``(message id, conversation id)`` in arrival order."""
    with desk.store.write_core() as conn:
        return store.messages.claim_queued(conn, now=now, limit=limit)


def waiting(desk: Desk) -> bool:
    """Whether messages are still queued (one may wait for an older message of its
    conversation that another worker is analysing)."""
    with desk.store.read_core() as conn:
        return store.messages.queued_left(conn)


def analyse_queued(desk: Desk, *, now: datetime, limit: int = BATCH) -> int:
    """Analyse, decide, advise and record one micro-batch of queued messages; returns how many
    were analysed (0: the queue is empty)."""
    work = claim(desk, now=now, limit=limit)
    if not work:
        return 0
    with desk.store.read_core() as conn:
        snaps: list[Snapshot] = situations.take_many(conn, work, now=now)
    try:
        sigs = analyse_situations([snap.situation for snap in snaps], desk.analyzer)
    except Exception:  # one message broke the batch: analyse them one by one, as the API does
        log.exception("batch analysis of %d messages failed; one by one", len(work))
        done = 0
        for (mid, cid), snap in zip(work, snaps, strict=True):
            done += desk.understand(mid, cid, snap, now=now, request=None).analysis == "done"
        return done
    judged: list[Judged] = []
    with knowledge_index.pinned():  # the batch reads one state of the knowledge base
        for (mid, cid), snap, sig in zip(work, snaps, sigs, strict=True):
            try:
                outcome, guidance = desk.judge(mid, snap, now=now, signals=sig)
            except Exception as exc:  # this message only: it is kept and retried
                log.exception("decision on message %s failed", mid)
                _failed(desk, [mid], exc)
                continue
            judged.append(Judged(mid, cid, outcome, guidance))

    def record_all() -> None:  # one transaction for the batch: one commit, one write lock
        with desk.store.write_core() as conn:
            effects.record_many(desk, conn, judged, now=now)

    try:
        retrying(record_all)
    except Exception:  # one message's effects failed: record them one by one, as the API does
        log.exception("batch record failed; recording one by one")
        done = 0
        for (mid, cid), snap, sig in zip(work, snaps, sigs, strict=True):
            if any(j.message_id == mid for j in judged):
                posted = desk.understand(mid, cid, snap, now=now, request=None, signals=sig)
                done += posted.analysis == "done"
        return done
    return len(judged)


def _failed(desk: Desk, ids: list[int], exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with desk.store.write_core() as conn:
        store.messages.fail_running(conn, ids, error=error)
