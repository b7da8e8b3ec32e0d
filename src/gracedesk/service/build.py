"""Build the Desk for some settings: the store (migrated), the policy and the models."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.policy import load_policy
from gracedesk.service.desk import Desk
from gracedesk.store import Store

if TYPE_CHECKING:
    from gracedesk.settings import Settings


def build_desk(settings: Settings, *, migrate: bool = True) -> Desk:
    """Store, policy and models for ``settings`` (migrations applied unless ``migrate`` is
    False: a process started by one that migrated)."""
    store = Store.open(settings.url())
    if migrate:
        store.migrate()
    return Desk(
        store,
        policy=load_policy(settings.policy_dir),
        analyzer=get_analyzer(settings.tier),
        supervisor_email=settings.supervisor_email,
        base_url=settings.base_url,
        follow_up_lead_minutes=settings.follow_up_lead_minutes,
        reply_webhook_url=settings.reply_webhook_url,
        measured_phrases=settings.measured_phrases,
    )


# allocations between two collections of the cyclic GC's youngest generation (Python's default:
# 700). A worker allocates rows, dicts and signals by the hundred thousand per batch, and each
# young collection also walked what survived the last ones: ~0.1 ms per message went to it.
GC_YOUNG = 20_000


def settle(desk: Desk) -> None:
    """Ready a long-running process (server, worker, drain) once its Desk is built: the models'
    lazily built parts load now, the hundreds of thousands of long-lived objects they hold are
    moved out of the cyclic GC's reach (``gc.freeze``: its full collections walked them all,
    ~85 ms each, a pause that showed up as p99 latency and cost the drain ~0.17 ms per
    message), and young collections run less often (:data:`GC_YOUNG`)."""
    desk.analyzer.analyze("warm up")
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)
